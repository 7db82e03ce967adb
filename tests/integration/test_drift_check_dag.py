"""The drift_check DAG with dag.test(): report, retrain policy, the real trigger of `train`, the lock."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from driftloop.core.config import load_config
from driftloop.core.storage import DRIFT, partition_prefix
from driftloop.data import synth
from driftloop.model import registry
from driftloop.model.train import train_model
from driftloop.monitor.daily_check import mark_unscored
from tests.support.data import START, logical, write_days

# Small, fast models; the window and waits shrunk to the few days a test can afford.
FAST = {
    "TRAINING__HYPERPARAMETERS": "{max_iter: 20, max_depth: 3}",
    "DRIFT__MIN_SAMPLES": "500",
    "RETRAIN__MIN_LABELLED_DAYS_AFTER_DRIFT": "0",
    "RETRAIN__COOLDOWN_DAYS": "2",
}
TRAIN_END = START + timedelta(days=9)


def _champion_then_shift(cfg_factory, stationary_days: int) -> tuple[Any, Any]:
    """Config and store: ``stationary_days`` labelled days, a champion trained to TRAIN_END and
    promoted, then three covariate-shifted days."""
    from driftloop.core.storage import open_store

    cfg = cfg_factory(**FAST)
    store = open_store(cfg.storage)
    write_days(store, cfg, stationary_days, rows=800, label_delay=0)
    result = train_model(cfg, TRAIN_END, reason="test champion")
    registry.promote(cfg, result.model_version, reason="test", actor="pytest")
    shift_start = START + timedelta(days=stationary_days)
    shifted = synth.Scenario("covariate_shift", drift_start=shift_start)
    write_days(store, cfg, 3, start=shift_start, rows=800, scenario=shifted)
    return cfg, store


@pytest.fixture
def champion_env(cfg_factory):
    """The store after: a champion trained on 10 stationary days is promoted; 3 shifted days follow."""
    cfg, store = _champion_then_shift(cfg_factory, stationary_days=13)
    # Through scoring (the check waits for that); no predictions, so only feature drift counts.
    mark_unscored(cfg, [(START + timedelta(days=i)).isoformat() for i in range(16)], "test")
    return store


def _train_runs() -> list[Any]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == "churn__train").all()
        session.expunge_all()
        return runs


def _clear_train_runs() -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == "churn__train").delete()


def _report(store, day: date) -> dict[str, Any]:
    return json.loads(store.read_bytes(f"{partition_prefix(DRIFT, day)}/report.json"))


def test_drift_triggers_train_with_reason_and_report(dags, champion_env) -> None:
    store = champion_env
    _clear_train_runs()
    day = START + timedelta(days=15)
    dr = dags["churn__drift_check"].test(logical_date=logical(day))
    assert str(dr.state) == "success"

    report = _report(store, day)
    assert report["drift"]["status"] == "drift"
    assert set(report["drift"]["drifted"]) == set(synth.DEFAULT_SHIFTED)
    assert report["decision"]["retrain"] is True
    assert store.exists(f"{partition_prefix(DRIFT, day)}/report.html")

    runs = _train_runs()
    assert len(runs) == 1, "the trigger must start exactly one training run"
    conf = runs[0].conf
    assert conf["date"] == day.isoformat()
    assert conf["report_uri"].endswith(partition_prefix(DRIFT, day))
    assert "feature drift" in conf["reason"]
    assert report["trigger_conf"] == conf

    # The figures are in MLflow too, linked both ways with the champion version they checked.
    from mlflow import MlflowClient

    cfg = load_config()
    client = MlflowClient(tracking_uri=cfg.tracking_uri(), registry_uri=cfg.tracking_uri())
    exp = client.get_experiment_by_name(f"{cfg.experiment_name}-monitoring")
    (run,) = client.search_runs([exp.experiment_id], f"tags.`driftloop.check_date` = '{day}'")
    champion = registry.champion(cfg)
    assert run.data.tags["driftloop.model_version"] == str(champion.version)
    assert run.data.tags["driftloop.retrain"] == "true"
    assert run.data.metrics["psi.monthly_charges"] > cfg.drift.psi_threshold
    assert run.data.metrics["psi.age"] < cfg.drift.psi_threshold
    assert run.data.metrics["drift_share"] == pytest.approx(report["drift"]["drift_share"])
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {
        "report.json",
        "report.html",
    }
    tag = client.get_model_version(cfg.model_name, champion.version).tags[
        "driftloop.last_drift_check"
    ]
    assert tag == f"{day}: {run.info.run_id}"


def test_a_rerun_of_the_day_decides_the_same_and_triggers_nothing_twice(dags, champion_env) -> None:
    store = champion_env
    _clear_train_runs()
    day = START + timedelta(days=15)
    assert str(dags["churn__drift_check"].test(logical_date=logical(day)).state) == "success"
    first = _report(store, day)["decision"]
    (run,) = _train_runs()
    assert run.run_id == f"retrain__{day.isoformat()}"

    rerun = dags["churn__drift_check"].test(logical_date=logical(day))
    assert str(rerun.state) == "success"
    assert _report(store, day)["decision"] == first  # its own train run is not "someone else's"
    assert [r.run_id for r in _train_runs()] == [run.run_id]
    states = {ti.task_id: str(ti.state) for ti in rerun.get_task_instances()}
    assert states["trigger_train"] == "skipped"


def test_running_training_suppresses_the_trigger(dags, champion_env) -> None:
    """The 'already retraining' lock: with a train run queued, the check reports but triggers nothing."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    store = champion_env
    _clear_train_runs()
    day = START + timedelta(days=15)
    with create_session() as session:  # a queued run of `train`, as the scheduler would hold it
        session.add(
            DagRun(
                dag_id="churn__train",
                run_id="manual__already_running",
                run_type=DagRunType.MANUAL,
                state=DagRunState.QUEUED,
                conf={"reason": "someone else"},
                triggered_by=DagRunTriggeredByType.TEST,
            )
        )
    dr = dags["churn__drift_check"].test(logical_date=logical(day))
    assert str(dr.state) == "success"
    report = _report(store, day)
    assert report["drift"]["status"] == "drift"
    assert report["decision"]["retrain"] is False
    assert report["decision"]["reason"].startswith("suppressed: training already running")
    assert [r.run_id for r in _train_runs()] == ["manual__already_running"]


def test_no_drift_skips_the_trigger(dags, champion_env) -> None:
    store = champion_env
    _clear_train_runs()
    day = START + timedelta(days=12)  # the window holds stationary days only
    dr = dags["churn__drift_check"].test(logical_date=logical(day))
    assert str(dr.state) == "success"
    assert _report(store, day)["decision"]["retrain"] is False
    assert _train_runs() == []


def _scored_shift(cfg_factory, dags) -> tuple[Any, Any]:
    """A promoted champion, then three shifted days scored by the score DAG (labels not yet in)."""
    cfg, store = _champion_then_shift(cfg_factory, stationary_days=10)
    for i in range(10, 13):
        day = START + timedelta(days=i)
        run = dags["churn__score"].test(logical_date=logical(day), run_conf={"date": str(day)})
        assert str(run.state) == "success"
    return cfg, store


def test_the_check_estimates_the_champion_before_labels(dags, cfg_factory) -> None:
    from driftloop.monitor.estimates import read_estimates

    cfg, store = _scored_shift(cfg_factory, dags)
    _clear_train_runs()
    day = START + timedelta(days=12)
    assert str(dags["churn__drift_check"].test(logical_date=logical(day)).state) == "success"
    est = _report(store, day)["estimated_performance"]
    assert (est["method"], est["metric"]) == ("cbpe", "roc_auc")
    assert est["day"]["date"] == day.isoformat() and est["day"]["rows"] > 500
    assert 0.5 <= est["day"]["value"] <= 1 and est["window"]["value"] is not None
    assert est["tolerance"] == cfg.drift.performance_tolerance and est["reason"] is None
    drop = est["holdout_value"] - est["window"]["value"] > est["tolerance"]
    assert est["drop"] is drop
    decision = _report(store, day)["decision"]
    assert ("estimated_drop" in decision["fired"]) is drop
    files = read_estimates(store)
    assert files[day]["model_version"] == "1" and files[day]["value"] == est["day"]["value"]
    assert set(files[day]) == {
        "date", "model_version", "metric", "method", "value", "rows", "holdout_value"
    }  # fmt: skip
    html = store.read_bytes(f"{partition_prefix(DRIFT, day)}/report.html").decode()
    assert "Estimated before labels" in html


def test_a_champion_without_an_estimator_is_reported_not_fatal(dags, cfg_factory) -> None:
    import shutil
    from pathlib import Path
    from urllib.parse import urlparse

    from mlflow import MlflowClient

    cfg, store = _scored_shift(cfg_factory, dags)
    client = MlflowClient(tracking_uri=cfg.tracking_uri())
    run = client.get_run(registry.champion(cfg).run_id)
    shutil.rmtree(Path(urlparse(run.info.artifact_uri).path) / "estimator")  # an older model
    day = START + timedelta(days=12)
    assert str(dags["churn__drift_check"].test(logical_date=logical(day)).state) == "success"
    report = _report(store, day)
    est = report["estimated_performance"]
    assert est["reason"] == "no estimator for model version 1" and est["window"]["value"] is None
    assert report["decision"]["retrain"] is True  # without an estimate, drift retrains as before
