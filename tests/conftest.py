"""Test-wide setup: an isolated DRIFTLOOP_HOME and AIRFLOW_HOME, set before Airflow is imported."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="driftloop-tests-"))

# Airflow reads its configuration at import time: everything below must precede any airflow import.
os.environ["DRIFTLOOP_HOME"] = str(_SESSION_HOME / "home")
os.environ["AIRFLOW_HOME"] = str(_SESSION_HOME / "airflow")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (
    f"sqlite:///{_SESSION_HOME / 'airflow' / 'airflow.db'}"
)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
# One pipeline (churn) unless a test says otherwise: DRIFTLOOP_CONFIGS (a folder) would load every
# config of configs/, whose storage roots the DRIFTLOOP__STORAGE__ROOT of cfg_factory would merge.
os.environ.pop("DRIFTLOOP_CONFIGS", None)
os.environ["DRIFTLOOP_CONFIG"] = str(REPO / "configs" / "churn.yaml")
for _k in [k for k in os.environ if k.startswith("DRIFTLOOP__")]:
    del os.environ[_k]
(_SESSION_HOME / "airflow").mkdir(parents=True, exist_ok=True)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tcp(host: str, port: int, what: str) -> None:
    """Skip (locally) or fail (under CI=true) when a service the test needs is not reachable."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as err:
        msg = f"{what} not reachable at {host}:{port} ({err}); start it or set the env override"
        if IN_CI:
            pytest.fail(f"CI=true: a service tier may not be skipped: {msg}")
        pytest.skip(msg)


@pytest.fixture(scope="session")
def session_home() -> Path:
    return _SESSION_HOME


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Create the Airflow metadata DB once per session (SQLite in the session temp dir)."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def cfg_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Build the demo config with storage (and MLflow) isolated under this test's tmp_path.

    The same overrides are exported as DRIFTLOOP__* env vars so DAG tasks run by dag.test() see them.
    """
    from driftloop.core.config import load_config

    def make(**overrides: str):
        env = {
            "DRIFTLOOP__STORAGE__ROOT": str(tmp_path / "data"),
            "DRIFTLOOP__MLFLOW__TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "DRIFTLOOP__VALIDATION__DATA_DOCS_DIR": str(tmp_path / "data_docs"),
            **{f"DRIFTLOOP__{k.upper()}": v for k, v in overrides.items()},
        }
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        return load_config()

    return make


@pytest.fixture
def cfg(cfg_factory):
    return cfg_factory()


@pytest.fixture
def store(cfg):
    from driftloop.core.storage import open_store

    return open_store(cfg.storage)
