"""The library's base exception and the exit codes of the ``driftloop`` command.

Every error the library raises on purpose derives from :class:`DriftloopError` and carries the exit
code the CLI reports for it, so a wrapper (a shell script, a Kubernetes pod's retry policy) can tell
bad data from a failure worth retrying. Errors of the services underneath (MLflow, S3, a database,
the disk) are recognised by :func:`exit_code_for` as "unavailable"; anything else is a bug.

The same table decides what Airflow retries (:func:`is_retried`, used by the task wrapper of
``driftloop.airflow.body``): an outage is retried, every other kind fails the task at once.
The documentation's exit-code reference is generated from ``EXIT_CODES`` (docs/gen_reference.py).
"""

from __future__ import annotations

import argparse
import errno

EXIT_OK = 0
EXIT_QUARANTINED = (
    1  # the input was rejected and kept in quarantine/ (or a check found a difference)
)
EXIT_USAGE = 2  # bad arguments, an invalid config or run parameter: fix the call
EXIT_NOTHING_TO_DO = 3  # nothing landed yet, no champion yet, a partition missing: retry later
EXIT_INSUFFICIENT_DATA = 4  # too few labelled rows/days to train: wait for more data
EXIT_UNAVAILABLE = 5  # MLflow, the object store, a database or the disk failed: retry
EXIT_REFUSED = 6  # refused by a safety rule: untrusted model, stale gate, nothing to roll back
EXIT_INTERNAL = 70  # an unexpected error (a bug): rerun with --verbose for the traceback
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # stopped by SIGTERM (128 + 15), like an interrupt

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "ok",
    EXIT_QUARANTINED: "quarantined (or a check found a difference)",
    EXIT_USAGE: "usage, config or parameter error",
    EXIT_NOTHING_TO_DO: "nothing to do yet (nothing landed, no champion, partition missing)",
    EXIT_INSUFFICIENT_DATA: "insufficient data",
    EXIT_UNAVAILABLE: "infrastructure unavailable (MLflow, storage, database, disk)",
    EXIT_REFUSED: "refused (untrusted model, stale gate decision, registry rule)",
    EXIT_INTERNAL: "internal error",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_TERMINATED: "terminated (SIGTERM)",
}
# The kinds worth retrying as they are: only an outage. A task failing with any other kind of
# DriftloopError fails at once in Airflow (a config, data or policy problem needs a person).
RETRIED = frozenset({EXIT_UNAVAILABLE})

# errno values that mean "the machine or a service failed", not "the request was wrong".
_UNAVAILABLE_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EIO,
        errno.EROFS,
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
    }
)
# Exception class names of client libraries that mean the service did not answer (matched by name
# so this module imports none of them).
_UNAVAILABLE_NAMES = frozenset(
    {
        "EndpointConnectionError",  # botocore
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "OperationalError",  # sqlalchemy / psycopg2 / sqlite3: database down or locked
        "MaxRetryError",  # urllib3
    }
)


class DriftloopError(Exception):
    """Base of the library's deliberate errors; ``exit_code`` is what the CLI exits with."""

    exit_code: int = EXIT_REFUSED


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM): unwinds like Ctrl-C, exits 143."""


class Unavailable(DriftloopError):
    """A service or resource the step needs is unavailable; retrying later may succeed."""

    exit_code = EXIT_UNAVAILABLE


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is an infrastructure failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Unavailable | ConnectionError | TimeoutError):
            return True
        if isinstance(current, OSError) and current.errno in _UNAVAILABLE_ERRNOS:
            return True
        if any(cls.__name__ in _UNAVAILABLE_NAMES for cls in type(current).__mro__):
            return True
        if type(current).__name__ == "ConnectionError":  # requests, botocore
            return True
        # MLflow wraps a failed HTTP call into a plain MlflowException with this message.
        text = str(current)
        if type(current).__name__ == "MlflowException" and "API request to" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


def is_retried(exc: BaseException) -> bool:
    """Whether a failed step should be retried as it is: an outage, or an error that is not the
    library's own (a bug or an unforeseen failure keeps the caller's default)."""
    if not isinstance(exc, DriftloopError):
        return True
    return exit_code_for(exc) in RETRIED


def exit_code_for(exc: BaseException) -> int:
    """The CLI exit code of an exception (see the module docstring)."""
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    # First: a library error raised *from* an outage (e.g. "no such version" because MLflow did not
    # answer) is an outage.
    if is_unavailable(exc):
        return EXIT_UNAVAILABLE
    if isinstance(exc, DriftloopError):
        return exc.exit_code
    if isinstance(exc, argparse.ArgumentError | argparse.ArgumentTypeError):
        return EXIT_USAGE
    return EXIT_INTERNAL


def one_line(exc: BaseException) -> str:
    """The first non-empty line of the exception's message (tracebacks stay for --verbose).

    A first line ending in ':' introduces a list (e.g. the problems of an invalid config): its
    items follow on the same line, separated by '; ', so the one line still says what is wrong.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {'; '.join(lines[1:])}"
    return lines[0]
