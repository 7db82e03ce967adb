"""A user's history cut into the landing layout (driftloop land / replay), on real files."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from driftloop.core.config import ConfigError, parse_config
from driftloop.core.storage import open_store
from driftloop.data import history
from driftloop.data.ingest import ingest_partition
from tests.support.history import TOY_CONFIG, history_source


def _cfg(tmp_path: Path, **validation: object):
    data = json.loads(json.dumps(TOY_CONFIG))
    data["storage"]["root"] = str(tmp_path / "data")
    data["validation"].update({"gx_root": str(tmp_path / "gx"), **validation})
    return parse_config(data, environ={})


def test_daily_cut_lands_features_and_delayed_labels(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    frame = history.read_source(
        history_source(tmp_path, ["2024-03-01", "2024-03-02", "2024-03-04"]), cfg
    )
    out = list(history.deliveries(frame, cfg, "day"))
    # Features of the three days; labels of 03-01 due 03-03 arrive with 03-04 (the next delivery);
    # labels of 03-02 (due 03-04) too; labels of 03-04 (due 03-06) on their own day, labels only.
    assert [(d.day, len(d.features), sorted(d.labels)) for d in out] == [
        (date(2024, 3, 1), 3, []),
        (date(2024, 3, 2), 3, []),
        (date(2024, 3, 4), 3, [date(2024, 3, 1), date(2024, 3, 2)]),
        (date(2024, 3, 6), 0, [date(2024, 3, 4)]),
    ]
    assert list(out[0].features.columns) == ["rid", "ts", "x", "kind"]  # no target, no extra
    assert history.ignored_columns(frame, cfg) == ["extra"]
    # Ids are row numbers in timestamp order: stable whatever order the file was in.
    assert list(out[0].features["rid"]) == ["r00000000", "r00000001", "r00000002"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_written_delivery_is_ingested_as_is(tmp_path: Path, fmt: history.LandingFormat) -> None:
    cfg = _cfg(tmp_path)
    store = open_store(cfg.storage)
    frame = history.read_source(history_source(tmp_path, ["2024-03-01", "2024-03-03"], 4), cfg)
    keys = [
        k
        for d in history.deliveries(frame, cfg)
        for k in history.write_delivery(store, cfg, d, fmt)
    ]
    assert keys[0] == f"landing/2024-03-01/features.{fmt}"
    labels_key = f"landing/2024-03-03/labels_2024-03-01.{fmt}"
    assert labels_key in keys
    assert keys.index(labels_key) < keys.index(f"landing/2024-03-03/features.{fmt}")
    # labels first: the features file is what the sensor waits for
    if fmt == "csv":
        labels = store.read_bytes(labels_key).decode().splitlines()
        assert labels[:2] == ["rid,y", "r00000000,0"]
    else:  # typed as ingest reads them
        written = pd.read_parquet(io.BytesIO(store.read_bytes(labels_key)))
        assert written["y"].tolist() == [0, 1, 0, 1] and written["y"].dtype == "int64"
        features = pq.read_schema(io.BytesIO(store.read_bytes(keys[0])))
        assert str(features.field("ts").type) == "timestamp[us, tz=UTC]"
    # What landed is what ingest expects: both days validate, the labels join their day.
    from driftloop.core.storage import LABELS, VALIDATED
    from driftloop.data import validation

    validation.write_gx_project(cfg)
    assert ingest_partition(cfg, "2024-03-01").status == "validated"
    assert ingest_partition(cfg, "2024-03-03").status == "validated"
    validated = store.read_table(VALIDATED, date(2024, 3, 3))
    assert len(validated) == 4 and validated["kind"].tolist() == ["a", "b", "a", "b"]
    assert list(store.read_table(LABELS, date(2024, 3, 1))["y"]) == [0, 1, 0, 1]


def test_weekly_and_monthly_periods_start_on_monday_and_the_first(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    frame = history.read_source(
        history_source(tmp_path, ["2024-03-06", "2024-03-10", "2024-03-11", "2024-04-30"]), cfg
    )
    weeks = [d.day for d in history.deliveries(frame, cfg, "week", label_delay=0)]
    assert weeks == [date(2024, 3, 4), date(2024, 3, 11), date(2024, 4, 29)]
    months = [(d.day, len(d.features)) for d in history.deliveries(frame, cfg, "month", 0)]
    assert months == [(date(2024, 3, 1), 9), (date(2024, 4, 1), 3)]


def test_parquet_source_and_missing_target_rows_get_no_label(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    path = history_source(tmp_path, ["2024-03-01"], 4, suffix=".parquet")
    frame = pd.read_parquet(path)
    frame.loc[frame["x"] == 0.0, "y"] = None
    frame.to_parquet(path)
    got = history.read_source(path, cfg)
    (first, labels_only) = history.deliveries(got, cfg, "day", label_delay=1)
    assert len(first.features) == 4
    assert len(labels_only.features) == 0 and len(labels_only.labels[date(2024, 3, 1)]) == 3


def test_bad_sources_are_refused_with_the_reason(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    with pytest.raises(history.HistoryError, match="does not exist"):
        history.read_source(tmp_path / "nope.csv", cfg)
    pd.DataFrame({"ts": ["2024-01-01"], "y": [1]}).to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(history.HistoryError, match=r"lacks column.*x, kind"):
        history.read_source(tmp_path / "a.csv", cfg)
    bad = pd.DataFrame({"ts": ["2024-01-01", "soon"], "x": [1, 2], "kind": ["a", "b"]})
    bad.to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(history.HistoryError, match=r"1 row\(s\) with no readable ts \(rows 3\)"):
        history.read_source(tmp_path / "b.csv", cfg)


def test_long_periods_need_the_partition_tolerance(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    history.check_tolerance(cfg, "day")
    with pytest.raises(ConfigError, match="partition_tolerance_hours is 1: set it to 168"):
        history.check_tolerance(cfg, "week")
    history.check_tolerance(_cfg(tmp_path, partition_tolerance_hours=744), "month")
