"""The production shape closes the loop by itself: CeleryExecutor with two workers, Postgres, Redis,
an MLflow server, S3 — the compose stack run natively (``tests/support/celery_stack.py``).

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
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.support.celery_stack import CeleryStack
from tests.support.loop_checks import (
    LOOP_DAGS,
    LoopRun,
    check_bootstrap_alarm_retrain,
    check_every_day_went_through,
    check_second_model_is_champion,
)

pytestmark = pytest.mark.timeout(900)

WORKERS = ("worker-a", "worker-b")


def test_the_loop_closes_on_two_celery_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = LoopRun("celery loop")
    # Not tmp_path: pytest prunes old temp folders, and a failed run's logs should stay readable.
    home = Path(tempfile.mkdtemp(prefix="driftloop-celery-"))
    stack = CeleryStack(home, workers=WORKERS, concurrency=2, extra_env=loop.env)
    try:
        with loop.deployed(stack, monkeypatch):
            # The test process reads what the tasks write: the same bucket, the same server.
            assert loop.cfg.storage.root == stack.storage_root
            assert loop.cfg.tracking_uri() == stack.mlflow_url
            loop.feed_and_settle()

            check_every_day_went_through(stack, loop.store, loop.days)
            check_bootstrap_alarm_retrain(stack, loop.store, loop.days, loop.shift)
            # Promoted in the MLflow server's registry (Postgres), the model files on S3.
            check_second_model_is_champion(loop.cfg)
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
    shutil.rmtree(home, ignore_errors=True)
