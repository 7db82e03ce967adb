"""The production shape: docker-compose.yaml, its shared Airflow settings, the secrets preflight,
the image build and the Helm values.

No container runs here. `docker compose config` (or the standalone `docker-compose`) renders the
file with a throw-away .env and the rendered services are checked for the Celery shape, healthchecks,
what is published where, and that every secret comes from the environment. deploy/airflow.cfg is
read by Airflow itself with the environment compose gives a worker.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import REPO
from tests.support.services import IN_CI

COMPOSE_FILE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
PREFLIGHT = REPO / "docker" / "preflight.py"
AIRFLOW_CFG = REPO / "deploy" / "airflow.cfg"
HELM_VALUES = REPO / "deploy" / "helm" / "values.yaml"
SECRETS = (
    "POSTGRES_PASSWORD",
    "AIRFLOW_ADMIN_PASSWORD",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_FERNET_KEY",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
)
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)


def good_secrets() -> dict[str, str]:
    """Values the preflight accepts (fresh each call, never written to the repo)."""
    values = {name: secrets.token_urlsafe(32) for name in SECRETS}
    values["MINIO_ROOT_USER"] = "driftloop-test"
    values["AIRFLOW_FERNET_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return values


def example_values() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {k.strip(): v.strip() for k, v in pairs}


# --- compose CLI -----------------------------------------------------------------------------


def _compose_cmd() -> list[str] | None:
    """`docker compose` (v2 plugin) when it answers, else the standalone `docker-compose`."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.fixture(scope="module")
def compose() -> list[str]:
    cmd = _compose_cmd()
    if cmd is None:
        msg = (
            "neither `docker compose` nor `docker-compose` is installed (the client alone is enough:"
            " `config` needs no engine; on Debian: apt-get install docker-compose)"
        )
        if IN_CI:
            pytest.fail(f"CI=true: the compose validation may not be skipped: {msg}")
        pytest.skip(msg)
    return cmd


def run_compose(compose: list[str], env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A scrubbed environment: values must come from the env file, not from whoever runs the test.
    env = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith("COMPOSE_")}
    return subprocess.run(
        [
            *compose,
            "--project-directory",
            str(REPO),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def test_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return good_secrets()


@pytest.fixture(scope="module")
def rendered(compose: list[str], test_env: dict[str, str], tmp_path_factory) -> dict[str, Any]:
    env_file = tmp_path_factory.mktemp("compose") / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in test_env.items()))
    out = run_compose(compose, env_file, "--profile", "flower", "config")
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def published(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host address, host port) of every published port, in either compose's output format."""
    result = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published") is not None:
                result.append((port.get("host_ip") or "0.0.0.0", str(port["published"])))
            continue
        parts = str(port).split("/")[0].split(":")
        if len(parts) == 3:
            result.append((parts[0], parts[1]))
        elif len(parts) == 2:
            result.append(("0.0.0.0", parts[0]))
    return result


# --- the rendered stack ----------------------------------------------------------------------


def test_compose_renders_every_service(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    assert set(AIRFLOW_SERVICES) | {
        "postgres",
        "redis",
        "minio",
        "minio-init",
        "mlflow",
        "airflow-init",
        "preflight",
        "flower",
    } <= set(services)
    assert services["redis"]["image"] == "redis:7.2-bookworm"
    assert services["postgres"]["image"] == "postgres:16"
    assert services["flower"]["profiles"] == ["flower"]
    assert services["airflow-worker"]["command"] == ["airflow", "celery", "worker"]


def test_brokers_and_databases_have_healthchecks_that_gate_airflow(
    rendered: dict[str, Any],
) -> None:
    services = rendered["services"]
    assert "redis-cli" in services["redis"]["healthcheck"]["test"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    for name in AIRFLOW_SERVICES:
        svc = services[name]
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        deps = svc["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    for name in ("postgres", "redis", "minio"):
        cond = services[name]["depends_on"]["preflight"]["condition"]
        assert cond == "service_completed_successfully", name


def test_workers_can_be_scaled(rendered: dict[str, Any]) -> None:
    worker = rendered["services"]["airflow-worker"]
    assert "container_name" not in worker
    assert not worker.get("ports")


def test_only_the_api_server_is_published_beyond_localhost(rendered: dict[str, Any]) -> None:
    public = {
        name
        for name, svc in rendered["services"].items()
        for host, _ in published(svc)
        if host not in ("127.0.0.1", "::1", "localhost")
    }
    assert public == {"airflow-apiserver"}
    # ...and the ones that must stay private are still reachable locally.
    for name in ("mlflow", "minio", "flower"):
        assert published(rendered["services"][name]), f"{name} not published on localhost"
    assert not published(rendered["services"]["redis"])
    assert not published(rendered["services"]["postgres"])


def test_secrets_reach_the_services_from_the_env_file(
    rendered: dict[str, Any], test_env: dict[str, str]
) -> None:
    services = rendered["services"]
    worker = services["airflow-worker"]["environment"]
    assert worker["POSTGRES_PASSWORD"] == test_env["POSTGRES_PASSWORD"]
    assert worker["AIRFLOW_JWT_SECRET"] == test_env["AIRFLOW_JWT_SECRET"]
    assert worker["AWS_SECRET_ACCESS_KEY"] == test_env["MINIO_ROOT_PASSWORD"]
    # The admin password goes to the init that writes the passwords file, not to every container.
    assert "AIRFLOW_ADMIN_PASSWORD" not in worker
    init = services["airflow-init"]["environment"]
    assert init["AIRFLOW_ADMIN_PASSWORD"] == test_env["AIRFLOW_ADMIN_PASSWORD"]
    assert set(services["preflight"]["environment"]) >= set(SECRETS)


def test_compose_refuses_to_render_without_the_env_values(
    compose: list[str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    out = run_compose(compose, empty, "config")
    assert out.returncode != 0
    assert "in .env (see .env.example)" in out.stderr


# --- the compose file as written -------------------------------------------------------------


def test_no_secret_has_a_literal_value_or_default() -> None:
    text = COMPOSE_FILE.read_text()
    # Every reference to a secret is ${VAR:?message} (required, no default) or $${VAR} (expanded
    # by the container's shell from its environment).
    for match in re.finditer(r"(?<!\$)\$\{(\w+)([^}]*)\}", text):
        name, rest = match.groups()
        if name in SECRETS:
            assert rest.startswith(":?"), f"${{{name}{rest}}} must be required, without default"
    # No value from the example file, and no secret-looking key with a literal value.
    for value in example_values().values():
        assert value not in text
    doc = yaml.safe_load(text)
    blocks = [svc.get("environment") or {} for svc in doc["services"].values()]
    blocks += [v for k, v in doc.items() if k.startswith("x-") and isinstance(v, dict)]
    for block in blocks:
        if not isinstance(block, dict):
            continue
        for key, value in block.items():
            if key == "<<" or not re.search(r"PASSWORD|SECRET|FERNET|ACCESS_KEY", key):
                continue
            assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", str(value)), f"{key}={value!r}"


def test_env_example_names_every_secret_with_a_placeholder() -> None:
    values = example_values()
    assert set(SECRETS) <= set(values)
    assert all("change-me" in values[name] for name in SECRETS)
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=REPO, capture_output=True
    ).returncode
    assert ignored == 0, ".env must be git-ignored"
    assert ".env" in (REPO / ".dockerignore").read_text().split()


# --- the secrets preflight -------------------------------------------------------------------


def run_preflight(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", "")}
    return subprocess.run(
        [sys.executable, str(PREFLIGHT)], env={**base, **env}, capture_output=True, text=True
    )


def test_preflight_refuses_the_example_values() -> None:
    out = run_preflight(example_values())
    assert out.returncode == 1
    for name in SECRETS:
        assert f"{name} still has the placeholder value" in out.stderr


def test_preflight_refuses_missing_and_unusable_values() -> None:
    out = run_preflight({})
    assert out.returncode == 1
    assert out.stderr.count("is not set") == len(SECRETS)

    bad = good_secrets() | {
        "POSTGRES_PASSWORD": "p@ss/word%with:url-chars",
        "AIRFLOW_FERNET_KEY": "not-a-fernet-key-at-all",
        "AIRFLOW_JWT_SECRET": "short",
    }
    out = run_preflight(bad)
    assert out.returncode == 1
    assert "POSTGRES_PASSWORD may only contain" in out.stderr
    assert "AIRFLOW_FERNET_KEY is not a Fernet key" in out.stderr
    assert "AIRFLOW_JWT_SECRET is too short" in out.stderr


def test_preflight_accepts_real_values() -> None:
    out = run_preflight(good_secrets())
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""


# --- deploy/airflow.cfg, read by Airflow with a worker's environment -------------------------


def test_shared_airflow_settings_resolve_with_the_compose_environment(
    rendered: dict[str, Any], test_env: dict[str, str], tmp_path: Path
) -> None:
    worker_env = {
        str(k): str(v) for k, v in rendered["services"]["airflow-worker"]["environment"].items()
    }
    # The container sees the file at this path; here it is the repo's copy.
    assert worker_env.pop("AIRFLOW_CONFIG") == "/opt/driftloop/deploy/airflow.cfg"
    env = {
        **worker_env,
        "AIRFLOW_CONFIG": str(AIRFLOW_CFG),
        "AIRFLOW_HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
    }
    if "PYTHONPYCACHEPREFIX" in os.environ:
        env["PYTHONPYCACHEPREFIX"] = os.environ["PYTHONPYCACHEPREFIX"]
    keys = [
        ("core", "executor"),
        ("database", "sql_alchemy_conn"),
        ("celery", "broker_url"),
        ("celery", "result_backend"),
        ("core", "simple_auth_manager_passwords_file"),
        ("core", "execution_api_server_url"),
        ("core", "fernet_key"),
        ("api_auth", "jwt_secret"),
    ]
    code = (
        "import json, sys\n"
        "from airflow.configuration import conf\n"
        f"print(json.dumps({{f'{{s}}.{{k}}': conf.get(s, k) for s, k in {keys!r}}}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    pw = test_env["POSTGRES_PASSWORD"]
    assert got["core.executor"] == "CeleryExecutor"
    assert got["database.sql_alchemy_conn"] == (
        f"postgresql+psycopg2://airflow:{pw}@postgres:5432/airflow"
    )
    assert got["celery.broker_url"] == "redis://redis:6379/0"
    assert (
        got["celery.result_backend"]
        == f"db+postgresql+psycopg2://airflow:{pw}@postgres:5432/airflow"
    )
    assert got["core.simple_auth_manager_passwords_file"] == (
        f"{tmp_path}/auth/simple_auth_manager_passwords.json"
    )
    assert got["core.execution_api_server_url"] == "http://airflow-apiserver:8080/execution/"
    assert got["core.fernet_key"] == test_env["AIRFLOW_FERNET_KEY"]
    assert got["api_auth.jwt_secret"] == test_env["AIRFLOW_JWT_SECRET"]
    assert not any("${" in v for v in got.values()), got
    # The file itself holds no secret, only references.
    cfg = AIRFLOW_CFG.read_text()
    assert all(test_env[name] not in cfg for name in SECRETS)


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source (host path or volume name), in either compose's output format."""
    result = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            result[str(volume["target"])] = str(volume.get("source"))
        else:
            source, target, *_ = str(volume).split(":")
            result[target] = source
    return result


def test_every_config_is_a_pipeline_with_its_own_s3_root(
    rendered: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stack runs every config of the mounted configs folder, each on S3 under a root of its
    own (an override of storage.root would put them all on one root, and the clash check would
    then give the second pipeline no DAGs)."""
    from driftloop.core.pipelines import load_pipelines

    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        service = rendered["services"][name]
        env = {str(k): str(v) for k, v in service["environment"].items()}
        assert env["DRIFTLOOP_CONFIGS"] == "/opt/driftloop/configs", name
        assert env["DRIFTLOOP_STORAGE_BASE"] == "s3://driftloop", name
        assert "DRIFTLOOP__STORAGE__ROOT" not in env, name
        assert "DRIFTLOOP__VALIDATION__DATA_DOCS_DIR" not in env, name  # per pipeline instead
        volumes = mounts(service)
        assert Path(volumes["/opt/driftloop/configs"]) == REPO / "configs", name
        assert volumes[env["DRIFTLOOP_HOME"]] == "driftloop-home", name  # shared: docs served
    # The configs as a worker loads them: its driftloop variables, the mounted folder's files.
    worker = rendered["services"]["airflow-worker"]["environment"]
    for key in [k for k in os.environ if k.startswith("DRIFTLOOP")]:
        monkeypatch.delenv(key)
    for key, value in worker.items():
        if str(key).startswith("DRIFTLOOP"):
            monkeypatch.setenv(str(key), str(value))
    monkeypatch.setenv("DRIFTLOOP_CONFIGS", str(REPO / "configs"))
    loaded = load_pipelines()
    assert loaded.errors == {}
    roots = {c.name: c.storage.root for c in loaded.configs}
    assert {"churn", "churn_eu"} <= set(roots)
    assert roots["churn"] == "s3://driftloop/data"  # where deliveries land, as documented
    assert all(root.startswith("s3://driftloop/") for root in roots.values()), roots
    assert len(set(roots.values())) == len(roots), roots
    for a in roots.values():  # no root inside another's
        assert not any(b != a and b.startswith(a.rstrip("/") + "/") for b in roots.values())
    docs = {c.name: c.data_docs_dir() for c in loaded.configs}
    assert len(set(docs.values())) == len(docs), docs
    assert all(d.is_relative_to(worker["DRIFTLOOP_HOME"]) for d in docs.values()), docs
    assert {c.storage.s3_endpoint_url for c in loaded.configs} == {"http://minio:9000"}


# --- the image and the Kubernetes values -----------------------------------------------------


def test_dockerfile_bakes_the_project_with_its_locked_dependencies() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in text
    for folder in (
        "include",
        "dags",
        "plugins",
        "configs",
        "great_expectations",
        "deploy",
        "docker",
    ):
        assert re.search(rf"^COPY {folder} \./{folder}$", text, re.M), folder
    assert "USER driftloop" in text


def test_helm_values_match_the_pod_mode_of_the_dags() -> None:
    """Untested against a cluster: only that the values agree with what the DAGs' pods expect."""
    from driftloop.core.config import Execution

    values = yaml.safe_load(HELM_VALUES.read_text())
    assert values["executor"] in ("KubernetesExecutor", "CeleryKubernetesExecutor")
    assert values["images"]["airflow"]["repository"]
    # DAGs are baked into the image.
    assert values["dags"]["gitSync"]["enabled"] is False
    assert values["dags"]["persistence"]["enabled"] is False
    # The pods pod_task starts read the ConfigMap and Secret named in `execution` (defaults here);
    # the values create the ConfigMap and hand both to the Airflow containers too.
    defaults = Execution()
    assert defaults.config_map in values["extraConfigMaps"]
    cm = yaml.safe_load(values["extraConfigMaps"][defaults.config_map]["data"])
    # Many pipelines, one storage base: each config adds its own prefix (as in the compose file).
    assert cm["DRIFTLOOP_CONFIGS"] == "/opt/driftloop/configs"
    assert cm["DRIFTLOOP_STORAGE_BASE"].startswith("s3://")
    assert "DRIFTLOOP__STORAGE__ROOT" not in cm
    assert "DRIFTLOOP_CONFIG" not in cm
    assert cm["DRIFTLOOP__MLFLOW__TRACKING_URI"].startswith("http")
    env_from = yaml.safe_load(values["extraEnvFrom"])
    assert {"configMapRef": {"name": defaults.config_map}} in env_from
    assert {"secretRef": {"name": defaults.secret}} in env_from
    env = {e["name"]: e["value"] for e in values["env"]}
    assert env["DRIFTLOOP__EXECUTION__MODE"] == "kubernetes"
    assert env["DRIFTLOOP__EXECUTION__CONFIG_MAP"] == defaults.config_map
    assert env["DRIFTLOOP__EXECUTION__SECRET"] == defaults.secret
    # The pods run the same image as Airflow.
    image = values["images"]["airflow"]
    assert env["DRIFTLOOP__EXECUTION__IMAGE"] == f"{image['repository']}:{image['tag']}"


def test_helm_values_name_the_image_and_executor_the_dockerfile_provides() -> None:
    """The chart runs the project's image as built by the Dockerfile, on an executor it installs."""
    from driftloop.core.config import Arrival, Execution

    values = yaml.safe_load(HELM_VALUES.read_text())
    dockerfile = (REPO / "Dockerfile").read_text()
    baked = dict(re.findall(r"(AIRFLOW__CORE__\w+)=(\S+)", dockerfile))
    core = values["config"]["core"]
    assert core["dags_folder"] == baked["AIRFLOW__CORE__DAGS_FOLDER"]
    assert core["plugins_folder"] == baked["AIRFLOW__CORE__PLUGINS_FOLDER"]
    assert core["load_examples"] == baked["AIRFLOW__CORE__LOAD_EXAMPLES"]
    assert values["airflowVersion"] in (REPO / "pyproject.toml").read_text()  # apache-airflow==...
    # The executor's provider is among the image's locked dependencies.
    provider = {
        "KubernetesExecutor": "apache-airflow-providers-cncf-kubernetes",
        "CeleryKubernetesExecutor": "apache-airflow-providers-celery",
    }[values["executor"]]
    assert f'"{provider}==' in (REPO / "pyproject.toml").read_text()
    # The image the chart pulls is the one compose builds and the pods of pod mode run.
    image = values["images"]["airflow"]
    assert f"{image['repository']}:{image['tag']}" == Execution().image
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    assert compose["x-airflow-common"]["image"] == f"${{DRIFTLOOP_IMAGE:-{Execution().image}}}"
    cm = yaml.safe_load(values["extraConfigMaps"][Execution().config_map]["data"])
    Arrival(mode=cm["DRIFTLOOP__ARRIVAL__MODE"])  # a mode the config accepts
