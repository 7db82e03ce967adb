"""A real ``airflow standalone`` (api-server, scheduler, dag-processor, triggerer) for live tests.

Isolated: its own AIRFLOW_HOME and SQLite DB in a temp folder, this repo's dags/ and plugins/, and
driftloop state under the same folder. It runs in its own process group and is stopped with
SIGTERM to the group (standalone ignores SIGINT). Logs are kept in ``<home>/standalone.log`` and
printed by ``dump_logs`` when a test fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests

from driftloop.localenv import airflow_env

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AirflowServer:
    """Start with ``start()``, talk to it with ``api()``, stop with ``stop()`` (or use ``with``)."""

    def __init__(self, home: Path, extra_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "standalone.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._token: str | None = None
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DRIFTLOOP"))},
            # The same environment `make airflow` uses, on this test's home and port.
            **airflow_env(home, port=self.port),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "DRIFTLOOP__STORAGE__ROOT": str(home / "data"),
            "DRIFTLOOP__VALIDATION__DATA_DOCS_DIR": str(home / "data_docs"),
            # Bytecode cached across tests (a fresh home per test would recompile every import).
            "PYTHONPYCACHEPREFIX": os.environ.get("PYTHONPYCACHEPREFIX")
            or str(Path.home() / ".cache" / "driftloop-pycache"),
            **(extra_env or {}),
        }
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 120.0) -> AirflowServer:
        (self.home / "airflow").mkdir(parents=True, exist_ok=True)
        airflow = Path(sys.executable).parent / "airflow"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(airflow), "standalone"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, stopped as a whole
            )
        self.wait_for(self._healthy, ready_timeout, "api-server health")
        return self

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> AirflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def dump_logs(self, tail: int = 200) -> str:
        lines = (
            self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        )
        return "\n".join(lines[-tail:])

    # -- waiting -----------------------------------------------------------------------------------
    def wait_for(self, probe: Callable[[], T], timeout: float, what: str, every: float = 1.0) -> T:
        """Poll ``probe`` until it returns something truthy; fail with the server log on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"airflow standalone exited ({self.proc.returncode}) while waiting for {what}:\n{self.dump_logs()}"
                )
            value = probe()
            if value:
                return value
            time.sleep(every)
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")

    def _healthy(self) -> bool:
        try:
            r = requests.get(f"{self.base_url}/api/v2/monitor/health", timeout=2)
        except requests.ConnectionError:
            return False
        return r.status_code == 200

    # -- REST --------------------------------------------------------------------------------------
    def password(self) -> str:
        path = self.home / "airflow" / "simple_auth_manager_passwords.json.generated"
        return json.loads(path.read_text())["admin"]

    def token(self) -> str:
        if self._token is None:
            r = requests.post(
                f"{self.base_url}/auth/token",
                json={"username": "admin", "password": self.password()},
                timeout=10,
            )
            r.raise_for_status()
            self._token = r.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v2/<path>`` as admin; raises on HTTP errors, returns the JSON body."""
        r = requests.request(
            method,
            f"{self.base_url}/api/v2/{path.lstrip('/')}",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=15,
            **kwargs,
        )
        r.raise_for_status()
        return r.json() if r.content else None

    def unpause(self, dag_id: str) -> None:
        self.wait_for(lambda: self._dag_known(dag_id), 90, f"DAG {dag_id} to be parsed")
        self.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def _dag_known(self, dag_id: str) -> bool:
        try:
            self.api("GET", f"dags/{dag_id}")
        except requests.HTTPError:
            return False
        return True
