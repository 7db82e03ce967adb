"""Benchmark of scale-out: scoring a backlog of N partitions with 1 vs 2 Celery workers.

The production shape runs natively (tests/support/celery_stack.py: scheduler, dag-processor,
triggerer, api-server, two Celery workers, an MLflow server, S3 on moto, metadata on the machine's
PostgreSQL, the broker on its Redis). A champion is trained and registered on the MLflow server and
N validated partitions are written to S3. Then the backlog is scored twice, one ``score`` run per
partition (``conf["date"]``), all requested at once:

- with 1 worker: the second worker stops consuming the Airflow queue (Celery ``cancel_consumer``),
  so every task goes to the first;
- with 2 workers: it consumes again.

Each figure is the wall time from the first run requested to the last run finished (scheduling,
queueing and the tasks' own start-up included: what an operator waits for). The ratio is
2 workers / 1 worker (ideal 0.5; the goal, <= 0.75, leaves room for the scheduler's share and for a
2-core machine shared with other work). One worker slot each (``--concurrency``), so the number
of workers is the number of tasks at a time.

Needs PostgreSQL and Redis on this machine (``DRIFTLOOP_TEST_PG_HOST`` / ``..._REDIS_HOST`` as the
service tier). Usage: ``python bench/scale_workers.py [--quick] [--partitions N] [--rows N]``
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import REPO, emit, goal, parser, stdout_to_stderr, train_champion

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.celery_stack import CeleryStack
from tests.support.data import START, write_days

DAG = "churn__score"
WORKERS = ("worker-a", "worker-b")
QUEUE = "default"  # Airflow's [operators] default_queue: where the CeleryExecutor sends tasks


def _node(worker: str) -> str:
    return f"{worker}@{socket.gethostname()}"


def _consume(stack: CeleryStack, worker: str, on: bool) -> None:
    """Make ``worker`` start or stop taking tasks from the Airflow queue (it keeps running)."""
    from celery import Celery

    app = Celery(broker=stack.broker_url)
    try:
        control = app.control.add_consumer if on else app.control.cancel_consumer
        replies = control(QUEUE, destination=[_node(worker)], reply=True, timeout=5.0)
    finally:
        app.close()
    if not replies:
        raise RuntimeError(f"{worker} did not answer to {'add' if on else 'cancel'}_consumer")


def _score_backlog(stack: CeleryStack, days: list[str], label: str) -> dict[str, Any]:
    """Request one score run per day at once; wait for all; the wall time and where tasks ran."""
    t0 = time.perf_counter()
    run_ids = [
        stack.api(
            "POST",
            f"dags/{DAG}/dagRuns",
            json={"dag_run_id": f"{label}__{d}", "logical_date": None, "conf": {"date": d}},
        )["dag_run_id"]
        for d in days
    ]

    def all_done() -> list[dict[str, Any]] | None:
        runs = [stack.api("GET", f"dags/{DAG}/dagRuns/{r}") for r in run_ids]
        return runs if all(r["state"] in ("success", "failed") for r in runs) else None

    runs = stack.wait_for(all_done, 1200, f"{len(days)} score runs ({label})", every=0.5)
    wall = time.perf_counter() - t0
    failed = [r["dag_run_id"] for r in runs if r["state"] != "success"]
    if failed:
        raise RuntimeError(f"score runs failed: {failed}\n{stack.task_log_tails()}")
    hosts = Counter(
        ti["hostname"]
        for ti in stack.task_instances(DAG)
        if ti["dag_run_id"] in run_ids and ti["task_id"] == "score_partition"
    )
    return {"wall_s": wall, "score_tasks_by_worker": dict(sorted(hosts.items()))}


def run(partitions: int, rows: int, concurrency: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="driftloop-scale-"))
    stack = CeleryStack(home, workers=WORKERS, concurrency=concurrency)
    t0 = time.perf_counter()
    try:
        with stack:
            ready_s = time.perf_counter() - t0
            # This process writes data and trains as a task would: the stack's variables.
            for k, v in stack.env.items():
                if k.startswith(("DRIFTLOOP", "AWS_", "MLFLOW_")):
                    os.environ[k] = v
            from driftloop.core.config import load_config
            from driftloop.core.storage import open_store

            cfg = load_config()
            train_champion(cfg)
            backlog_start = START + timedelta(days=20)
            store = open_store(cfg.storage)
            write_days(store, cfg, partitions, start=backlog_start, rows=rows, label_delay=0)
            days = [str(backlog_start + timedelta(days=i)) for i in range(partitions)]
            stack.unpause(DAG)
            _score_backlog(stack, days[:2], "warmup")  # each worker's first task imports cold

            _consume(stack, WORKERS[1], on=False)
            one = _score_backlog(stack, days, "one_worker")
            _consume(stack, WORKERS[1], on=True)
            two = _score_backlog(stack, days, "two_workers")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return {
        "stack_ready_s": ready_s,
        "one_worker": one,
        "two_workers": two,
        "total_s": time.perf_counter() - t0,
    }


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--partitions", type=int, default=None, help="backlog size (default 8)")
    ap.add_argument("--rows", type=int, default=None, help="rows a partition (default 20000)")
    ap.add_argument("--concurrency", type=int, default=1, help="task slots per worker")
    args = ap.parse_args()
    partitions = args.partitions or (4 if args.quick else 8)
    rows = args.rows or (2_000 if args.quick else 20_000)
    with stdout_to_stderr():
        out = run(partitions, rows, args.concurrency)
    ratio = out["two_workers"]["wall_s"] / out["one_worker"]["wall_s"]
    emit(
        "scale_workers",
        {
            "partitions": partitions,
            "rows_per_partition": rows,
            "slots_per_worker": args.concurrency,
            "one_worker_s": out["one_worker"]["wall_s"],
            "two_workers_s": out["two_workers"]["wall_s"],
            "two_vs_one_workers": goal(ratio, 0.75),
            "one_worker_tasks": out["one_worker"]["score_tasks_by_worker"],
            "two_workers_tasks": out["two_workers"]["score_tasks_by_worker"],
            "stack_ready_s": out["stack_ready_s"],
            "total_s": out["total_s"],
        },
        save=not args.no_save,
        extra_packages=("apache-airflow", "celery"),
    )


if __name__ == "__main__":
    main()
