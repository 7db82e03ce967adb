"""The environment of a local Airflow (standalone, or in-process for the demo) under DRIFTLOOP_HOME."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from driftloop.core.config import HOME_ENV, driftloop_home, project_root


def airflow_env(
    home: Path | None = None, *, port: int = 8080, parallelism: int = 4
) -> dict[str, str]:
    """Variables that point Airflow at an isolated home with this repo's DAGs and plugin.

    Parallelism is kept low on purpose: each worker slot is a process (about 170 MiB each).
    """
    home = (home or driftloop_home()).resolve()
    af = home / "airflow"
    repo = project_root()
    return {
        HOME_ENV: str(home),
        "AIRFLOW_HOME": str(af),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{af / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(repo / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(repo / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # DAGs come up unpaused: a local Airflow is there to run the loop by itself.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        # Workers and the triggerer reach the api-server here (the default assumes port 8080).
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # `airflow standalone` starts its components as `airflow <component>`, looked up on PATH.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        # INFO: what each task did (partition, rows, model version, decision) shows in its log.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get(
            "AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"
        ),
        # ...while the components stay readable: no line per HTTP request (every task heartbeat
        # is one) or per task state change from the API server.
        "AIRFLOW__LOGGING__NAMESPACE_LEVELS": os.environ.get(
            "AIRFLOW__LOGGING__NAMESPACE_LEVELS",
            "http.access=WARNING airflow.api_fastapi.execution_api=WARNING "
            "airflow.sdk.api.client=WARNING",
        ),
        # Compiled bytecode in one cache folder: fast starts even where PYTHONDONTWRITEBYTECODE is set.
        "PYTHONPYCACHEPREFIX": os.environ.get("PYTHONPYCACHEPREFIX", str(home / "pycache")),
        "GIT_PYTHON_REFRESH": "quiet",
    }


def apply_airflow_env(home: Path | None = None) -> dict[str, str]:
    """Set the local Airflow variables in this process (before airflow is imported); returns them."""
    env = airflow_env(home)
    os.environ.update(env)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return env
