"""MLflow failing under a training or a command: bounded waits, no half-registered version promoted."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from driftloop.core import errors
from driftloop.core.storage import open_store
from driftloop.model import registry, train
from driftloop.tracking.mlflow import TAG_ORPHAN, mlflow_client
from tests.support.data import START, write_days

FAST = {
    "TRAINING__ALGORITHM": "logistic_regression",
    "TRAINING__HYPERPARAMETERS": "{}",
    "TRAINING__MIN_TRAIN_ROWS": "300",
}


def test_a_failure_after_registration_leaves_an_orphan_that_cannot_be_promoted(
    cfg_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = cfg_factory(**FAST)
    write_days(open_store(cfg.storage), cfg, 8, rows=150)

    def server_went_away(*args, **kwargs):
        raise ConnectionError("MLflow stopped answering")

    monkeypatch.setattr(registry, "set_challenger", server_went_away)
    with pytest.raises(ConnectionError, match="stopped answering"):
        train.train_model(cfg, START + timedelta(days=7))

    client = mlflow_client(cfg)
    (mv,) = client.search_model_versions(f"name='{cfg.model_name}'")
    assert "ConnectionError: MLflow stopped answering" in mv.tags[TAG_ORPHAN]
    assert client.get_run(mv.run_id).info.status == "FAILED"
    assert registry.aliases(cfg) == {}
    with pytest.raises(registry.RegistryError, match="orphan"):
        registry.promote(cfg, str(mv.version), "try anyway", "test")
    assert registry.aliases(cfg) == {}


def test_an_unreachable_mlflow_server_fails_within_seconds_not_minutes(cfg) -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_HTTP_REQUEST")}
    env["DRIFTLOOP__MLFLOW__TRACKING_URI"] = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "driftloop.cli.main", "rollback", "--reason", "test"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == errors.EXIT_UNAVAILABLE, proc.stderr
    assert "Traceback" not in proc.stderr and "unavailable:" in proc.stderr
    # 3 retries with backoff 1 s (1 + 2 + 4 s); MLflow's own defaults took over 4 minutes.
    assert elapsed < 45, elapsed


def _first_use(barrier, q) -> None:
    from driftloop.core.config import load_config

    barrier.wait()
    try:
        client = mlflow_client(load_config())
        client.search_registered_models(max_results=1)
        q.put("ok")
    except Exception as err:  # reported to the test
        q.put(f"{type(err).__name__}: {err}"[:300])


def test_first_use_of_a_fresh_sqlite_store_by_several_processes_at_once(cfg) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    n = 4
    barrier, q = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_first_use, args=(barrier, q)) for _ in range(n)]
    for p in procs:
        p.start()
    outcomes = [q.get(timeout=120) for _ in range(n)]
    for p in procs:
        p.join(30)
    # Without the schema lock, 3 of 4 failed here ("table ... already exists", alembic mismatch).
    assert outcomes == ["ok"] * n, outcomes
