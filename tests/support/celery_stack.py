"""The compose stack, run natively: Airflow on CeleryExecutor with two workers, an MLflow server,
S3 on moto's server, metadata on this machine's PostgreSQL, the broker on its Redis.

What docker-compose.yaml runs as containers runs here as processes, each in its own session
(``driftloop.local.stack.Service``) so that stopping one stops everything it started:

- ``moto_server`` (S3 stand-in for MinIO), one bucket per run;
- ``docker/airflow-init.sh`` (the compose ``airflow-init`` service: migrate, admin password);
- ``mlflow server`` on a Postgres backend store, artifacts on S3 (the compose ``mlflow`` service);
- ``airflow api-server``, ``scheduler``, ``dag-processor``, ``triggerer`` and N ``airflow celery
  worker`` processes with distinct Celery hostnames; each records its name on the task instances
  it runs (``[core] hostname_callable``, tests/support/worker_name.py), as a container would.

Airflow's settings come from ``deploy/airflow.cfg`` (``AIRFLOW_CONFIG``), the file compose mounts;
this module only supplies what the file leaves to the environment (the ``${VAR}`` endpoints and
secrets, per run: a fresh database, a Redis DB of its own, free ports) plus the local-stack
variables of ``driftloop.local.stack.stack_env`` that the file does not set. driftloop's own
variables are compose's ``x-driftloop-env`` keys, with this machine's endpoints as values.

Every run gets unique names (databases, Redis DB, bucket, ports); ``stop()`` undoes all of it,
whatever state ``start()`` reached.
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from driftloop.local.stack import (
    AirflowClient,
    Service,
    airflow_ready,
    free_port,
    log_tail,
    mlflow_ready,
    mlflow_server_argv,
    stack_env,
    wait_until,
)
from tests.support import REPO, worker_name
from tests.support.services import (
    PG_HOST,
    PG_PORT,
    PG_USER,
    REDIS_HOST,
    REDIS_PORT,
    claim_redis_db,
    pg_admin,
    redis_client,
    require_tcp,
)

AIRFLOW_CFG = REPO / "deploy" / "airflow.cfg"
COMPOSE = REPO / "docker-compose.yaml"


def cfg_keys(path: Path = AIRFLOW_CFG) -> set[str]:
    """``AIRFLOW__SECTION__KEY`` names of every setting the shared file sets."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return {
        f"AIRFLOW__{section.upper()}__{key.upper()}"
        for section in parser.sections()
        for key in parser[section]
    }


def compose_driftloop_keys() -> set[str]:
    """The variables compose gives driftloop's tasks (``x-driftloop-env``)."""
    import yaml

    return set(yaml.safe_load(COMPOSE.read_text())["x-driftloop-env"])


class CeleryStack:
    """``start()``, then ``api()``/``client``; ``stop()`` always (or use ``with``)."""

    def __init__(
        self,
        home: Path,
        *,
        workers: tuple[str, ...] = ("worker-a", "worker-b"),
        concurrency: int = 2,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.home = home.resolve()
        self.run_id = uuid.uuid4().hex[:10]
        self.airflow_db = f"driftloop_af_{self.run_id}"
        self.mlflow_db = f"driftloop_mlf_{self.run_id}"
        self.bucket = f"driftloop-{self.run_id}"
        self.redis_db: int | None = None
        self.port = free_port()
        self.mlflow_port = free_port()
        self.s3_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.mlflow_url = f"http://127.0.0.1:{self.mlflow_port}"
        self.s3_url = f"http://127.0.0.1:{self.s3_port}"
        self.workers = workers
        self.concurrency = concurrency
        self.password = secrets.token_urlsafe(16)
        self.extra_env = extra_env or {}
        self.services: list[Service] = []
        self._created_dbs: list[str] = []
        self.client = AirflowClient(self.base_url, lambda: self.password)
        self.env: dict[str, str] = {}

    # -- names -------------------------------------------------------------------------------------
    def pg_url(self, db: str, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"

    @property
    def storage_root(self) -> str:
        return f"s3://{self.bucket}/data"

    @property
    def broker_url(self) -> str:
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}"

    # -- environment -------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        # The local stack's variables (this repo's DAGs and plugin, api host/port, log levels,
        # bytecode cache), minus every setting deploy/airflow.cfg makes: the file decides those.
        local = stack_env(self.home, port=self.port, mlflow_port=self.mlflow_port, inherit=False)
        shared = cfg_keys()
        env = {k: v for k, v in local.items() if k not in shared}
        env.update(
            AIRFLOW_CONFIG=str(AIRFLOW_CFG),
            # The ${VAR}s of deploy/airflow.cfg, as compose sets them, with this run's endpoints.
            POSTGRES_USER=PG_USER,
            # The machine's server trusts local connections; the password still goes through URLs.
            POSTGRES_PASSWORD=secrets.token_urlsafe(16),
            POSTGRES_HOST=PG_HOST,
            POSTGRES_PORT=str(PG_PORT),
            AIRFLOW_DB=self.airflow_db,
            REDIS_HOST=REDIS_HOST,
            REDIS_PORT=str(REDIS_PORT),
            REDIS_DB=str(self.redis_db),
            AIRFLOW_API_URL=self.base_url,
            # 64 bytes or more: Airflow signs with HS512 and warns about shorter keys.
            AIRFLOW_JWT_SECRET=secrets.token_urlsafe(64),
            AIRFLOW_FERNET_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            AIRFLOW_ADMIN_PASSWORD=self.password,
            # Ports compose has to itself in each container, free ones here (other stacks may run).
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=str(free_port()),
            AIRFLOW__API__WORKERS="1",
            # The workers' hostname_callable is in tests/support/worker_name.py.
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            PYTHONPYCACHEPREFIX=os.environ.get("PYTHONPYCACHEPREFIX")
            or str(Path.home() / ".cache" / "driftloop-pycache"),
        )
        # driftloop's variables: compose's keys, this machine's values.
        driftloop = {
            # One pipeline here (compose: the whole configs folder, checked by
            # test_compose_settings.py): the loop's timing budget is for churn's five DAGs.
            "DRIFTLOOP_CONFIGS": str(REPO / "configs" / "churn.yaml"),
            "DRIFTLOOP_CONFIG": str(REPO / "configs" / "churn.yaml"),
            # churn.yaml puts its root under the base: s3://<bucket>/data. The explicit override
            # says the same for this process's load_config(environ=...), which expands ${VAR}s
            # from its own environment, not the stack's.
            "DRIFTLOOP_STORAGE_BASE": f"s3://{self.bucket}",
            "DRIFTLOOP__STORAGE__ROOT": self.storage_root,
            "DRIFTLOOP_HOME": str(self.home),
            "DRIFTLOOP__STORAGE__S3_ENDPOINT_URL": self.s3_url,
            "DRIFTLOOP__MLFLOW__TRACKING_URI": self.mlflow_url,
            "DRIFTLOOP__MLFLOW__LOCK_URI": self.pg_url(self.mlflow_db, "postgresql"),
            "DRIFTLOOP__VALIDATION__DATA_DOCS_DIR": str(self.home / "data_docs"),
            "MLFLOW_S3_ENDPOINT_URL": self.s3_url,
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        missing = compose_driftloop_keys() - set(driftloop)
        assert not missing, f"compose gives tasks {sorted(missing)}: set them here too"
        env.update(driftloop)
        env.update(self.extra_env)
        overridden = shared & set(env)
        assert not overridden, f"deploy/airflow.cfg decides {sorted(overridden)}, not this tier"
        return env

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 240.0) -> CeleryStack:
        require_tcp(PG_HOST, PG_PORT, "PostgreSQL")
        require_tcp(REDIS_HOST, REDIS_PORT, "Redis")
        self.home.mkdir(parents=True, exist_ok=True)
        self.redis_db = claim_redis_db(self.run_id)
        for db in (self.airflow_db, self.mlflow_db):
            pg_admin(f'CREATE DATABASE "{db}"')
            self._created_dbs.append(db)
        self.env = self._env()
        bindir = Path(sys.executable).parent

        moto = self._service("moto", [str(bindir / "moto_server"), "-H", "127.0.0.1"])
        moto.argv += ["-p", str(self.s3_port)]
        moto.start()
        wait_until(self._s3_up, 60, "moto's S3 server", 0.5, self._check_alive)
        self.s3().create_bucket(Bucket=self.bucket)

        init = subprocess.run(
            [str(REPO / "docker" / "airflow-init.sh")],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if init.returncode != 0:
            raise RuntimeError(
                f"airflow-init.sh failed ({init.returncode}):\n{init.stderr[-4000:]}"
            )

        airflow = str(bindir / "airflow")
        mlflow = mlflow_server_argv(
            self.mlflow_port,
            self.pg_url(self.mlflow_db),
            artifacts_destination=f"s3://{self.bucket}/mlflow/artifacts",
            allowed_hosts=[f"127.0.0.1:{self.mlflow_port}", f"localhost:{self.mlflow_port}"],
        )
        self._service("mlflow", mlflow).start()
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            self._service(component, [airflow, component]).start()
        for name in self.workers:
            worker_env = {
                worker_name.WORKER_NAME_ENV: name,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{worker_name.__name__}.worker_hostname",
            }
            argv = [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h"]
            argv += ["--concurrency", str(self.concurrency), "--skip-serve-logs"]
            self._service(name, argv, worker_env).start()

        wait_until(self._ready, ready_timeout, "every component", 2.0, self._check_alive)
        return self

    def _service(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Service:
        svc = Service(name, argv, {**self.env, **(env or {})}, self.home / "logs" / f"{name}.log")
        self.services.append(svc)
        return svc

    def _check_alive(self) -> None:
        for svc in self.services:
            code = svc.exited()
            if code is not None:
                raise RuntimeError(f"{svc.name} exited ({code}):\n{svc.log_tail(80)}")

    def _s3_up(self) -> bool:
        try:
            return requests.get(self.s3_url, timeout=2).status_code < 500
        except requests.RequestException:
            return False

    def _ready(self) -> bool:
        if not (airflow_ready(self.base_url) and mlflow_ready(self.mlflow_url)):
            return False
        return set(self.ping_workers()) == set(self.worker_nodes())

    def worker_nodes(self) -> list[str]:
        import socket

        return [f"{n}@{socket.gethostname()}" for n in self.workers]

    def ping_workers(self) -> list[str]:
        """Celery node names of the workers answering on this run's broker."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            replies = app.control.ping(timeout=1.0) or []
        finally:
            app.close()
        return [name for reply in replies for name in reply]

    def stop(self, timeout: float = 60.0) -> None:
        """Stop every process (workers first: they finish or requeue their tasks), then drop the
        databases, the Redis DB and the bucket. Safe to call whatever ``start()`` reached."""
        workers = [s for s in self.services if s.name in self.workers]
        others = [s for s in self.services if s not in workers and s.name != "moto"]
        with ThreadPoolExecutor(max_workers=len(self.services) or 1) as pool:
            list(pool.map(lambda s: s.stop(timeout), workers))
            list(pool.map(lambda s: s.stop(timeout), others))
        with contextlib.suppress(Exception):
            self._delete_bucket()
        for svc in self.services:
            svc.stop(timeout)  # moto, and anything left
        for db in self._created_dbs:
            pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self._created_dbs.clear()
        if self.redis_db is not None:
            redis_client(self.redis_db).flushdb()
            self.redis_db = None

    def __enter__(self) -> CeleryStack:
        try:
            return self.start()
        except BaseException:
            print(self.dump_logs())
            self.stop()
            raise

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            print(self.dump_logs())
        self.stop()

    # -- S3 ----------------------------------------------------------------------------------------
    def s3(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def _delete_bucket(self) -> None:
        s3 = self.s3()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        s3.delete_bucket(Bucket=self.bucket)

    # -- REST and logs -----------------------------------------------------------------------------
    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.api(method, path, **kwargs)

    def unpause(self, dag_id: str, timeout: float = 120.0) -> None:
        def known() -> bool:
            try:
                self.api("GET", f"dags/{dag_id}")
            except requests.HTTPError:
                return False
            return True

        self.wait_for(known, timeout, f"DAG {dag_id} to be parsed")
        self.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def wait_for(
        self, probe: Callable[[], Any], timeout: float, what: str, every: float = 1.0
    ) -> Any:
        return wait_until(probe, timeout, what, every, self._check_alive)

    def task_instances(self, dag_id: str) -> list[dict[str, Any]]:
        """Every task instance of ``dag_id``, over all its runs."""
        path = f"dags/{dag_id}/dagRuns/~/taskInstances"
        return self.api("GET", path, params={"limit": 1000})["task_instances"]

    def dump_logs(self, lines: int = 60) -> str:
        parts = [f"--- {s.name} ({s.log_path}) ---\n{s.log_tail(lines)}" for s in self.services]
        return "\n".join(parts)

    def task_log_tails(self, lines: int = 40) -> str:
        """The last lines of every failed attempt's log (JSON lines), for a failure report."""
        out = []
        for path in sorted((self.home / "airflow" / "logs").rglob("attempt=*.log")):
            text = path.read_text(errors="replace")
            if '"level": "error"' in text or '"level":"error"' in text:
                out.append(f"--- {path.relative_to(self.home)} ---\n{log_tail(path, lines)}")
        return "\n".join(out)
