"""MLflow failing under a training or a command: bounded waits, no half-registered version promoted."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from driftloop import errors, registry, train
from driftloop.storage import open_store
from tests.integration.helpers import START, write_days

pytestmark = pytest.mark.unit

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

    client = train.mlflow_client(cfg)
    (mv,) = client.search_model_versions(f"name='{cfg.model_name}'")
    assert "ConnectionError: MLflow stopped answering" in mv.tags[train.TAG_ORPHAN]
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
        [sys.executable, "-m", "driftloop.cli", "rollback", "--reason", "test"],
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
