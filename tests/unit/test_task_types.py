"""Task types below the DAGs: estimators, label ingest, synthetic targets, prediction drift and live
performance for multiclass and regression (binary is covered by the rest of the suite)."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftloop.core.config import PipelineConfig, load_config, project_root
from driftloop.core.metrics import PREDICTED_LABEL, PREDICTION, SCORE, metric_table, proba_column
from driftloop.data import ingest, synth
from driftloop.drift import Accumulator, Profile, build_profile, detect
from driftloop.model import pipeline
from driftloop.monitor.monitoring import evaluate_performance, live_metrics

EXAMPLES = project_root() / "configs" / "examples"
DAY = date(2026, 1, 1)


def _cfg(task: str, **env: str) -> PipelineConfig:
    environ = {"DRIFTLOOP_HOME": "/tmp/x", **{f"DRIFTLOOP__{k}": v for k, v in env.items()}}
    return load_config(EXAMPLES / f"{task}.yaml", environ=environ)


def _frame(cfg: PipelineConfig, day: date = DAY, scenario: Any = None, rows: int = 800):
    batch = synth.generate_day(cfg, day, scenario or synth.Scenario(), 0, rows)
    return batch.features.merge(batch.labels, on=cfg.dataset.id_column)


def test_estimators_follow_the_task() -> None:
    reg, mc = _cfg("regression"), _cfg("multiclass")
    names = {
        a: type(pipeline.build_pipeline(reg, a).named_steps["model"]).__name__
        for a in pipeline.algorithms_for("regression")
    }
    assert names == {
        "gradient_boosting": "HistGradientBoostingRegressor",
        "random_forest": "RandomForestRegressor",
        "linear": "Ridge",
        "lightgbm": "LGBMRegressor",
        "xgboost": "XGBRegressor",
    }
    assert type(pipeline.build_pipeline(mc, "linear").named_steps["model"]).__name__ == (
        "LogisticRegression"
    )
    assert pipeline.check_parameters(reg, "linear", {"alpha": 2.0}) == ("linear", {"alpha": 2.0})
    with pytest.raises(pipeline.InvalidParameter, match=r"not one of .*task regression"):
        pipeline.check_parameters(reg, "logistic_regression")
    with pytest.raises(pipeline.InvalidParameter, match="'C' not a parameter of linear"):
        pipeline.check_parameters(reg, "linear", {"C": 1.0})


def test_label_ingest_accepts_the_task_target() -> None:
    mc, reg = _cfg("multiclass"), _cfg("regression")
    labels = ingest.parse_labels(mc, b"customer_id,risk_tier\na,0\nb,2\nc, 1\n")
    assert labels["risk_tier"].tolist() == ["0", "2", "1"]
    with pytest.raises(ingest.StructuralError, match=r"1 targets not in \['0', '1', '2'\]"):
        ingest.parse_labels(mc, b"customer_id,risk_tier\na,0\nb,7\n")
    open_set = mc.model_copy(update={"dataset": mc.dataset.model_copy(update={"classes": None})})
    assert ingest.parse_labels(open_set, b"customer_id,risk_tier\na,x\nb,7\n")[
        "risk_tier"
    ].tolist() == [
        "x",
        "7",
    ]
    with pytest.raises(ingest.StructuralError, match="1 null targets"):
        ingest.parse_labels(mc, b"customer_id,risk_tier\na,0\nb,\n")

    values = ingest.parse_labels(reg, b"customer_id,spend_next_month\na,12.5\nb,0\nc,-3\n")
    assert values["spend_next_month"].dtype == "float64"
    assert values["spend_next_month"].tolist() == [12.5, 0.0, -3.0]
    with pytest.raises(ingest.StructuralError, match="not finite"):
        ingest.parse_labels(reg, b"customer_id,spend_next_month\na,inf\n")
    with pytest.raises(ingest.StructuralError, match="not numeric"):
        ingest.parse_labels(reg, b"customer_id,spend_next_month\na,high\n")
    # Binary keeps its 0/1 rule.
    binary = load_config(
        project_root() / "configs" / "churn.yaml", environ={"DRIFTLOOP_HOME": "/x"}
    )
    with pytest.raises(ingest.StructuralError, match=r"targets not in \{0, 1\}"):
        ingest.parse_labels(binary, b"customer_id,churned\na,2\n")


def test_synthetic_targets_come_from_the_same_features_and_move_with_drift() -> None:
    mc, reg = _cfg("multiclass"), _cfg("regression")
    base_mc, base_reg = _frame(mc), _frame(reg)
    # Same features for every task: only the target differs.
    pd.testing.assert_frame_equal(
        base_mc.drop(columns="risk_tier"), base_reg.drop(columns="spend_next_month")
    )
    shares = base_mc["risk_tier"].value_counts(normalize=True)
    assert (
        set(shares.index) == {"0", "1", "2"} and shares.min() > 0.25
    )  # stationary: about a third each
    assert (base_reg["spend_next_month"] > 0).all()  # so mape is defined
    shift = synth.Scenario("covariate_shift", DAY)
    shifted_mc, shifted_reg = _frame(mc, scenario=shift), _frame(reg, scenario=shift)
    assert shifted_mc["risk_tier"].value_counts(normalize=True)["2"] > 0.6
    assert shifted_reg["spend_next_month"].mean() > base_reg["spend_next_month"].mean() + 20
    # Deterministic, and the CLI's --task override reaches the same function.
    again = synth.generate_day(mc, DAY, synth.Scenario(), 0, 800, task="regression")
    assert again.labels["risk_tier"].tolist() == base_reg["spend_next_month"].tolist()


def _fit(cfg: PipelineConfig, frame: pd.DataFrame) -> Any:
    model = pipeline.build_pipeline(cfg, hyperparameters={"max_iter": 20, "max_depth": 3})
    return model.fit(frame[cfg.dataset.feature_names], pipeline.target(frame, cfg))


def test_multiclass_prediction_drift_per_class_probability_and_live_metrics() -> None:
    cfg = _cfg("multiclass", DRIFT__MIN_SAMPLES="300", DRIFT__MIN_LABELLED_SAMPLES="300")
    train, holdout = _frame(cfg), _frame(cfg, date(2026, 1, 2))
    model = _fit(cfg, train)
    classes = pipeline.model_classes(model)
    assert classes == ["0", "1", "2"]
    proba = pipeline.predict_output(model, holdout, cfg)
    cols = {proba_column(c): proba[:, i] for i, c in enumerate(classes)}
    profile = Profile.from_json(build_profile(train, cfg, class_scores=cols).to_json())
    assert [c.name for c in profile.class_scores] == ["proba_0", "proba_1", "proba_2"]

    def drift_of(frame: pd.DataFrame) -> Any:
        p = pipeline.predict_output(model, frame, cfg)
        acc = Accumulator(profile).update(frame)
        acc.update_class_scores(
            pd.DataFrame({proba_column(c): p[:, i] for i, c in enumerate(classes)})
        )
        return detect(profile, acc, cfg).prediction

    same = drift_of(_frame(cfg, date(2026, 1, 3)))
    moved = drift_of(_frame(cfg, date(2026, 1, 3), synth.Scenario("covariate_shift", DAY)))
    assert not same.drifted and moved.drifted
    assert set(moved.per_column_psi) == {"proba_0", "proba_1", "proba_2"}
    assert moved.psi == max(moved.per_column_psi.values()) and moved.column in moved.per_column_psi

    # Live metrics from a predictions partition's columns, decay in the metric's direction.
    best = proba.argmax(axis=1)
    joined = pd.DataFrame(
        {
            PREDICTED_LABEL: np.asarray(classes, dtype=object)[best],
            SCORE: proba.max(axis=1),
            **cols,
            "risk_tier": holdout["risk_tier"].to_numpy(),
        }
    )
    live = live_metrics(cfg, joined)
    expected = pipeline.evaluate(model, holdout, cfg)
    assert live["macro_f1"] == pytest.approx(expected["macro_f1"])
    assert live["log_loss"] == pytest.approx(expected["log_loss"])
    perf = evaluate_performance(cfg, joined, {"macro_f1": live["macro_f1"] + 0.1})
    assert perf.status == "decay" and perf.decay == pytest.approx(0.1)


def test_regression_prediction_drift_and_rmse_decay_is_a_rise() -> None:
    cfg = _cfg("regression", DRIFT__MIN_SAMPLES="300", DRIFT__MIN_LABELLED_SAMPLES="300")
    train, holdout = _frame(cfg), _frame(cfg, date(2026, 1, 2))
    model = _fit(cfg, train)
    predicted = pipeline.predict_output(model, holdout, cfg)
    profile = build_profile(train, cfg, scores=predicted)
    shifted = _frame(cfg, date(2026, 1, 3), synth.Scenario("covariate_shift", DAY))
    acc = Accumulator(profile).update(shifted)
    acc.update_scores(pipeline.predict_output(model, shifted, cfg))
    assert detect(profile, acc, cfg).prediction.drifted

    table = metric_table("regression")
    holdout_metrics = pipeline.evaluate(model, holdout, cfg)
    assert set(holdout_metrics) == set(table.names)
    joined = pd.DataFrame(
        {
            PREDICTION: pipeline.predict_output(model, shifted, cfg),
            "spend_next_month": shifted["spend_next_month"],
        }
    )
    perf = evaluate_performance(cfg, joined, holdout_metrics)
    assert perf.primary_metric == "rmse"
    assert perf.live["rmse"] > holdout_metrics["rmse"] + cfg.drift.performance_tolerance
    assert perf.status == "decay" and perf.decay == pytest.approx(
        perf.live["rmse"] - holdout_metrics["rmse"]
    )
    # A lower rmse than on the holdout is no decay at all.
    better = evaluate_performance(cfg, joined, {**holdout_metrics, "rmse": perf.live["rmse"] + 5})
    assert better.status == "ok" and better.decay == pytest.approx(-5)


def test_a_multiclass_window_without_a_configured_class_is_refused_by_trainer_and_policy(
    tmp_path: Any,
) -> None:
    from driftloop.core.storage import LABELS, open_store, parquet_bytes
    from driftloop.data import windows
    from driftloop.model import train
    from tests.support.data import write_days

    cfg = _cfg(
        "multiclass",
        STORAGE__ROOT=str(tmp_path / "data"),
        MLFLOW__TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
    )
    store = open_store(cfg.storage)
    labelled = write_days(store, cfg, 9, rows=400)
    end = labelled[-1]
    assert windows.window_shortfall(cfg, end) is None  # every class in both parts
    for day in labelled[:-3]:  # the training part loses class "2"; the holdout keeps it
        labels = store.read_table(LABELS, day)
        kept = labels[labels[cfg.dataset.target].astype(str) != "2"]
        store.write_partition(LABELS, day, {"part-0.parquet": parquet_bytes(kept)})
    shortfall = windows.window_shortfall(cfg, end)
    assert shortfall is not None and "no row of class(es) 2 listed in dataset.classes" in str(
        shortfall
    )
    assert shortfall.waiting_for() == "waiting for labelled rows of class(es) 2"
    with pytest.raises(windows.InsufficientData) as refused:
        train.train_model(cfg, end)
    assert str(refused.value) == shortfall.detail  # the policy asks the trainer's own rule
    assert not (tmp_path / "mlflow.db").exists()  # refused before any run was logged
    # Without a configured label set, the model learns the classes its window holds.
    open_set = cfg.model_copy(update={"dataset": cfg.dataset.model_copy(update={"classes": None})})
    assert windows.window_shortfall(open_set, end) is None
