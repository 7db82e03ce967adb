"""The compose stack's Airflow settings and init, run natively on this machine's PostgreSQL.

docker/airflow-init.sh runs with AIRFLOW_CONFIG=deploy/airflow.cfg, as in the `airflow-init`
container, against a fresh database: it must migrate the metadata DB and write the admin password
from the environment. An api-server started with the same settings must then accept exactly that
password for `admin` (what the compose header promises) and refuse another.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from driftloop.local.stack import free_port
from tests.support import REPO
from tests.support.services import (
    REDIS_HOST,
    REDIS_PORT,
    claim_redis_db,
    pg_query,
    redis_client,
    require_tcp,
)

pytestmark = pytest.mark.timeout(300)


def _settings_env(db_url: str, home: Path, port: int) -> dict[str, str]:
    """The environment compose gives an Airflow container, with this machine's endpoints."""
    url = make_url(db_url)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "DRIFTLOOP")) and k != "AIRFLOW_HOME"
    }
    # airflow-init.sh calls `airflow` and `python`: the ones of this interpreter's environment.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        AIRFLOW_CONFIG=str(REPO / "deploy" / "airflow.cfg"),
        AIRFLOW_HOME=str(home),
        POSTGRES_USER=url.username or "postgres",
        # The machine's server trusts local connections; the password still goes through the URL.
        POSTGRES_PASSWORD=secrets.token_urlsafe(16),
        POSTGRES_HOST=url.host or "127.0.0.1",
        POSTGRES_PORT=str(url.port or 5432),
        AIRFLOW_DB=url.database or "",
        REDIS_HOST=REDIS_HOST,
        REDIS_PORT=str(REDIS_PORT),
        REDIS_DB="0",
        AIRFLOW_API_URL=f"http://127.0.0.1:{port}",
        AIRFLOW_JWT_SECRET=secrets.token_urlsafe(32),
        AIRFLOW_FERNET_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        AIRFLOW_ADMIN_PASSWORD=secrets.token_urlsafe(16),
        # The tests' own Airflow settings must not leak in; the DAGs are not under test here.
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__WORKERS="1",
    )
    return env


def _stop(proc: subprocess.Popen, grace: float) -> None:
    """Stop a server started in its own session (process group), whether or not it still runs."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _token(port: int, password: str) -> int:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/auth/token",
        data=json.dumps({"username": "admin", "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_init_migrates_and_the_admin_logs_in_with_the_env_password(
    postgres_db: str, tmp_path: Path
) -> None:
    port = free_port()
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    env = _settings_env(postgres_db, home, port)

    t0 = time.monotonic()
    init = subprocess.run(
        [str(REPO / "docker" / "airflow-init.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert init.returncode == 0, init.stderr[-3000:]
    migrate_s = time.monotonic() - t0
    # The metadata DB is the one named by deploy/airflow.cfg, migrated.
    assert pg_query(postgres_db, "SELECT count(*) FROM alembic_version")[0][0] == 1
    passwords = home / "auth" / "simple_auth_manager_passwords.json"
    assert json.loads(passwords.read_text()) == {"admin": env["AIRFLOW_ADMIN_PASSWORD"]}
    assert passwords.stat().st_mode & 0o077 == 0, "passwords file must be private"

    log = (tmp_path / "api-server.log").open("w")
    proc = subprocess.Popen(
        ["airflow", "api-server", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "api-server.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("api-server did not answer within 120 s")
        assert _token(port, env["AIRFLOW_ADMIN_PASSWORD"]) in (200, 201)
        assert _token(port, "admin") == 401
    finally:
        _stop(proc, 30)
        log.close()
    print(f"airflow-init (db migrate on PostgreSQL) took {migrate_s:.1f} s")


def test_a_celery_worker_on_these_settings_passes_the_compose_healthcheck(
    postgres_db: str, tmp_path: Path
) -> None:
    """The worker's healthcheck, taken from docker-compose.yaml, against a worker on Redis here."""
    import yaml

    require_tcp(REDIS_HOST, REDIS_PORT, "Redis")
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    env = _settings_env(postgres_db, home, free_port())
    env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = "1"
    env["HOSTNAME"] = socket.gethostname()
    subprocess.run(["airflow", "db", "migrate"], env=env, capture_output=True, check=True)

    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    kind, check = compose["services"]["airflow-worker"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    check = check.replace("$$", "$")  # compose's escape for the container's shell

    # A Redis DB of its own (claimed: another run's stack may be on the same server), one slot: a
    # smoke test of the broker settings, not a load test.
    redis_db = claim_redis_db(f"compose-healthcheck-{secrets.token_hex(4)}")
    env["REDIS_DB"] = str(redis_db)
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(
        ["airflow", "celery", "worker", "--skip-serve-logs"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            out = subprocess.run(
                ["sh", "-c", check], env=env, capture_output=True, text=True, timeout=60
            )
            if out.returncode == 0:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"healthcheck still failing after 120 s: {out.stdout}{out.stderr}")
            time.sleep(2)
        assert "pong" in out.stdout
    finally:
        _stop(proc, 60)
        log.close()
        redis_client(redis_db).flushdb()


def _compose_value(value: str) -> str:
    """A compose value as the container sees it: ``${VAR:-default}`` gives the default (no .env
    sets these), a required ``${VAR:?...}`` secret a placeholder."""
    import re

    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}", "secret", value)


def test_the_compose_pipelines_each_get_their_dags_on_their_own_s3_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docker-compose.yaml's driftloop variables with the configs folder it mounts: the DAG
    factory gives every config its five DAGs (a clash would be an import error and no DAGs for
    the second pipeline), and each pipeline's data lies under its own prefix of the bucket."""
    import yaml

    from driftloop.core.pipelines import STAGES, dag_id, load_pipelines
    from tests.dags.test_dag_integrity import _parse_in_subprocess
    from tests.support.celery_stack import compose_driftloop_keys

    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    block = {k: _compose_value(str(v)) for k, v in compose["x-driftloop-env"].items()}
    assert set(block) == compose_driftloop_keys()
    # The container's folder is the repository's configs/, mounted (checked in tests/unit).
    assert block["DRIFTLOOP_CONFIGS"] == "/opt/driftloop/configs"
    block["DRIFTLOOP_CONFIGS"] = str(REPO / "configs")
    block["DRIFTLOOP_HOME"] = str(tmp_path / "home")  # the container's volume, here a folder
    for key, value in block.items():
        monkeypatch.setenv(key, value)  # the subprocess inherits them, and so does this check
    loaded = load_pipelines()
    assert loaded.errors == {}
    names = loaded.names()
    assert len(names) >= 2 and {"churn", "churn_eu"} <= set(names)

    out = _parse_in_subprocess(tmp_path)

    assert out["errors"] == {}
    assert set(out["dags"]) == {dag_id(n, s) for n in names for s in STAGES}
    roots = {c.name: c.storage.root for c in loaded.configs}
    assert roots["churn"] == "s3://driftloop/data"
    assert roots["churn_eu"] == "s3://driftloop/churn_eu/data"
    assert len(set(roots.values())) == len(roots)
