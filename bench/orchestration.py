"""Benchmark of orchestration overhead: a simulated day through the DAGs vs the same stage calls.

Two fresh processes, each with its own state (storage, MLflow sqlite store, Airflow sqlite DB) and a
champion trained first, land the same synthetic days (``synth.write_day``) and run each day's chain:
- through the DAGs with ``dag.test()`` (``driftloop.demo.run.DemoRunner``): ingest, score,
  drift_check (its trigger_train marked successful, as the demo does);
- calling the stage functions directly: ``ingest_partition``, ``score_partition``,
  ``run_daily_check``.
The first day of each is a warm-up; the median of the others is compared: the DAGs' overhead,
``(dags - direct) / direct``, has the goal <= 1x the work. Also the CLI's start-up as a user sees
it (a new interpreter each call, median after a warm-up): ``driftloop --help`` and a no-op stage,
``driftloop ingest --date D`` with nothing landed (exit 3); goal <= 1.5 s each. ``--demo-days N``
adds an opt-in run of ``driftloop demo --days N`` (goal: 60 days in <= 3 minutes, i.e. 3 s a day).

Usage: ``python bench/orchestration.py [--quick] [--days N] [--rows N] [--demo-days N]``
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from _common import REPO, emit, goal, in_child, isolated_driftloop, parser, train_champion

FIRST = date(2026, 1, 11)  # after the champion's ten training days
CLI = str(Path(sys.executable).with_name("driftloop"))


def _land(cfg: Any, day: date, rows: int) -> None:
    from driftloop.core.storage import open_store
    from driftloop.data import synth

    synth.write_day(open_store(cfg.storage), cfg, day, synth.Scenario(), 7, rows, first_day=FIRST)


def _phase_dags(state: str, days: int, rows: int) -> dict[str, Any]:
    from driftloop.demo.run import DemoRunner

    runner = DemoRunner(Path(state))  # sets the Airflow and driftloop env, parses dags/
    train_champion(runner.cfg)
    times, states = [], []
    for i in range(days):
        day = FIRST + timedelta(days=i)
        _land(runner.cfg, day, rows)
        t0 = time.perf_counter()
        states.append(runner.run("ingest", day))
        states.append(runner.run("score", day, {"date": day.isoformat()}))
        states.append(runner.run("drift_check", day, mark_success="trigger_train"))
        times.append(time.perf_counter() - t0)
    if any(s != "success" for s in states):
        raise RuntimeError(f"a DAG run did not succeed: {states}")
    return {"dag_day_s": statistics.median(times[1:]), "dag_first_day_s": times[0]}


def _phase_direct(state: str, days: int, rows: int) -> dict[str, Any]:
    from driftloop.data.ingest import ingest_partition
    from driftloop.model.scoring import score_partition
    from driftloop.monitor.daily_check import run_daily_check

    cfg = isolated_driftloop(Path(state))
    train_champion(cfg)
    times = []
    for i in range(days):
        day = FIRST + timedelta(days=i)
        _land(cfg, day, rows)
        t0 = time.perf_counter()
        ingest_partition(cfg, day)
        score_partition(cfg, day)
        run_daily_check(cfg, day)
        times.append(time.perf_counter() - t0)
    return {"direct_day_s": statistics.median(times[1:]), "direct_first_day_s": times[0]}


def _cli_env(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP")}
    env |= {"DRIFTLOOP_HOME": str(state), "DRIFTLOOP__STORAGE__ROOT": str(state / "data")}
    # As `make` runs it: bytecode cached in one folder even where PYTHONDONTWRITEBYTECODE is set.
    env.setdefault("PYTHONPYCACHEPREFIX", str(REPO / ".driftloop" / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _time_cli(args: list[str], env: dict[str, str], repeats: int, expect: int) -> float:
    times = []
    for i in range(repeats + 1):  # the first call is a warm-up (bytecode cache, disk cache)
        t0 = time.perf_counter()
        done = subprocess.run([CLI, *args], env=env, capture_output=True, check=False)
        if done.returncode != expect:
            raise RuntimeError(f"driftloop {args}: exit {done.returncode}: {done.stderr[-500:]!r}")
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--days", type=int, default=None, help="days through each path (1 warm-up)")
    ap.add_argument("--rows", type=int, default=None, help="rows a day (the demo's 2000)")
    ap.add_argument("--demo-days", type=int, default=0, help="also time `driftloop demo` (opt-in)")
    args = ap.parse_args(argv)
    days = args.days or (2 if args.quick else 4)
    rows = args.rows or (500 if args.quick else 2000)
    repeats = 1 if args.quick else args.repeats
    out: dict[str, Any] = {"days_timed": days - 1, "rows_per_day": rows}
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as tmp:
        out |= in_child(_phase_dags, str(Path(tmp) / "dags"), days, rows)
        out |= in_child(_phase_direct, str(Path(tmp) / "direct"), days, rows)
        env = _cli_env(Path(tmp) / "cli")
        help_s = _time_cli(["--help"], env, repeats, 0)
        noop_s = _time_cli(["ingest", "--date", "2030-01-01"], env, repeats, 3)
        if args.demo_days:
            t0 = time.perf_counter()
            subprocess.run(
                [CLI, "demo", "--days", str(args.demo_days), "--out", str(Path(tmp) / "demo")],
                env=env,
                capture_output=True,
                check=True,
            )
            demo_s = time.perf_counter() - t0
            out["demo_days"] = args.demo_days
            out["demo_s"] = demo_s
            out["demo_s_per_day"] = goal(demo_s / args.demo_days, 3.0, unit=" s (180 s / 60 days)")
    out["dag_overhead"] = goal((out["dag_day_s"] - out["direct_day_s"]) / out["direct_day_s"], 1.0)
    out["cli_help_s"] = goal(help_s, 1.5, unit=" s")
    out["cli_noop_stage_s"] = goal(noop_s, 1.5, unit=" s")
    out["cli_pycache_prefix"] = env.get("PYTHONPYCACHEPREFIX")
    emit("orchestration", out, save=not args.no_save, extra_packages=("apache-airflow",))
    return 0


if __name__ == "__main__":
    sys.exit(main())
