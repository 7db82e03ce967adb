"""A real ``airflow standalone`` (api-server, scheduler, dag-processor, triggerer) for live tests.

Isolated: its own AIRFLOW_HOME and SQLite DB in a temp folder, this repo's dags/ and plugins/, and
driftloop state under the same folder. A thin layer over ``driftloop.local.stack`` (the code behind
``make airflow``): the same environment, and the same process handling (its own session, stopped
with SIGTERM to its group, nothing of it left afterwards). Only Airflow runs, no MLflow server: the
tasks use the MLflow store directly. Logs are kept in ``<home>/standalone.log`` and printed by
``dump_logs`` when a test fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests

from driftloop.local.stack import (
    AirflowClient,
    Service,
    admin_password,
    airflow_health,
    free_port,
    log_tail,
    stack_env,
    wait_until,
)

__all__ = ["AirflowServer", "free_port", "seed_days"]

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]


class AirflowServer:
    """Start with ``start()``, talk to it with ``api()``, stop with ``stop()`` (or use ``with``)."""

    def __init__(self, home: Path, extra_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "standalone.log"
        # The same environment `make airflow` uses, on this test's home and port.
        self.env = stack_env(
            home,
            port=self.port,
            mlflow_port=None,  # Airflow alone: tasks use the MLflow store directly
            inherit=False,
            extra_env={
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                # A task started before the api-server listens (standalone starts both at once;
                # seen under load 20+) retries the execution API: 5 tries in ~8 s were not enough.
                "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "10",
                # One pipeline (churn): the storage override below would apply to every config.
                "DRIFTLOOP_CONFIG": str(REPO / "configs" / "churn.yaml"),
                "DRIFTLOOP__STORAGE__ROOT": str(home / "data"),
                "DRIFTLOOP__VALIDATION__DATA_DOCS_DIR": str(home / "data_docs"),
                # Bytecode cached across tests (a fresh home per test would recompile every import).
                "PYTHONPYCACHEPREFIX": os.environ.get("PYTHONPYCACHEPREFIX")
                or str(Path.home() / ".cache" / "driftloop-pycache"),
                **(extra_env or {}),
            },
        )
        airflow = Path(sys.executable).parent / "airflow"
        self._service = Service("airflow", [str(airflow), "standalone"], self.env, self.log_path)
        self._client = AirflowClient(self.base_url, self.password)

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self._service.proc

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 120.0) -> AirflowServer:
        (self.home / "airflow").mkdir(parents=True, exist_ok=True)
        self._service.start(port=self.port, url=self.base_url)
        self.wait_for(self._healthy, ready_timeout, "api-server health")
        return self

    def stop(self, timeout: float = 60.0) -> None:
        self._service.stop(timeout)

    def __enter__(self) -> AirflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """A task's log file (JSON lines) as Airflow wrote it for its first attempt."""
        folder = self.home / "airflow" / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        path = folder / f"task_id={task_id}" / "attempt=1.log"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def noisy_task_logs(self) -> dict[str, str]:
        """Task logs of this server holding library warnings or raw stderr output: {path: lines}."""
        noisy = {}
        for path in sorted((self.home / "airflow" / "logs").rglob("attempt=*.log")):
            lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            bad = [e for e in lines if e.get("logger") in ("py.warnings", "task.stderr")]
            if bad:
                noisy[str(path.relative_to(self.home))] = log_text(bad)
        return noisy

    def dump_logs(self, tail: int = 200) -> str:
        return log_tail(self.log_path, tail)

    # -- waiting -----------------------------------------------------------------------------------
    def wait_for(self, probe: Callable[[], T], timeout: float, what: str, every: float = 1.0) -> T:
        """Poll ``probe`` until it returns something truthy; fail with the server log on timeout."""

        def still_running() -> None:
            code = self._service.exited()
            if code is not None:
                raise RuntimeError(
                    f"airflow standalone exited ({code}) while waiting for {what}:\n{self.dump_logs()}"
                )

        return wait_until(probe, timeout, what, every, still_running)

    def _healthy(self) -> bool:
        return airflow_health(self.base_url) is not None

    # -- REST --------------------------------------------------------------------------------------
    def password(self) -> str:
        return admin_password(self.home)

    def token(self) -> str:
        return self._client.token()

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v2/<path>`` as admin; raises on HTTP errors, returns the JSON body."""
        return self._client.api(method, path, **kwargs)

    def unpause(self, dag_id: str) -> None:
        self.wait_for(lambda: self._dag_known(dag_id), 90, f"DAG {dag_id} to be parsed")
        self.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def _dag_known(self, dag_id: str) -> bool:
        try:
            self.api("GET", f"dags/{dag_id}")
        except requests.HTTPError:
            return False
        return True


def seed_days(cfg: Any, start: date = date(2026, 3, 1), days: int = 8, rows: int = 300) -> date:
    """Ingest ``days`` days of demo data the way the ingest DAG does; returns the newest labelled
    day. The defaults give 5 labelled days (labels arrive 3 days late; training needs 4) and 1,500
    labelled rows (training.min_train_rows: 1,000)."""
    from driftloop.core.storage import open_store
    from driftloop.data import synth
    from driftloop.data.ingest import ingest_partition

    store = open_store(cfg.storage)
    for i in range(days):
        day = start + timedelta(days=i)
        synth.write_day(store, cfg, day, synth.Scenario(), seed=3, rows=rows, first_day=start)
        assert ingest_partition(cfg, day, store).status == "validated"
    return start + timedelta(days=days - 1 - cfg.dataset.label_delay_days)


def log_text(lines: list[dict[str, Any]]) -> str:
    """A task log as the UI shows it, one line per event (a failure: its exception, not the frames)."""
    out = []
    for e in lines:
        out.append(f"{e.get('level', '?'):>7} {e.get('logger', '')}: {e.get('event')}")
        out += [f"        {d['exc_type']}: {d['exc_value']}" for d in e.get("error_detail") or []]
    return "\n".join(out)
