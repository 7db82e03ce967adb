"""Batch scoring with a concrete registered version: output, idempotence, chunking, no champion."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from driftloop.core.storage import PREDICTIONS, VALIDATED, open_store, partition_prefix
from driftloop.model import model_io, registry, scoring, train
from tests.support.data import START, write_days

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
    # The default chunk, from the memory budget (the whole day here), scores the same rows alike.
    scoring.score_partition(cfg, day, first.model_version)
    pd.testing.assert_frame_equal(store.read_table(PREDICTIONS, day), out)

    # A newer champion does not change what an explicit (XCom-carried) version scores with.
    second = train.train_model(cfg, day, hyperparameters={"C": 0.01})
    registry.promote(cfg, second.model_version, "test", "test")
    assert (
        scoring.score_partition(cfg, day, first.model_version, chunk_rows=100).model_version == "1"
    )
    assert store.read_bytes(key) == before
    assert scoring.score_partition(cfg, day).model_version == second.model_version


def test_backlog_is_scored_once_by_the_first_champion_and_feeds_live_performance(
    cfg_factory,
) -> None:
    from driftloop.core.storage import DRIFT, LABELS, SCORING
    from driftloop.monitor.daily_check import mark_unscored, run_daily_check

    cfg = cfg_factory(**FAST, DRIFT__MIN_LABELLED_SAMPLES="100")
    store = open_store(cfg.storage)
    labelled = write_days(store, cfg, 9, rows=300, label_delay=3)  # labels of days 0-5
    days = [START + timedelta(days=i) for i in range(9)]
    mark_unscored(cfg, [d.isoformat() for d in days], "no champion yet")
    with pytest.raises(scoring.NoChampion):
        scoring.score_backlog(cfg)
    assert scoring.unscored_days(cfg) == days and store.partitions(PREDICTIONS) == []

    first = train.train_model(cfg, days[-1])  # trained and held out on the labelled days 0-5
    registry.promote(cfg, first.model_version, "test", "test")
    done = scoring.score_backlog(cfg)
    assert [r.partition for r in done] == [d.isoformat() for d in days]
    assert store.partitions(PREDICTIONS) == days and scoring.unscored_days(cfg) == []
    for d in days:
        assert set(store.read_table(PREDICTIONS, d)["model_version"]) == {first.model_version}
        record = store.read_json(f"{partition_prefix(SCORING, d)}/status.json")
        assert record["backlog"] and record["model_version"] == first.model_version

    # A rerun scores nothing; a day validated later is the only new backlog.
    keys = {d: f"{partition_prefix(PREDICTIONS, d)}/part-0.parquet" for d in days}
    before = {d: store.read_bytes(k) for d, k in keys.items()}
    assert scoring.score_backlog(cfg) == []
    new_day = START + timedelta(days=9)
    write_days(store, cfg, 1, start=new_day, rows=300, label_delay=1)
    assert [r.partition for r in scoring.score_backlog(cfg)] == [new_day.isoformat()]
    assert {d: store.read_bytes(k) for d, k in keys.items()} == before

    # Labels of backfilled days after the training window join their predictions for live
    # performance; the days the champion was trained on do not count as live.
    write_days(store, cfg, 9, rows=300, label_delay=1)  # same rows; labels now up to day 7
    outcome = run_daily_check(cfg, new_day)
    assert outcome.champion_version == first.model_version
    report = store.read_json(f"{partition_prefix(DRIFT, new_day)}/report.json")
    used = report["performance"]["days_used"]
    assert used == [days[6].isoformat(), days[7].isoformat()]
    assert not set(used) & {d.isoformat() for d in labelled}
    assert report["performance"]["n_labelled"] == sum(
        len(store.read_table(LABELS, d)) for d in days[6:8]
    )
    assert report["performance"]["live"]["roc_auc"] is not None


def test_chunk_rows_come_from_the_frame_budget(cfg_factory, monkeypatch) -> None:
    """A chunk is the budget over a row's bytes as a pandas frame, within the bounds."""
    import pyarrow.parquet as pq

    cfg = cfg_factory(**FAST)
    store = open_store(cfg.storage)
    write_days(store, cfg, 1, rows=300)
    columns = [cfg.dataset.id_column, *cfg.dataset.feature_names]
    with store.local_file(f"{partition_prefix(VALIDATED, START)}/part-0.parquet") as path:
        source = pq.ParquetFile(path)
        row_bytes = (
            store.read_table(VALIDATED, START)[columns].memory_usage(deep=True, index=False).sum()
            / 300
        )
        expected = scoring.CHUNK_FRAME_BYTES / row_bytes  # (strings are sized as pandas holds them)
        assert scoring.chunk_rows_for(source, columns) == pytest.approx(expected, rel=0.1)
        monkeypatch.setattr(scoring, "CHUNK_FRAME_BYTES", 1)
        assert scoring.chunk_rows_for(source, columns) == scoring.MIN_CHUNK_ROWS
        monkeypatch.setattr(scoring, "CHUNK_FRAME_BYTES", 2**40)
        assert scoring.chunk_rows_for(source, columns) == scoring.MAX_CHUNK_ROWS
