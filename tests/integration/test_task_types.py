"""Multiclass and regression pipelines through the real loop with dag.test().

For each example config (configs/examples/): the demo source lands a short history (events and late
labels), the ``ingest`` DAG validates it with the real GX suite, ``train`` fits, logs to the real
MLflow sqlite registry and gates the first model, ``score`` writes the task's prediction columns,
``drift_check`` measures feature and prediction drift and live performance with the task's primary
metric, and a second training is gated against the champion in the metric's own direction.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from driftloop.core.config import CONFIG_ENV, project_root
from driftloop.core.metrics import PREDICTION, metric_table, proba_column
from driftloop.core.pipelines import split_dag_id
from driftloop.core.storage import DRIFT, LABELS, PREDICTIONS, VALIDATED
from driftloop.data import synth
from driftloop.model import registry
from tests.support.data import START

# A short history: labels a day late, a 4-day training window, small models and samples.
FAST = {
    "DATASET__LABEL_DELAY_DAYS": "1",
    "TRAINING__WINDOW_DAYS": "4",
    "TRAINING__HOLDOUT_DAYS": "1",
    "TRAINING__MIN_TRAIN_ROWS": "300",
    "TRAINING__HYPERPARAMETERS": "{max_iter: 30, max_depth: 3}",
    "DRIFT__WINDOW_DAYS": "2",
    "DRIFT__MIN_SAMPLES": "400",
    "DRIFT__MIN_LABELLED_SAMPLES": "300",
    "DRIFT__PERFORMANCE_WINDOW_DAYS": "1",
}
DAYS = 6  # events of days 0-5, labels of days 0-4
SHIFT = START + timedelta(days=4)  # covariate shift from day 4: the champion's inputs move
FIRST_END = START + timedelta(days=3)


def _run(dag: Any, day: Any, conf: dict[str, Any] | None = None, skip: str | None = None) -> str:
    from driftloop.airflow.driver import run_dag

    return run_dag(dag, day, conf, mark_success=skip)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_the_loop_runs_for_the_task(task: str, airflow_db, cfg_factory, monkeypatch) -> None:
    import mlflow
    from airflow.dag_processing.dagbag import DagBag

    from driftloop.core.storage import open_store

    monkeypatch.setenv(CONFIG_ENV, str(project_root() / "configs" / "examples" / f"{task}.yaml"))
    cfg = cfg_factory(**FAST)
    bag = DagBag(dag_folder=str(project_root() / "dags"))
    assert not bag.import_errors
    dags = {split_dag_id(k)[1]: v for k, v in bag.dags.items()}
    assert cfg.dataset.task == task
    table = metric_table(task)
    store = open_store(cfg.storage)
    scenario = synth.Scenario("covariate_shift", SHIFT)

    # Land and ingest every day (real GX suite; labels of a non-binary target are accepted).
    for i in range(DAYS):
        day = START + timedelta(days=i)
        synth.write_day(store, cfg, day, scenario, seed=3, rows=600, first_day=START)
        assert _run(dags["ingest"], day, {"date": day.isoformat()}) == "success"
    assert len(store.partitions(VALIDATED)) == DAYS
    assert len(store.partitions(LABELS)) == DAYS - 1
    assert store.partitions("quarantine") == []
    labels = store.read_table(LABELS, START)[cfg.dataset.target]
    if task == "multiclass":
        assert set(labels) <= {"0", "1", "2"} and labels.nunique() == 3
    else:
        assert labels.dtype == "float64" and labels.nunique() > 100

    # Train, log, register and gate the first model.
    conf = {"date": FIRST_END.isoformat(), "reason": "bootstrap: first model"}
    assert _run(dags["train"], FIRST_END, conf) == "success"
    assert registry.aliases(cfg) == {"champion": "1"}
    client = mlflow.MlflowClient(cfg.tracking_uri())
    mv = client.get_model_version(cfg.model_name, "1")
    run = client.get_run(mv.run_id)
    assert run.data.params["task"] == task
    assert set(table.names) <= set(run.data.metrics)  # the task's metrics, under their own names
    plots = {a.path for a in client.list_artifacts(mv.run_id, "plots")}
    if task == "multiclass":
        assert json.loads(run.data.params["classes"]) == ["0", "1", "2"]
        assert {"recall_0", "recall_1", "recall_2"} <= set(run.data.metrics)
        assert "plots/confusion_matrix.png" in plots and "plots/roc_curve.png" not in plots
    else:
        assert {"plots/residuals.png", "plots/predicted_vs_actual.png"} <= plots
        assert "decision_threshold" not in run.data.params
    gate = store.read_json(f"registry/decisions/{cfg.model_name}/v1-gate.json")["decision"]
    assert (gate["rule"], gate["primary_metric"]) == ("first_model", table.primary)

    # Score the days after the training window with the champion: the task's columns.
    for day in (START + timedelta(days=4), START + timedelta(days=5)):
        assert _run(dags["score"], day, {"date": day.isoformat()}) == "success"
    preds = store.read_table(PREDICTIONS, START + timedelta(days=5))
    if task == "multiclass":
        probas = [proba_column(c) for c in ("0", "1", "2")]
        assert set(probas) | {"predicted_label", "score"} <= set(preds.columns)
        assert preds[probas].sum(axis=1).round(6).eq(1).all()
        assert set(preds["predicted_label"]) <= {"0", "1", "2"}
    else:
        assert PREDICTION in preds.columns and "score" not in preds.columns
        assert preds[PREDICTION].dtype == "float64"

    # The daily check: feature and prediction drift on the shifted days, live primary metric.
    day = START + timedelta(days=5)
    assert _run(dags["drift_check"], day, skip="trigger_train") == "success"
    report = store.read_json(f"{DRIFT}/date={day.isoformat()}/report.json")
    prediction = report["drift"]["prediction"]
    assert prediction is not None and prediction["drifted"], prediction
    if task == "multiclass":
        assert set(prediction["per_column_psi"]) == set(probas)
        assert prediction["column"] in probas
    else:
        assert prediction["column"] == PREDICTION
    perf = report["performance"]
    assert perf["primary_metric"] == table.primary and perf["n_labelled"] >= 300
    assert set(table.names) <= set(perf["live"])  # the report names the task's metrics
    live, holdout = perf["live"][table.primary], perf["holdout"][table.primary]
    assert perf["decay"] == pytest.approx(table.regression(table.primary, live, holdout))

    # A second training, gated against the champion in the primary metric's direction.
    end = START + timedelta(days=4)
    conf = {"date": end.isoformat(), "reason": "test: second model"}
    assert _run(dags["train"], end, conf) == "success"
    gate = store.read_json(f"registry/decisions/{cfg.model_name}/v2-gate.json")["decision"]
    new, old = gate["challenger_metrics"], gate["champion_metrics"]
    assert set(table.names) <= set(old)
    gain = table.improvement(table.primary, new[table.primary], old[table.primary])
    if gate["rule"] == "improvement":
        assert gain >= cfg.gate.min_improvement and registry.aliases(cfg)["champion"] == "2"
    else:
        assert gate["rule"].startswith(("no_improvement", "guard:", "floor"))
        assert registry.aliases(cfg)["champion"] == "1"
