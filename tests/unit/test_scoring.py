"""Batch scoring with a concrete registered version: output, idempotence, chunking, no champion."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from driftloop.core.storage import PREDICTIONS, VALIDATED, open_store, partition_prefix
from driftloop.model import model_io, registry, scoring, train
from tests.support.data import START, write_days

pytestmark = pytest.mark.unit

FAST = {
    "TRAINING__ALGORITHM": "logistic_regression",
    "TRAINING__HYPERPARAMETERS": "{}",
    "TRAINING__MIN_TRAIN_ROWS": "500",
}


def test_no_champion_raises_and_writes_nothing(cfg_factory) -> None:
    cfg = cfg_factory(**FAST)
    store = open_store(cfg.storage)
    write_days(store, cfg, 2, rows=50)
    with pytest.raises(scoring.NoChampion, match="no champion yet"):
        scoring.score_partition(cfg, START)
    assert store.partitions(PREDICTIONS) == []


def test_scores_with_the_champion_idempotently_and_chunk_independent(cfg_factory) -> None:
    cfg = cfg_factory(**FAST)
    store = open_store(cfg.storage)
    write_days(store, cfg, 9, rows=300)
    day = START + timedelta(days=8)  # newest day: validated, no labels yet
    first = train.train_model(cfg, day)
    registry.promote(cfg, first.model_version, "test", "test")

    result = scoring.score_partition(cfg, day, chunk_rows=100)
    validated = store.read_table(VALIDATED, day)
    out = store.read_table(PREDICTIONS, day)
    assert result.rows == len(out) == len(validated) and result.model_version == first.model_version
    assert list(out.columns) == [
        cfg.dataset.id_column,
        "score",
        "predicted_label",
        "model_name",
        "model_version",
        "run_id",
    ]
    assert out[cfg.dataset.id_column].tolist() == validated[cfg.dataset.id_column].tolist()
    assert set(out["model_version"]) == {first.model_version} and set(out["run_id"]) == {
        first.run_id
    }
    assert out["score"].between(0, 1).all()
    assert (out["predicted_label"] == (out["score"] >= 0.5)).all()
    # Same scores as the model applied to the whole frame at once.
    model = model_io.load_model(cfg, first.model_version)
    expected = model.predict_proba(validated[cfg.dataset.feature_names])[:, 1]
    pd.testing.assert_series_equal(out["score"], pd.Series(expected, name="score"))

    key = f"{partition_prefix(PREDICTIONS, day)}/part-0.parquet"
    before = store.read_bytes(key)
    scoring.score_partition(cfg, day, first.model_version, chunk_rows=100)
    assert store.read_bytes(key) == before  # a rerun rewrites identical bytes

    # A newer champion does not change what an explicit (XCom-carried) version scores with.
    second = train.train_model(cfg, day, hyperparameters={"C": 0.01})
    registry.promote(cfg, second.model_version, "test", "test")
    assert (
        scoring.score_partition(cfg, day, first.model_version, chunk_rows=100).model_version == "1"
    )
    assert store.read_bytes(key) == before
    assert scoring.score_partition(cfg, day).model_version == second.model_version
