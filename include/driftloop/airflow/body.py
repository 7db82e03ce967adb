"""The one wrapper around every task body: readable logs, and the error model mapped to Airflow.

The library's errors carry their kind (:mod:`driftloop.core.errors`); the same table decides what
the CLI exits with and what Airflow retries:

- an outage (:class:`~driftloop.core.errors.Unavailable`, or an error raised from one: MLflow, the
  object store, a database, a full disk) is raised as it is, so the task's ``retries`` apply;
- every other :class:`~driftloop.core.errors.DriftloopError` (a config error, quarantined data,
  too few labels, a refusal) fails the task at once: ``AirflowFailException``, no retry, its one
  line in the log and no library traceback (``--verbose`` of the CLI, or DEBUG here, shows it);
- anything else (a bug) is raised as it is.

A task that failed at once also pushes its error (``exit_code``, ``message``) as the XCom
``driftloop_error``, so a driver of the DAGs (``driftloop replay``) can say why a run failed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from driftloop.core.errors import DriftloopError, exit_code_for, is_retried, one_line

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["ERROR_XCOM_KEY", "fail_fast", "task_body"]

# Any (and the other names of the bodies' return annotations) must resolve here: TaskFlow infers
# ``multiple_outputs`` by evaluating the wrapped function's return annotation in *this* module.
_ANNOTATION_NAMES = (Any,)

ERROR_XCOM_KEY = "driftloop_error"

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)


def fail_fast(err: DriftloopError, context: Context | None = None) -> BaseException:
    """What a task raises for ``err``: ``err`` itself if Airflow should retry it (an outage), else
    an ``AirflowFailException`` with its one line (logged once, pushed as ``driftloop_error``)."""
    from airflow.sdk.exceptions import AirflowFailException

    if is_retried(err):
        return err
    code, line = exit_code_for(err), one_line(err)
    log.error("%s (exit %d, not retried)", line, code)
    log.debug("the error's traceback", exc_info=err)
    ti = (context or {}).get("ti")
    if ti is not None:
        ti.xcom_push(key=ERROR_XCOM_KEY, value={"exit_code": code, "message": line})
    failed = AirflowFailException(line)
    # What the failure callbacks tell by (a quarantined day alerts on its own, not as a failure).
    failed.error_kind = type(err).__name__  # type: ignore[attr-defined]
    failed.exit_code = code  # type: ignore[attr-defined]
    return failed


def task_body(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a task body: quiet the libraries' logs first, then map its errors (module docstring).

    The signature is kept (``functools.wraps``), so TaskFlow still sees the body's arguments, its
    ``**context`` and its return type.
    """

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from driftloop.core.logs import quiet_libraries

        quiet_libraries()
        try:
            return fn(*args, **kwargs)
        except DriftloopError as err:
            failure = fail_fast(err, kwargs if "ti" in kwargs else None)  # type: ignore[arg-type]
            if failure is err:
                raise
            raise failure from None

    return run
