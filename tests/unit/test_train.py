"""Training data window and split, and one real training run logged to a local MLflow store."""

from __future__ import annotations

import json
import warnings
from datetime import date, timedelta

import pytest

from driftloop.core.metrics import METRICS
from driftloop.data import windows
from driftloop.model import pipeline, registry, train
from driftloop.tracking.mlflow import mlflow_client
from tests.support.data import START, write_days

FAST = {
    "TRAINING__HYPERPARAMETERS": "{max_iter: 20, max_depth: 3}",
    "TRAINING__MIN_TRAIN_ROWS": "500",
}


def test_window_uses_only_days_with_labels_and_splits_by_time(cfg_factory) -> None:
    cfg = cfg_factory(**FAST)
    from driftloop.core.storage import open_store

    labelled = write_days(open_store(cfg.storage), cfg, 9, rows=200)  # labels for 6 of 9 days
    end = START + timedelta(days=8)
    frame, parts = windows.training_frame(cfg, end, window_days=21)
    assert parts == labelled == [START + timedelta(days=i) for i in range(6)]
    assert set(frame.columns) >= {cfg.dataset.target, *cfg.dataset.feature_names}
    split = windows.time_split(frame, parts, holdout_days=3)
    assert split.holdout_partitions == parts[-3:] and split.train_partitions == parts[:3]
    assert (
        split.train[windows.PARTITION_COLUMN].max() < split.holdout[windows.PARTITION_COLUMN].min()
    )
    assert len(split.train) + len(split.holdout) == len(frame)

    # A window that ends before the labelled days start has nothing to train on.
    with pytest.raises(windows.InsufficientData, match="labelled day"):
        windows.training_frame(cfg, START + timedelta(days=1), window_days=2)


def test_too_few_rows_is_a_clear_error(cfg_factory) -> None:
    cfg = cfg_factory(TRAINING__MIN_TRAIN_ROWS="100000")
    from driftloop.core.storage import open_store

    write_days(open_store(cfg.storage), cfg, 8, rows=100)
    with pytest.raises(windows.InsufficientData, match=r"min_train_rows is 100000"):
        windows.training_frame(cfg, date(2026, 1, 8))


@pytest.mark.parametrize("algorithm", ["logistic_regression", "random_forest"])
def test_pipeline_builds_each_algorithm(cfg, algorithm: str) -> None:
    pipe = pipeline.build_pipeline(
        cfg, algorithm, {"max_depth": 3} if algorithm == "random_forest" else {}
    )
    assert pipe.named_steps["model"].get_params()["random_state"] == cfg.training.random_state


def test_train_logs_run_registers_challenger_and_reference_profile(cfg_factory) -> None:
    import mlflow

    cfg = cfg_factory(**FAST)
    from driftloop.core.storage import open_store

    store = open_store(cfg.storage)
    write_days(store, cfg, 10, rows=300)
    end = START + timedelta(days=9)
    result = train.train_model(
        cfg,
        end,
        reason="unit test",
        report_uri="file:///reports/r.json",
        airflow_context={"dag_id": "train", "run_id": "manual__x", "task_id": "train_model"},
    )
    assert result.model_version == "1" and result.algorithm == "gradient_boosting"
    assert result.partitions[-1] == "2026-01-07"  # the 3 newest days have no labels yet
    assert result.holdout_partitions == ["2026-01-05", "2026-01-06", "2026-01-07"]
    assert 0.6 < result.metrics["roc_auc"] <= 1 and set(result.metrics) == set(METRICS)

    client = mlflow_client(cfg)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert {k: run.data.metrics[k] for k in METRICS} == result.metrics
    assert run.data.params["algorithm"] == "gradient_boosting"
    assert (
        run.data.params["hp.max_iter"] == "20" and run.data.params["window_end"] == end.isoformat()
    )
    tags = run.data.tags
    assert tags["driftloop.trigger_reason"] == "unit test"
    assert tags["driftloop.partition_date"] == end.isoformat()
    assert json.loads(tags["driftloop.partitions"]) == result.partitions
    assert tags["airflow.dag_id"] == "train" and tags["airflow.run_id"] == "manual__x"
    assert tags["driftloop.report_uri"] == "file:///reports/r.json"
    assert tags["mlflow.source.git.commit"]

    artifacts = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert artifacts == {
        f"plots/{n}.png"
        for n in ("calibration", "roc_curve", "confusion_matrix", "feature_importance")
    }
    # The experiment's artifacts live beside the tracking store, never in ./mlruns.
    assert run.info.artifact_uri.startswith(cfg.artifact_location())
    logged = client.search_logged_models(experiment_ids=[result.experiment_id])
    assert len(logged) == 1 and logged[0].source_run_id == result.run_id
    assert logged[0].artifact_location.startswith(cfg.artifact_location())

    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "holdout"}
    assert json.loads(inputs["holdout"].source)["uris"][-1].endswith("validated/date=2026-01-07")
    assert len(inputs["training"].digest) == 16

    assert registry.aliases(cfg) == {"challenger": "1"}
    # `since` (e.g. a drift onset) starts the window there.
    recent = train.train_model(
        cfg,
        end,
        since=START + timedelta(days=2),
        algorithm="logistic_regression",
        hyperparameters={},
    )
    assert recent.partitions == [f"2026-01-0{d}" for d in range(3, 8)]
    profile = registry.load_reference_profile(cfg, "1")
    assert profile.n_rows == result.n_train and profile.score is not None
    assert sorted(profile.feature_names) == sorted(cfg.dataset.feature_names)

    # The registered model loads (skops, trusting only its own types) and scores like the run did.
    model = mlflow.sklearn.load_model(result.model_uri)
    frame, _ = windows.training_frame(cfg, end)
    assert model.predict_proba(frame[cfg.dataset.feature_names].head(3)).shape == (3, 2)


def test_gate_rescores_champion_on_challenger_holdout(cfg_factory) -> None:
    cfg = cfg_factory(**FAST)
    from driftloop.core.storage import open_store

    store = open_store(cfg.storage)
    write_days(store, cfg, 10, rows=300)
    end = START + timedelta(days=9)
    first = train.train_model(cfg, end - timedelta(days=1), reason="first")
    d1 = registry.evaluate_challenger(cfg, first.model_version)
    assert (d1.promote, d1.rule) == (True, "first_model")
    registry.promote(cfg, first.model_version, "first", "test", d1)

    # Same data, same seed: an identical challenger ties and must not replace the champion.
    second = train.train_model(cfg, end - timedelta(days=1), reason="same again")
    d2 = registry.evaluate_challenger(cfg, second.model_version)
    assert d2.champion_metrics == pytest.approx(d2.challenger_metrics)
    assert (d2.promote, d2.rule) == (False, "no_improvement")
    mv = registry.get_version(cfg, second.model_version)
    # A few tags a person reads; the whole decision in the run's decision.json.
    assert mv.tags["driftloop.decision"] == "gate: reject (no_improvement)"
    assert mv.tags["driftloop.reason"] == d2.reason
    assert mv.tags["driftloop.primary_metric"].startswith(
        f"roc_auc {d2.challenger_metrics['roc_auc']:.4f} (champion v{first.model_version}: "
    )
    assert mv.tags["driftloop.trained_window"] == f"{second.partitions[0]}..{second.partitions[-1]}"
    assert mv.tags["driftloop.trigger"] == "same again"
    assert not [t for t in mv.tags if t.startswith("driftloop.gate.")]
    doc = registry.decision_record(cfg, second.model_version)
    assert doc["gate"]["champion_version"] == first.model_version
    assert doc["gate"]["champion_metrics"] == pytest.approx(d2.champion_metrics)
    assert [e["action"] for e in doc["history"]] == ["gate"]
    rec = store.read_json(f"registry/decisions/{cfg.model_name}/v{second.model_version}-gate.json")
    assert rec["decision"]["rule"] == "no_improvement" and rec["partition_date"] == "2026-01-09"
    assert registry.aliases(cfg)["champion"] == first.model_version


def test_default_window_end_is_the_newest_day_with_labels(cfg_factory) -> None:
    cfg = cfg_factory(**FAST)
    from driftloop.core.storage import open_store

    store = open_store(cfg.storage)
    with pytest.raises(windows.InsufficientData, match="no labelled day"):
        windows.latest_labelled_day(cfg)
    labelled = write_days(store, cfg, 9, rows=50)  # labels for the first 6 days only
    assert windows.latest_labelled_day(cfg) == labelled[-1] == START + timedelta(days=5)
    # A labels partition whose validated day is missing does not count.
    store.delete_partition("validated", labelled[-1])
    assert windows.latest_labelled_day(cfg, store) == labelled[-2]


@pytest.mark.parametrize(
    ("algorithm", "hyper", "message"),
    [
        ("catboost", {}, r"^algorithm: 'catboost' is not one of"),
        (None, {"max_iterr": 3}, r"^hyperparameters: 'max_iterr' not a parameter of gradient"),
        ("logistic_regression", {"learning_rate": 0.1}, r"^hyperparameters: 'learning_rate'"),
        (None, {"max_depth": -3}, r"^hyperparameters: The 'max_depth' parameter"),
    ],
)
def test_parameters_are_checked_with_a_one_line_message(
    cfg_factory, algorithm: str | None, hyper: dict, message: str
) -> None:
    cfg = cfg_factory(**FAST)
    with pytest.raises(pipeline.InvalidParameter, match=message) as err:
        pipeline.check_parameters(cfg, algorithm, hyper)
    assert "\n" not in str(err.value)


def test_checked_parameters_are_what_training_uses(cfg_factory) -> None:
    cfg = cfg_factory(**FAST)
    algo, params = pipeline.check_parameters(cfg, None, {"max_iter": 7})
    assert algo.value == "gradient_boosting"
    assert params == {"max_iter": 7, "learning_rate": 0.1, "max_depth": 3}
    algo, params = pipeline.check_parameters(cfg, "random_forest", {"n_estimators": 5})
    assert params["n_estimators"] == 5 and "max_iter" not in params  # config is for another algo


def test_dataset_schema_from_a_sample_is_the_full_inference() -> None:
    """The logged dataset's schema is inferred on a sample, yet equals MLflow's inference over every
    row: the same types, and ``required`` false exactly for the columns with a missing value (here
    only in one late row)."""
    import numpy as np
    import pandas as pd
    from mlflow.types.utils import _infer_schema

    from driftloop.model.report import _dataset, partitions_source, schema_sample

    n = 50_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "x": rng.normal(size=n),
            "plan": rng.choice(["basic", "pro"], n).astype(object),
            "y": rng.integers(0, 2, n),
        }
    )
    frame.loc[n - 7, "x"] = np.nan
    frame.loc[n - 3, "plan"] = None
    sample = schema_sample(frame)
    assert len(sample) < 2_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = _infer_schema(frame).to_dict()
    assert _infer_schema(sample).to_dict() == full
    assert [c["required"] for c in full] == [True, False, False, True]
    dataset = _dataset(
        frame,
        source=partitions_source(["file:///v/date=2026-01-01"]),
        targets="y",
        name="t",
        digest="0123456789abcdef",
    )
    assert json.loads(dataset.to_dict()["schema"])["mlflow_colspec"] == full
    assert json.loads(dataset.to_dict()["profile"]) == {"num_rows": n, "num_elements": 4 * n}
