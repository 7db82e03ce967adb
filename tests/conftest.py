"""Test-wide setup: an isolated DRIFTLOOP_HOME and AIRFLOW_HOME, set before Airflow is imported."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support import REPO

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

_EXIT_STATUS: dict[str, int] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Put pytest's temp folders under this run's session folder unless --basetemp names one.

    pytest's default (numbered folders under /tmp/pytest-of-<user>, the oldest pruned by whichever
    run starts next) is shared by every run of the user: two runs side by side (tiers of one
    ``make test``, or two checkouts) would prune or number into each other's folders. tryfirst: the
    tmp_path factory reads the option in its own pytest_configure.
    """
    if config.option.basetemp is None:
        config.option.basetemp = str(_SESSION_HOME / "tmp")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this run's session folder after a green run; keep it (and say where) otherwise."""
    if _EXIT_STATUS.get("session") in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        shutil.rmtree(_SESSION_HOME, ignore_errors=True)
    elif _SESSION_HOME.exists():
        print(f"\ntest state kept in {_SESSION_HOME}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS["session"] = exitstatus


# The tiers, each a folder of tests/ and a marker of the same name (pyproject's list of markers).
TIERS = (
    "dags",
    "unit",
    "integration",
    "e2e",
    "reliability",
    "service",
    "live",
    "browser",
    "compose",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its tier, the folder it lives in (before ``-m`` selects on the marks)."""
    root = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(root).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: a test lives in a tier folder ({TIERS})")
        item.add_marker(tier)


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
