"""`driftloop airflow` / `driftloop stop` as a user runs them: one stack per home, stopped entirely."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from driftloop.local import stack

pytestmark = pytest.mark.timeout(300)

DRIFTLOOP = str(Path(sys.executable).parent / "driftloop")


def _schedulers(home: Path) -> list[psutil.Process]:
    """`airflow scheduler` processes on this machine working for ``home``."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            cmd = p.info["cmdline"] or []
            if cmd[-1:] == ["scheduler"] and p.environ().get("DRIFTLOOP_HOME") == str(home):
                found.append(p)
        except (psutil.Error, IndexError):
            continue
    return found


def test_airflow_starts_once_per_home_with_unpaused_dags_and_stop_ends_everything(
    tmp_path: Path,
) -> None:
    home = (tmp_path / "home").resolve()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DRIFTLOOP"))},
        "DRIFTLOOP_HOME": str(home),
        "PYTHONPYCACHEPREFIX": os.environ.get("PYTHONPYCACHEPREFIX")
        or str(Path.home() / ".cache" / "driftloop-pycache"),
    }
    port, mlflow_port = stack.free_port(), stack.free_port()

    def driftloop(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DRIFTLOOP, *args], env=env, capture_output=True, text=True, timeout=timeout
        )

    timings: dict[str, float] = {}
    t0 = time.monotonic()
    try:
        up = driftloop(
            "airflow", "--port", str(port), "--mlflow-port", str(mlflow_port), timeout=280
        )
        timings["ready"] = time.monotonic() - t0
        assert up.returncode == 0, up.stdout + up.stderr
        password = stack.admin_password(home)
        assert f"http://127.0.0.1:{port}" in up.stdout and password in up.stdout
        assert "driftloop stop" in up.stdout

        # Both UIs answer; the Airflow components report healthy.
        assert stack.airflow_ready(f"http://127.0.0.1:{port}")
        assert requests.get(f"http://127.0.0.1:{mlflow_port}/", timeout=10).status_code == 200
        state = stack.read_state(home)
        assert state is not None and set(state.services) == {"airflow", "mlflow"}
        assert len(_schedulers(home)) == 1

        # A second start refuses, names what runs and how to stop it, and starts nothing.
        again = driftloop(
            "airflow", "--port", str(stack.free_port()), "--mlflow-port", str(mlflow_port)
        )
        assert again.returncode == stack.EXIT_ALREADY_RUNNING, again.stdout + again.stderr
        assert "already running" in again.stderr and f"127.0.0.1:{port}" in again.stderr
        assert "driftloop stop" in again.stderr
        time.sleep(3)
        assert len(_schedulers(home)) == 1

        # DAGs come up unpaused.
        client = stack.AirflowClient(f"http://127.0.0.1:{port}", lambda: password)

        def dags() -> dict[str, bool] | None:
            found = client.api("GET", "dags")["dags"]
            return {d["dag_id"]: d["is_paused"] for d in found} if len(found) >= 5 else None

        paused = stack.wait_until(dags, 90, "the DAGs to be parsed", 2)
        assert {
            f"churn__{s}" for s in ("ingest", "score", "drift_check", "train", "promote")
        } <= set(paused)
        assert not any(paused.values()), paused

        t1 = time.monotonic()
        down = driftloop("stop", timeout=120)
        timings["stop"] = time.monotonic() - t1
        assert down.returncode == 0, down.stdout + down.stderr
        assert "stopped airflow" in down.stdout and "stopped mlflow" in down.stdout
        for ref in state.refs():
            assert not ref.group(), f"{ref.name} left processes: {ref.group()}"
        assert not _schedulers(home)
        assert stack.port_free(port) and stack.port_free(mlflow_port)

        nothing = driftloop("stop")
        assert nothing.returncode == 0 and "Nothing is running" in nothing.stdout
    except BaseException:
        print(stack.log_tails(home, 80))
        raise
    finally:
        stack.stop(home)
        print("local stack timings (s):", {k: round(v, 1) for k, v in timings.items()})
