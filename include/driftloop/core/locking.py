"""A lock that holds across processes, hosts and DAGs: one champion decision at a time.

Gate and alias moves read the champion, decide, and move aliases; two of them interleaved (two
trainings, a training beside a manual promote or rollback) let two challengers be gated against the
same champion and drop the old champion out of the rollback chain. Airflow's ``max_active_runs``
does not cover the CLI or other DAGs, so the lock lives where every writer of the registry can see
it:

* a PostgreSQL tracking store (or ``mlflow.lock_uri`` = ``postgresql://...``): a session-level
  advisory lock (``pg_try_advisory_lock``) in that database; released when the holder's connection
  ends, so a killed process never leaves it held;
* a SQLite tracking store: ``flock`` on a lock file beside the database file (the same host by
  construction); the kernel releases it when the holder dies;
* otherwise (an MLflow server over HTTP without ``lock_uri``): ``flock`` on a file in
  ``$DRIFTLOOP_HOME/locks``; this only serializes the processes that share that folder, which is
  why a deployment with a tracking server sets ``mlflow.lock_uri`` to its Postgres database.

Waiting is bounded: after ``timeout`` seconds :class:`LockTimeout` says who to look for.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from driftloop.core.errors import Unavailable

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600.0
_POLL = 0.05


class LockTimeout(Unavailable, TimeoutError):
    """The lock stayed taken for longer than the timeout."""


def lock_target(cfg: PipelineConfig) -> str:
    """Where the pipeline's champion lock lives: a postgresql URL or a lock-file path."""
    from driftloop.core.config import driftloop_home

    uri = cfg.mlflow.lock_uri or cfg.tracking_uri()
    name = f"{cfg.model_name}.champion.lock"
    if uri.startswith(("postgresql://", "postgresql+")):
        return uri
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return str(db.with_name(f"{db.name}.{name}"))
    if cfg.mlflow.lock_uri:  # a folder
        return str(Path(cfg.mlflow.lock_uri.removeprefix("file://")) / name)
    return str(driftloop_home() / "locks" / name)


@contextlib.contextmanager
def champion_lock(cfg: PipelineConfig, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the pipeline's champion lock for the body (not re-entrant).

    Raises:
        LockTimeout: another decision held it for more than ``timeout`` seconds.
    """
    target = lock_target(cfg)
    what = f"the champion lock of {cfg.model_name} ({_redact(target)})"
    if target.startswith("postgresql"):
        cm = _advisory_lock(target, f"driftloop:champion:{cfg.model_name}", timeout, what)
    else:
        cm = file_lock(Path(target), timeout, what)
    with cm:
        yield


@contextlib.contextmanager
def file_lock(path: Path, timeout: float, what: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if needed); ``what`` names it in a timeout."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _wait(lambda: _try_flock(fd), timeout, what)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def engine_url(url: str) -> str:
    """``url`` with an explicit driver: SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3,
    which is not installed; psycopg2 is (the driver deploy/airflow.cfg names too)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


@contextlib.contextmanager
def _advisory_lock(url: str, name: str, timeout: float, what: str) -> Iterator[None]:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    # A signed 64-bit key derived from the name: the same for every process, stable across versions.
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    engine = sa.create_engine(engine_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")

            def attempt() -> bool:
                return bool(
                    conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
                )

            _wait(attempt, timeout, what)
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


def _wait(attempt: Callable[[], bool], timeout: float, what: str) -> None:
    start = time.monotonic()
    logged = False
    while not attempt():
        waited = time.monotonic() - start
        if waited >= timeout:
            raise LockTimeout(
                f"{what} is still held after {timeout:.0f}s: another train/promote/rollback is "
                "deciding; retry when it has finished"
            )
        if not logged and waited > 1:
            log.info("waiting for %s: another champion decision is in progress", what)
            logged = True
        time.sleep(_POLL)


def _redact(target: str) -> str:
    """The lock target without a password (postgresql://user:secret@host/db)."""
    if "://" in target and "@" in target:
        scheme, rest = target.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return target
