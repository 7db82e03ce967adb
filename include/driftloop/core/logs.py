"""Readable task logs: the project's own INFO lines, without the noise of the libraries it calls.

Call :func:`quiet_libraries` at the start of a task body (before MLflow, GX or scikit-learn are
used). It is cheap, idempotent and needs no Airflow, so it works the same in a supervised Airflow
task process, in ``dag.test()``, in the CLI and in a Kubernetes pod. It is called explicitly rather
than from a listener or plugin: a task body is the one place that surely runs in the task's own
process, and a reader of the DAG file sees it.

What it does, and why (each item was seen in a real ``train`` task log, 1,166 lines before):

* **MLflow's log lines keep their level.** MLflow gives its ``mlflow`` logger its own handler on
  stderr, and Airflow records a task's stderr as ERROR, so ordinary INFO lines looked like failures.
  With ``MLFLOW_CONFIGURE_LOGGING=false`` (and the handler removed if MLflow was imported already)
  the ``mlflow`` logger propagates to the task's log with its real level. MLflow also *prints* some
  progress (model registration) to stderr: :func:`stderr_to_log` turns that into INFO lines; its
  artifact download progress bar (stderr again, redrawn in place) is switched off.
* **Known library warnings are filtered**, each by category, emitting module and message, never
  globally (see :data:`LIBRARY_WARNINGS`): a new warning, or one from the project's code, still
  shows.
* The migration loggers MLflow would have quieted itself (``alembic``, ``huey``) stay at WARNING.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator
from typing import TextIO

# (message regex, category, emitting-module regex) of warnings that are about a library's internals,
# that the project cannot act on, and that repeat on every call.
LIBRARY_WARNINGS: list[tuple[str, type[Warning], str]] = [
    # skops (the model format) looks up where each type of a model lives by getattr on every loaded
    # module; on Airflow's deprecated-module shims that raises airflow's DeprecatedImportWarning (a
    # FutureWarning): five lines per name, about 1,160 per saved model.
    (r"The `airflow\.", FutureWarning, r"skops\.io\._utils"),
    # MLflow's SQLAlchemy store uses a loader option SQLAlchemy 2 deprecates (at import).
    (r".*noload", DeprecationWarning, r"mlflow\.store\."),
    # MLflow converts the model's input example with a pandas operation pandas 3 deprecates.
    (r"Operation with range is deprecated", Warning, r"mlflow\.models\.utils"),
]

# (logger, message regex) of log lines that are noise in this project's setting.
LIBRARY_LOG_LINES: list[tuple[str, str]] = [
    # uv-built environments have no pip; the model's requirements are given explicitly anyway.
    ("mlflow.utils.environment", r"Failed to resolve installed pip version"),
]

_QUIET_LOGGERS = {"alembic": logging.WARNING, "huey": logging.WARNING}


class _DropMatching(logging.Filter):
    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.source, self.pattern = pattern, re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.search(record.getMessage())


def quiet_libraries() -> None:
    """Route MLflow's log lines through the normal logging tree and filter known library noise."""
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    _unhook_mlflow_handler()
    for name, level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    # Installed on every call (an identical filter replaces the old one), so a caller's
    # warnings.catch_warnings() block cannot leave them uninstalled.
    for message, category, module in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    for name, message in LIBRARY_LOG_LINES:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMatching) and f.source == message for f in logger.filters):
            logger.addFilter(_DropMatching(message))


def _unhook_mlflow_handler() -> None:
    """Undo MLflow's own logging setup when it was imported before :func:`quiet_libraries`."""
    logger = logging.getLogger("mlflow")
    own = [
        h
        for h in logger.handlers
        if type(getattr(h, "stream", None)).__name__ == "MlflowLoggingStream"
    ]
    for handler in own:
        logger.removeHandler(handler)
    if own:
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


class _LineLogger(io.TextIOBase):
    """A text stream that logs each complete line it is given."""

    def __init__(self, logger: logging.Logger, level: int, fallback: TextIO) -> None:
        self.logger, self.level, self.fallback = logger, level, fallback
        self._buffer, self._busy = "", False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._busy:  # a log handler that writes to sys.stderr: no loop, straight through
            return self.fallback.write(text)
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        self._emit(lines)
        return len(text)

    def flush(self) -> None:
        self._emit([self._buffer])
        self._buffer = ""

    def _emit(self, lines: list[str]) -> None:
        self._busy = True
        try:
            for line in lines:
                if line.strip():
                    self.logger.log(self.level, line.rstrip())
        finally:
            self._busy = False


@contextlib.contextmanager
def stderr_to_log(logger: str, level: int = logging.INFO) -> Iterator[None]:
    """Within the block, what Python code writes to ``sys.stderr`` becomes log lines of ``logger``.

    For libraries that print progress to stderr (MLflow's model registration): Airflow would record
    those lines as ERROR.
    """
    stream = _LineLogger(logging.getLogger(logger), level, sys.stderr)
    with contextlib.redirect_stderr(stream):
        try:
            yield
        finally:
            stream.flush()
