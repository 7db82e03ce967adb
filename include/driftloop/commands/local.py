"""Local conveniences: `driftloop airflow` (Airflow + MLflow UIs on this machine)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from driftloop.cli import _date, command
from driftloop.config import PipelineConfig, driftloop_home


def _airflow_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8080, help="Airflow UI port")
    p.add_argument("--mlflow-port", type=int, default=5000, help="MLflow UI port")


@command("airflow", "run Airflow (standalone) and the MLflow UI locally, state in DRIFTLOOP_HOME")(
    _airflow_args
)
def _airflow(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.localenv import airflow_env

    env = {**os.environ, **airflow_env(port=args.port)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["DRIFTLOOP_MLFLOW_UI_URL"] = f"http://127.0.0.1:{args.mlflow_port}"
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    bindir = Path(sys.executable).parent
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    (driftloop_home() / "mlflow").mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen([str(bindir / "airflow"), "standalone"], env=env, start_new_session=True),
        subprocess.Popen(
            [
                str(bindir / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(args.mlflow_port),
                "--workers",
                "1",
                "--backend-store-uri",
                cfg.tracking_uri(),
                "--default-artifact-root",
                cfg.artifact_location(),
            ],
            env=env,
            start_new_session=True,
        ),
    ]
    pw = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    print(f"Airflow UI: http://127.0.0.1:{args.port}  (user admin, password in {pw})")
    print(f"MLflow UI:  http://127.0.0.1:{args.mlflow_port}")
    print("Ctrl-C stops both.")

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)  # a TERM stops both servers too, not only Ctrl-C
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    return 0


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--scenario", default="covariate_shift")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=Path("demo-out"))
    p.add_argument(
        "--start", type=_date, default=None, help="first simulated day (default 2026-01-01)"
    )
    p.add_argument("--drift-start", type=_date, default=None, help="default: mid-way")
    p.add_argument("--rows", type=int, default=2000, help="mean rows per day")


@command("demo", "simulate N days through the real DAGs: drift, retrain, new champion")(_demo_args)
def _demo(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.demo import DEFAULT_START, run_demo

    run_demo(
        args.days,
        args.scenario,
        args.seed,
        args.out,
        start=args.start or DEFAULT_START,
        drift_start=args.drift_start,
        rows=args.rows,
        config_path=cfg.source,
    )
    return 0
