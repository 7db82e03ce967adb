"""The champion lock on the real PostgreSQL: an advisory lock two processes cannot hold at once."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from driftloop.core import locking
from tests.support.services import pg_query

ADVISORY = (
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
)


def _hold(ready: Path, seconds: float, environ: dict[str, str]) -> None:
    """In another process: take the lock, say so, hold it, say when it is let go.

    The environment comes as an argument: importing this module in the child runs the test
    conftest, which clears DRIFTLOOP__* variables.
    """
    from driftloop.core.config import load_config

    with locking.champion_lock(load_config(environ=environ), timeout=30):
        ready.touch()
        time.sleep(seconds)
        ready.with_name(f"{ready.name}.released").touch()


def _start_holder(ready: Path, seconds: float) -> multiprocessing.Process:
    environ = {k: v for k, v in os.environ.items() if k.startswith("DRIFTLOOP")}
    holder = multiprocessing.get_context("spawn").Process(
        target=_hold, args=(ready, seconds, environ)
    )
    holder.start()
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        assert holder.is_alive(), "the holder died before taking the lock"
        time.sleep(0.05)
    assert ready.exists()
    return holder


def test_two_processes_cannot_hold_the_advisory_lock_at_once(
    postgres_db: str, cfg_factory, tmp_path: Path
) -> None:
    cfg = cfg_factory(mlflow__lock_uri=postgres_db)
    assert locking.lock_target(cfg) == postgres_db
    assert pg_query(postgres_db, ADVISORY) == [(0,)]
    ready = tmp_path / "ready"
    holder = _start_holder(ready, 3.0)
    try:
        assert pg_query(postgres_db, ADVISORY) == [(1,)]  # held in the database, by the holder
        with (
            pytest.raises(locking.LockTimeout, match="still held after 0s"),
            locking.champion_lock(cfg, timeout=0.3),
        ):
            pytest.fail("the lock was taken while another process held it")
        # Another pipeline's model has its own key: not blocked by this one.
        other = cfg_factory(mlflow__lock_uri=postgres_db, mlflow__registered_model="other-model")
        with locking.champion_lock(other, timeout=0.3):
            assert pg_query(postgres_db, ADVISORY) == [(2,)]

        with locking.champion_lock(cfg, timeout=30):  # waits for the holder, then gets it
            assert (tmp_path / "ready.released").exists()
            assert pg_query(postgres_db, ADVISORY) == [(1,)]
    finally:
        holder.join(30)
    assert holder.exitcode == 0
    assert pg_query(postgres_db, ADVISORY) == [(0,)]  # released, not left behind


def test_a_killed_holder_does_not_leave_the_lock_held(
    postgres_db: str, cfg_factory, tmp_path: Path
) -> None:
    cfg = cfg_factory(mlflow__lock_uri=postgres_db)
    holder = _start_holder(tmp_path / "ready", 600.0)
    try:
        with pytest.raises(locking.LockTimeout), locking.champion_lock(cfg, timeout=0.3):
            pytest.fail("the lock was taken while another process held it")
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGKILL)  # no finally, no unlock: only the session's end
        holder.join(30)
        start = time.monotonic()
        with locking.champion_lock(cfg, timeout=30):
            waited = time.monotonic() - start
        assert waited < 10, f"the server freed the lock only after {waited:.1f}s"
    finally:
        if holder.is_alive():
            holder.kill()
            holder.join(30)
    assert pg_query(postgres_db, ADVISORY) == [(0,)]
