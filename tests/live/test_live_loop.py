"""The loop closes by itself under a real scheduler: nobody triggers anything, no ``dag.test()``.

A fresh deployment (standalone Airflow on an isolated home, DAGs unpaused, no model) receives
simulated days one after another, time compressed: the next day lands as soon as the previous one
is ingested. Everything else is the scheduler's doing: ingest (catchup runs whose deferred sensors
wake on arrival), score (on the ``validated`` asset), drift_check (one run per day, in order),
the bootstrap training of the first model, the drift alarm after the covariate shift, one retrain
and its promotion. Assertions go through the REST API, the MLflow registry and the storage.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.live.airflow_server import AirflowServer, log_text

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

DAYS = 16
SHIFT_DAY = 8  # index of the first day with shifted features
ROWS = 1500
# Small models and short waits: the loop's shape is what is under test, not the model's quality.
FAST = {
    "DRIFTLOOP__DATASET__LABEL_DELAY_DAYS": "1",
    "DRIFTLOOP__TRAINING__HOLDOUT_DAYS": "2",
    "DRIFTLOOP__TRAINING__HYPERPARAMETERS": "{max_iter: 40, max_depth: 4}",
    "DRIFTLOOP__RETRAIN__BOOTSTRAP_LABELLED_DAYS": "4",
    "DRIFTLOOP__RETRAIN__MIN_LABELLED_DAYS_AFTER_DRIFT": "4",
    "DRIFTLOOP__RETRAIN__COOLDOWN_DAYS": "3",
    "DRIFTLOOP__DRIFT__MIN_SAMPLES": "1000",
    "DRIFTLOOP__DRIFT__MIN_LABELLED_SAMPLES": "1000",
    "DRIFTLOOP_POKE_SECONDS": "2",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",  # the task logs are part of what is checked
}
LOOP_DAGS = ("ingest", "score", "drift_check", "train", "promote")


def _runs(server: AirflowServer, dag_id: str, last: date) -> list[dict[str, Any]]:
    """Runs of ``dag_id`` up to ``last`` (a run past midnight UTC would wait for tomorrow's data)."""
    runs = server.api("GET", f"dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]
    return [r for r in runs if (r["logical_date"] or r["run_after"])[:10] <= last.isoformat()]


def test_a_fresh_deployment_runs_the_whole_loop_by_itself(tmp_path: Path) -> None:
    from driftloop.core.config import load_config
    from driftloop.core.storage import DRIFT, PREDICTIONS, SCORING, VALIDATED, open_store
    from driftloop.data import synth
    from driftloop.model import registry

    t0 = time.monotonic()
    # The last day is today: Airflow 3 runs a daily schedule's run for D at D 00:00, so the
    # catchup runs are exactly these days (and each waits for its day to land).
    start = datetime.now(UTC).date() - timedelta(days=DAYS - 1)
    days = [start + timedelta(days=i) for i in range(DAYS)]
    env = {
        "DRIFTLOOP_START_DATE": start.isoformat(),
        "DRIFTLOOP__MLFLOW__TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        **FAST,
    }
    server = AirflowServer(tmp_path, env)
    cfg = load_config(environ={k: v for k, v in server.env.items() if k.startswith("DRIFTLOOP")})
    store = open_store(cfg.storage)
    scenario = synth.Scenario("covariate_shift", days[SHIFT_DAY])
    timings: dict[str, float] = {}
    try:
        server.start()
        for dag_id in LOOP_DAGS:
            server.unpause(dag_id)
        timings["ready"] = time.monotonic() - t0

        for day in days:  # the producer: one day after another, as soon as the last is ingested
            synth.write_day(store, cfg, day, scenario, seed=3, rows=ROWS, first_day=start)
            server.wait_for(
                lambda d=day: store.partition_exists(VALIDATED, d),
                180,
                f"{day} to be ingested",
                every=1,
            )
        timings["landed"] = time.monotonic() - t0

        last = days[-1]
        server.wait_for(
            lambda: store.partition_exists(DRIFT, last), 300, f"{last} to be checked", every=2
        )

        def settled() -> bool:
            busy = ("queued", "running")
            return not any(r["state"] in busy for d in LOOP_DAGS for r in _runs(server, d, last))

        server.wait_for(settled, 300, "every run to finish", every=3)
        timings["settled"] = time.monotonic() - t0

        # -- every landed day ingested, scored (or recorded as unscorable) and checked, once ----
        ingest_runs = _runs(server, "ingest", last)
        assert sorted(r["logical_date"][:10] for r in ingest_runs) == [d.isoformat() for d in days]
        assert {r["state"] for r in ingest_runs} == {"success"}
        checks = _runs(server, "drift_check", last)
        assert sorted(r["logical_date"][:10] for r in checks) == [d.isoformat() for d in days]
        assert {r["state"] for r in checks} == {"success"}, checks
        assert {r["run_type"] for r in ingest_runs + checks} == {"scheduled"}
        score_runs = _runs(server, "score", last)
        assert {r["run_type"] for r in score_runs} == {"asset_triggered"}
        assert {r["state"] for r in score_runs} == {"success"}
        for day in days:
            assert store.partition_exists(DRIFT, day), day
            assert store.partition_exists(PREDICTIONS, day) or store.partition_exists(
                SCORING, day
            ), day

        reports = {d: store.read_json(f"{DRIFT}/date={d.isoformat()}/report.json") for d in days}
        retrains = [d for d in days if reports[d]["decision"]["retrain"]]
        bootstrap_day, retrain_day = retrains  # exactly two decisions to train: no duplicates
        assert reports[bootstrap_day]["decision"]["bootstrap"] is True
        assert reports[retrain_day]["drift"]["status"] == "drift"
        alarms = [d for d in days if (reports[d].get("drift") or {}).get("status") == "drift"]
        assert alarms and alarms[0] >= days[SHIFT_DAY], alarms
        assert all(d < days[SHIFT_DAY] for d in days if d <= bootstrap_day)

        # -- the trainings the policy asked for ran, once each, and both were promoted ---------
        trains = sorted(_runs(server, "train", last), key=lambda r: r["dag_run_id"])
        assert [r["dag_run_id"] for r in trains] == [
            f"retrain__{bootstrap_day.isoformat()}",
            f"retrain__{retrain_day.isoformat()}",
        ]
        assert {r["state"] for r in trains} == {"success"}
        assert trains[0]["conf"]["reason"].startswith(f"drift_check {bootstrap_day}: bootstrap")
        assert "feature drift" in trains[1]["conf"]["reason"]
        assert trains[1]["conf"]["since"] >= days[SHIFT_DAY].isoformat()

        champion = registry.champion(cfg)
        previous = registry.version_by_alias(cfg, registry.PREVIOUS_CHAMPION)
        assert champion is not None and previous is not None
        assert (str(previous.version), str(champion.version)) == ("1", "2")

        # Each task log says what the task decided, without library noise.
        check_log = log_text(
            server.task_log("drift_check", f"scheduled__{retrain_day}T00:00:00+00:00", "check")
        )
        assert f"{retrain_day} vs champion v1: drift (drift share" in check_log, check_log
        assert f"{retrain_day}: decision: {reports[retrain_day]['decision']['reason']}" in check_log
        assert server.noisy_task_logs() == {}

        # Days checked after the promotion compare against the new champion's profile.
        after = [d for d in days if d > retrain_day]
        assert {str(reports[d]["champion_version"]) for d in after} <= {"1", "2"}
    except BaseException:
        print(server.dump_logs())
        raise
    finally:
        server.stop()
        timings["total"] = time.monotonic() - t0
        print("live loop timings (s):", {k: round(v, 1) for k, v in timings.items()})
