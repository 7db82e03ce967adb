"""The production shape closes the loop by itself: CeleryExecutor with two workers, Postgres, Redis,
an MLflow server, S3 — the compose stack run natively (``tests/service/celery_stack.py``).

A fresh deployment (DAGs unpaused, no model) receives simulated days in the S3 landing zone, one
after another, time compressed. Nobody triggers anything: ingest's catchup runs wake on arrival,
score runs on the ``validated`` asset, drift_check checks each day in order, trains the first model
(bootstrap), raises a drift alarm after the covariate shift and retrains; the new model is promoted
in the MLflow server's registry. Task instances are spread over both Celery workers, and each one
records the worker that ran it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.loop_checks import (
    FAST,
    LOOP_DAGS,
    check_bootstrap_alarm_retrain,
    check_every_day_went_through,
    check_second_model_is_champion,
    feed,
    wait_settled,
)
from tests.service.celery_stack import CeleryStack

pytestmark = [pytest.mark.service, pytest.mark.timeout(900)]

DAYS = 16
SHIFT_DAY = 8  # index of the first day with shifted features
ROWS = 1500
WORKERS = ("worker-a", "worker-b")


def test_the_loop_closes_on_two_celery_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    from driftloop.core.config import load_config
    from driftloop.core.storage import open_store

    t0 = time.monotonic()
    start = datetime.now(UTC).date() - timedelta(days=DAYS - 1)
    days = [start + timedelta(days=i) for i in range(DAYS)]
    env = {"DRIFTLOOP__SCHEDULE__START_DATE": start.isoformat(), **FAST}
    # Not tmp_path: pytest prunes old temp folders, and a failed run's logs should stay readable.
    home = Path(tempfile.mkdtemp(prefix="driftloop-celery-"))
    stack = CeleryStack(home, workers=WORKERS, concurrency=2, extra_env=env)
    timings: dict[str, float] = {}
    with stack:
        try:
            timings["ready"] = time.monotonic() - t0
            # The test process reads the store and the registry as a task does: same variables.
            cfg = load_config(environ={k: v for k, v in stack.env.items() if k.startswith("DRIFT")})
            for k, v in stack.env.items():
                if k.startswith(("AWS_", "MLFLOW_")):
                    monkeypatch.setenv(k, v)
            assert cfg.storage.root == stack.storage_root
            assert cfg.tracking_uri() == stack.mlflow_url
            store = open_store(cfg.storage)
            for dag_id in LOOP_DAGS:
                stack.unpause(dag_id)

            feed(stack, store, cfg, days, days[SHIFT_DAY], ROWS)
            timings["landed"] = time.monotonic() - t0
            wait_settled(stack, store, days[-1])
            timings["settled"] = time.monotonic() - t0

            check_every_day_went_through(stack, store, days)
            check_bootstrap_alarm_retrain(stack, store, days, days[SHIFT_DAY])
            # Promoted in the MLflow server's registry (Postgres), the model files on S3.
            check_second_model_is_champion(cfg)
            artifacts = stack.s3().list_objects_v2(Bucket=stack.bucket, Prefix="data/mlflow")
            assert any(o["Key"].endswith("/MLmodel") for o in artifacts.get("Contents", []))

            # Tasks ran on both workers, and nowhere else.
            ran_on: dict[str, list[str]] = defaultdict(list)
            for dag_id in LOOP_DAGS:
                for ti in stack.task_instances(dag_id):
                    if ti["state"] == "success":
                        ran_on[ti["hostname"]].append(f"{dag_id}.{ti['task_id']}")
            for host, tasks in sorted(ran_on.items()):
                print(
                    f"{host}: {len(tasks)} task instances: {dict(sorted(Counter(tasks).items()))}"
                )
            assert set(ran_on) == set(WORKERS), dict(ran_on)
        except BaseException:
            print(stack.task_log_tails())
            print(f"logs kept in {home}")
            raise
        finally:
            timings["checked"] = time.monotonic() - t0
    shutil.rmtree(home, ignore_errors=True)
    # Wall time of the whole run, start-up and clean-up included.
    timings["total"] = time.monotonic() - t0
    print("celery loop timings (s):", {k: round(v, 1) for k, v in timings.items()})
