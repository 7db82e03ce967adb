"""Local conveniences: `driftloop airflow` / `stop` / `status` (Airflow and the MLflow UI on this
machine, see driftloop.local.stack) and `driftloop demo` (in-process, or `--live` through them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from driftloop.cli.app import command, iso_date
from driftloop.core.config import PipelineConfig, driftloop_home
from driftloop.core.errors import exit_code_for

if TYPE_CHECKING:
    from driftloop.local.stack import StackState


def _airflow_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8080, help="Airflow UI port (default 8080)")
    p.add_argument("--mlflow-port", type=int, default=5000, help="MLflow UI port (default 5000)")
    p.add_argument(
        "--foreground",
        action="store_true",
        help="stay attached: Ctrl-C stops both servers (default: run in the background)",
    )
    p.add_argument(
        "--timeout", type=float, default=240, help="seconds to wait for both to be ready"
    )


def _stop_hint(home: str) -> str:
    if Path(home) == driftloop_home():
        return "make stop  (or: driftloop stop)"
    return f"DRIFTLOOP_HOME={home} driftloop stop"


def _refusal(state: StackState) -> str:
    lines = "\n".join(f"  {line}" for line in state.describe())
    return (
        f"driftloop: a local stack is already running from {state.home}:\n{lines}\n"
        f"Stop it with: {_stop_hint(state.home)}\n"
        "(or run another one with its own DRIFTLOOP_HOME and ports)"
    )


@command(
    "airflow",
    "start Airflow (standalone) and the MLflow UI on this machine, state in DRIFTLOOP_HOME "
    "(refuses, exit 3, if they already run from there)",
    human=True,
)(_airflow_args)
def _airflow(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.local import stack

    home = driftloop_home()
    running = stack.status(home)
    if running is not None:
        print(_refusal(running), file=sys.stderr)
        return stack.EXIT_ALREADY_RUNNING
    print(f"Starting Airflow and MLflow from {home} (under a minute) ...", flush=True)
    try:
        state, supervisor = stack.start(
            home,
            port=args.port,
            mlflow_port=args.mlflow_port,
            extra_env={"DRIFTLOOP_CONFIG": cfg.source} if cfg.source else None,
            foreground=args.foreground,
            ready_timeout=args.timeout,
        )
    except stack.AlreadyRunning as err:
        print(_refusal(err.state), file=sys.stderr)
        return stack.EXIT_ALREADY_RUNNING
    except stack.PortInUse as err:
        print(
            f"driftloop: {err}; pick free ports, e.g. `make airflow PORT=8081 MLFLOW_PORT=5001`",
            file=sys.stderr,
        )
        return err.exit_code
    except stack.StackError as err:  # its message holds the servers' last log lines
        print(f"driftloop: {err}", file=sys.stderr)
        return err.exit_code
    hint = _stop_hint(str(home))
    if args.foreground:
        hint = f"Ctrl-C, or {hint}"
    print(f"Ready.\n{stack.banner(state, stop_hint=hint)}", flush=True)
    if not args.foreground:
        return 0
    try:
        supervisor.wait()
    except KeyboardInterrupt:
        # The supervisor got the same Ctrl-C (same process group) and is stopping both servers.
        print("\nStopping ...", flush=True)
        supervisor.wait()
    print("Stopped.")
    return 0


@command(
    "stop",
    "stop what `driftloop airflow` started from DRIFTLOOP_HOME",
    human=True,
    needs_config=False,
)(lambda p: None)
def _stop(args: argparse.Namespace, cfg: None) -> int:
    from driftloop.local import stack

    home = driftloop_home()
    state = stack.status(home)
    if state is None:
        print(f"Nothing is running from {home}.")
        return 0
    print(f"Stopping the local stack of {home} ...", flush=True)
    stopped = stack.stop(home)
    for ref in stopped:
        where = f" {ref.url}" if ref.url else ""
        print(f"  stopped {ref.name}{where} (process group {ref.pid})")
    print("Stopped." if stopped else "Nothing was left running.")
    return 0


@command(
    "status",
    "say whether the local stack of DRIFTLOOP_HOME runs, with URLs and login",
    human=True,
    needs_config=False,
)(lambda p: None)
def _status(args: argparse.Namespace, cfg: None) -> int:
    from driftloop.local import stack

    home = driftloop_home()
    state = stack.status(home)
    if state is None:
        print(f"Nothing is running from {home}. Start it with `make airflow`.")
        return 1
    banner = stack.banner(state, stop_hint=_stop_hint(str(home)))
    print(f"Running from {home} since {state.started_at}.\n{banner}")
    return 0


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--days", type=int, default=None, help="default 60 (live: 25)")
    p.add_argument("--scenario", default="covariate_shift")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=None, help="default demo-out (live: demo-out/live)")
    p.add_argument(
        "--start", type=iso_date, default=None, help="first simulated day (default 2026-01-01)"
    )
    p.add_argument("--drift-start", type=iso_date, default=None, help="default: mid-way")
    p.add_argument(
        "--rows", type=int, default=None, help="mean rows per day (default 2000; live: 1000)"
    )
    p.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="summary.json of the same simulation run with another config (e.g. "
        "DRIFTLOOP__RETRAIN__ESTIMATED_DROP_SIGNAL=false): report the days saved against it",
    )
    live = p.add_argument_group(
        "live mode", "the same history through a real local Airflow scheduler and MLflow server"
    )
    live.add_argument(
        "--live",
        action="store_true",
        help="land each day and let the scheduler do the rest (about a minute per day)",
    )
    live.add_argument("--port", type=int, help="Airflow UI port (default 8080, else a free one)")
    live.add_argument("--mlflow-port", type=int, help="MLflow UI port (default 5000, else free)")
    live.add_argument(
        "--keep-running", action="store_true", help="leave the stack up afterwards to look around"
    )


@command(
    "demo",
    "simulate N days through the real DAGs: drift, retrain, new champion",
    human=True,
    stoppable=True,
)(_demo_args)
def _demo(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.demo import run as demo
    from driftloop.local import stack

    live = args.live
    if live and args.baseline:
        print("driftloop: --baseline compares in-process demo runs, not --live", file=sys.stderr)
        return 2
    common = {
        "days": args.days or (25 if live else 60),
        "scenario": args.scenario,
        "seed": args.seed,
        "out": args.out or Path("demo-out/live" if live else "demo-out"),
        "start": args.start or demo.DEFAULT_START,
        "drift_start": args.drift_start,
        "rows": args.rows or (1000 if live else 2000),
        "config_path": cfg.source,
    }
    if not live:
        demo.run_demo(**common, baseline=args.baseline)
        return 0
    try:
        demo.run_live_demo(
            **common,
            port=args.port,
            mlflow_port=args.mlflow_port,
            keep_running=args.keep_running,
        )
    except stack.AlreadyRunning as err:
        print(_refusal(err.state), file=sys.stderr)
        return stack.EXIT_ALREADY_RUNNING
    except stack.StackError as err:
        print(f"driftloop: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (Terminated): the stack was stopped
        print(f"driftloop: {str(err) or 'interrupted'}", file=sys.stderr)
        return exit_code_for(err)
    return 0


def _replay_args(p: argparse.ArgumentParser) -> None:
    from driftloop.cli.data import add_history_args

    add_history_args(p)
    p.add_argument("--out", type=Path, default=Path("replay-out"), help="default replay-out")


@command(
    "replay",
    "drive a history table (CSV or Parquet) through the real DAGs partition by partition, like "
    "the demo: ingest, score, check, retrain; the table and summary in --out",
    human=True,
    stoppable=True,
)(_replay_args)
def _replay(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.demo.replay import run_replay

    run_replay(
        args.source,
        args.out,
        config_path=cfg.source,
        period=args.period,
        label_delay=args.label_delay,
    )
    return 0
