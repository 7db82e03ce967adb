"""docker-compose.yaml started for real: the repository's compose file, a test ``.env``, the
images of ``tests/compose/engine.py``, Debian's ``docker-compose`` client.

The only additions to the compose file are a test override (written per run, never committed)
that compresses time for the loop (``tests/support/loop_checks.FAST``, a start date, one pipeline) and
shortens Airflow's wait for a silent task; and ``.env`` values for secrets and free host ports.
The test process reaches the stack as a user would: Airflow's REST API on the published UI port,
MLflow and the S3 API on their ports on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml

from driftloop.local.stack import AirflowClient, airflow_ready, free_port, mlflow_ready, wait_until
from tests.compose.engine import Engine
from tests.integration.test_deploy import AIRFLOW_SERVICES as DEPLOY_AIRFLOW_SERVICES
from tests.integration.test_deploy import good_secrets
from tests.support import REPO

COMPOSE_FILE = REPO / "docker-compose.yaml"
# The services of the stack that run all the time (one-shot ones complete before them).
LONG_RUNNING = (
    "postgres",
    "redis",
    "minio",
    "mlflow",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
ONE_SHOT = ("preflight", "minio-init", "airflow-init")
# Seconds from `up` to every service healthy before the tier gives up. On an idle 2-core host the
# stack is healthy in a few minutes; on one shared with other test runs (load average above 30 seen
# here) a single `airflow jobs check` healthcheck took over three minutes.
HEALTHY_TIMEOUT = float(os.environ.get("DRIFTLOOP_COMPOSE_HEALTHY_TIMEOUT", "900"))
# Every service built from x-airflow-common: the test override reaches each of them.
AIRFLOW_SERVICES = ("airflow-init", *DEPLOY_AIRFLOW_SERVICES)


class ComposeStack:
    """``start()`` (``up``), ``api()``, ``down()``/``up()``, ``stop()`` (``down -v``)."""

    def __init__(
        self,
        engine: Engine,
        home: Path,
        *,
        workers: int = 2,
        extra_env: dict[str, str] | None = None,
        project: str | None = None,
    ) -> None:
        self.engine = engine
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.project = project or f"driftloop-test-{os.getpid()}"
        self.workers = workers
        self.secrets = good_secrets()
        self.ports = {
            "AIRFLOW_UI_PORT": free_port(),
            "MLFLOW_PORT": free_port(),
            "MINIO_API_PORT": free_port(),
            "MINIO_CONSOLE_PORT": free_port(),
        }
        self.base_url = f"http://127.0.0.1:{self.ports['AIRFLOW_UI_PORT']}"
        self.mlflow_url = f"http://127.0.0.1:{self.ports['MLFLOW_PORT']}"
        self.s3_url = f"http://127.0.0.1:{self.ports['MINIO_API_PORT']}"
        self.client = AirflowClient(self.base_url, lambda: self.secrets["AIRFLOW_ADMIN_PASSWORD"])
        self.extra_env = extra_env or {}
        self.env_file = self.home / ".env"
        self.override = self.home / "docker-compose.test.yaml"
        self.timings: dict[str, float] = {}
        # What the test process needs to read the stack's storage and registry as a task does,
        # with this machine's endpoints (LoopRun reads DRIFTLOOP*, AWS_* and MLFLOW_* from it).
        self.env = {
            "DRIFTLOOP_CONFIG": str(REPO / "configs" / "churn.yaml"),
            "DRIFTLOOP_STORAGE_BASE": "s3://driftloop",
            "DRIFTLOOP__STORAGE__ROOT": "s3://driftloop/data",
            "DRIFTLOOP__STORAGE__S3_ENDPOINT_URL": self.s3_url,
            "DRIFTLOOP__MLFLOW__TRACKING_URI": self.mlflow_url,
            "MLFLOW_S3_ENDPOINT_URL": self.s3_url,
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
            "AWS_ACCESS_KEY_ID": self.secrets["MINIO_ROOT_USER"],
            "AWS_SECRET_ACCESS_KEY": self.secrets["MINIO_ROOT_PASSWORD"],
            "AWS_DEFAULT_REGION": "us-east-1",
            **{k: v for k, v in self.extra_env.items() if k.startswith("DRIFTLOOP")},
        }

    # -- files -------------------------------------------------------------------------------------
    def write_files(self) -> None:
        values = {**self.secrets, **{k: str(v) for k, v in self.ports.items()}}
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        self.env_file.chmod(0o600)
        env = {
            # One pipeline: the loop's time budget is for churn's five DAGs (the whole configs
            # folder is what compose mounts; tests/integration/test_deploy.py loads every config of it).
            "DRIFTLOOP_CONFIGS": "/opt/driftloop/configs/churn.yaml",
            # A task whose worker vanished is failed (and retried) after a minute, not five.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
            **self.extra_env,
        }
        override = {"services": {s: {"environment": env} for s in AIRFLOW_SERVICES}}
        self.override.write_text(yaml.safe_dump(override, sort_keys=True))

    # -- compose -----------------------------------------------------------------------------------
    def compose(
        self, *args: str, check: bool = True, timeout: float = 900, env_file: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = ["docker-compose", "--project-name", self.project]
        argv += ["--project-directory", str(REPO), "--env-file", str(env_file or self.env_file)]
        argv += ["-f", str(COMPOSE_FILE), "-f", str(self.override), *args]
        proc = subprocess.run(
            argv,
            env={**self.engine.env, "COMPOSE_HTTP_TIMEOUT": "300"},
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"docker-compose {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
            )
        return proc

    def start(self, timeout: float = HEALTHY_TIMEOUT) -> ComposeStack:
        """``up -d --scale airflow-worker=N`` and wait until every service is healthy."""
        self.write_files()
        self.up(timeout)
        return self

    def up(self, timeout: float = HEALTHY_TIMEOUT) -> float:
        """``up``; returns the seconds from the command to every service healthy."""
        t0 = time.monotonic()
        self.compose("up", "-d", "--no-build", "--scale", f"airflow-worker={self.workers}")
        self.wait_for(self.healthy, timeout, "every service to be healthy", every=3)
        self.wait_for(lambda: airflow_ready(self.base_url), 120, "Airflow's health endpoint")
        self.wait_for(lambda: mlflow_ready(self.mlflow_url), 60, "MLflow")
        seconds = time.monotonic() - t0
        self.timings.setdefault("up_to_healthy", seconds)
        self.timings["last_up_to_healthy"] = seconds
        return seconds

    def down(self, *, volumes: bool = False) -> None:
        self.compose("down", *(["-v"] if volumes else []), "--remove-orphans", timeout=600)

    def stop(self) -> None:
        """``down -v``: containers, network and volumes of this run."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False)

    # -- containers --------------------------------------------------------------------------------
    def containers(self, service: str | None = None, *, all_: bool = False) -> list[dict[str, Any]]:
        """``docker inspect`` of this project's containers (of one service)."""
        flt = [f"label=com.docker.compose.project={self.project}"]
        if service:
            flt.append(f"label=com.docker.compose.service={service}")
        args = ["ps", "-q", *(["-a"] if all_ else [])]
        for f in flt:
            args += ["--filter", f]
        ids = self.engine.docker(*args).stdout.split()
        if not ids:
            return []
        data: list[dict[str, Any]] = json.loads(self.engine.docker("inspect", *ids).stdout)
        return data

    def service_states(self) -> dict[str, list[str]]:
        """Service -> the state of each of its containers (health where it has a healthcheck)."""
        states: dict[str, list[str]] = {}
        for c in self.containers(all_=True):
            service = c["Config"]["Labels"]["com.docker.compose.service"]
            state = c["State"]
            health = (state.get("Health") or {}).get("Status")
            if state["Status"] == "exited":
                value = f"exited({state['ExitCode']})"
            else:
                value = health or state["Status"]
            states.setdefault(service, []).append(value)
        return states

    def healthy(self) -> bool:
        states = self.service_states()
        failed = [
            s
            for s in ONE_SHOT
            for v in states.get(s, [])
            if v.startswith("exited(") and v != "exited(0)"
        ]
        if failed:
            raise RuntimeError(f"one-shot services failed: {failed}\n{self.dump_logs()}")
        if len(states.get("airflow-worker", [])) != self.workers:
            return False
        return all(states.get(s) and set(states[s]) == {"healthy"} for s in LONG_RUNNING)

    def worker_hostnames(self) -> dict[str, str]:
        """Container hostname (what Airflow records on a task instance) -> container id."""
        return {c["Config"]["Hostname"]: c["Id"] for c in self.containers("airflow-worker")}

    # -- the Deployment protocol of tests/support/loop_checks.py -------------------------------------------
    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.api(method, path, **kwargs)

    def unpause(self, dag_id: str, timeout: float = 180.0) -> None:
        def known() -> bool:
            try:
                self.api("GET", f"dags/{dag_id}")
            except requests.RequestException:
                return False
            return True

        self.wait_for(known, timeout, f"DAG {dag_id} to be parsed", every=2)
        self.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def wait_for(
        self, probe: Callable[[], Any], timeout: float, what: str, every: float = 1.0
    ) -> Any:
        def quiet() -> Any:
            try:
                return probe()
            except (requests.RequestException, OSError):
                return None  # a restarting service: ask again

        return wait_until(quiet, timeout, what, every)

    def task_instances(self, dag_id: str) -> list[dict[str, Any]]:
        path = f"dags/{dag_id}/dagRuns/~/taskInstances"
        found: list[dict[str, Any]] = self.api("GET", path, params={"limit": 1000})[
            "task_instances"
        ]
        return found

    def dump_logs(self, lines: int = 80) -> str:
        proc = self.compose("logs", "--no-color", "--tail", str(lines), check=False, timeout=120)
        return proc.stdout[-60000:]

    def s3(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            aws_access_key_id=self.secrets["MINIO_ROOT_USER"],
            aws_secret_access_key=self.secrets["MINIO_ROOT_PASSWORD"],
            region_name="us-east-1",
        )

    def objects(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """Key -> size of every object under ``prefix``."""
        found: dict[str, int] = {}
        for page in (
            self.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            for o in page.get("Contents", []):
                found[o["Key"]] = o["Size"]
        return found
