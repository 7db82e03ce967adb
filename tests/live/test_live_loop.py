"""The loop closes by itself under a real scheduler: nobody triggers anything, no ``dag.test()``.

A fresh deployment (standalone Airflow on an isolated home, DAGs unpaused, no model) receives
simulated days one after another, time compressed: the next day lands as soon as the previous one
is ingested. Everything else is the scheduler's doing: ingest (catchup runs whose deferred sensors
wake on arrival), score (on the ``validated`` asset), drift_check (one run per day, in order),
the bootstrap training of the first model, the drift alarm after the covariate shift, one retrain
and its promotion. Assertions go through the REST API, the MLflow registry and the storage.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.airflow_server import AirflowServer, log_text
from tests.support.loop_checks import (
    LoopRun,
    check_bootstrap_alarm_retrain,
    check_every_day_went_through,
    check_second_model_is_champion,
)

pytestmark = pytest.mark.timeout(900)


def test_a_fresh_deployment_runs_the_whole_loop_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftloop.core.storage import PREDICTIONS, SCORING, VALIDATED

    loop = LoopRun("live loop")
    tracking = {"DRIFTLOOP__MLFLOW__TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    server = AirflowServer(tmp_path, {**loop.env, **tracking})
    with loop.deployed(server, monkeypatch):
        loop.feed_and_settle()
        store, days = loop.store, loop.days

        check_every_day_went_through(server, store, days)
        reports, _, retrain_day = check_bootstrap_alarm_retrain(server, store, days, loop.shift)
        check_second_model_is_champion(loop.cfg)

        # The first promotion's model event started a score run for the backlog: the days
        # validated before any champion existed were scored once, by version 1.
        assert store.partitions(PREDICTIONS) == store.partitions(VALIDATED)
        backlog = [
            d
            for d in days
            if store.partition_exists(SCORING, d)
            and store.read_json(f"{SCORING}/date={d.isoformat()}/status.json").get("backlog")
        ]
        assert backlog and backlog[0] == days[0], backlog
        for d in backlog:
            assert set(store.read_table(PREDICTIONS, d)["model_version"]) == {"1"}, d

        # Each task log says what the task decided, without library noise.
        check_log = log_text(
            server.task_log(
                "churn__drift_check", f"scheduled__{retrain_day}T00:00:00+00:00", "check"
            )
        )
        assert f"{retrain_day} vs champion v1: drift (drift share" in check_log, check_log
        assert f"{retrain_day}: decision: {reports[retrain_day]['decision']['reason']}" in check_log
        assert server.noisy_task_logs() == {}

        # Days checked after the promotion compare against the new champion's profile.
        after = [d for d in days if d > retrain_day]
        assert {str(reports[d]["champion_version"]) for d in after} <= {"1", "2"}
