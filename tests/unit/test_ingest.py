"""Ingestion: typed raw parquet, idempotent reruns, labels and their ids.

Every kind of bad features delivery, with its exact outcome, is in tests/reliability.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from driftloop.core.storage import LABELS, QUARANTINE, RAW, VALIDATED
from driftloop.data import synth
from driftloop.data.ingest import LABELS_QUARANTINE, LandingMissing, ingest_labels, ingest_partition

DAY = date(2026, 1, 10)
FEATURES = f"landing/{DAY.isoformat()}/features.csv"


@pytest.fixture
def landed(cfg, store) -> bytes:
    """A clean delivery for DAY; returns its bytes."""
    synth.write_day(store, cfg, DAY, synth.Scenario(), seed=2, rows=400)
    return store.read_bytes(FEATURES)


def test_clean_day_is_typed_and_validated(cfg, store, landed) -> None:
    result = ingest_partition(cfg, DAY)

    assert result.status == "validated"
    raw = store.read_table(RAW, DAY)
    assert result.rows == len(raw) == len(pd.read_csv(pd.io.common.BytesIO(landed)))
    ds = cfg.dataset
    assert str(raw[ds.timestamp_column].dtype) == "datetime64[us, UTC]"
    assert all(raw[c].dtype == "float64" for c in ds.numeric)
    assert all(pd.api.types.is_string_dtype(raw[c]) for c in [ds.id_column, *ds.categorical])
    assert ds.target not in raw.columns
    pd.testing.assert_frame_equal(store.read_table(VALIDATED, DAY), raw)
    assert store.partitions(QUARANTINE) == []


def test_rerun_is_byte_identical_and_clears_an_old_quarantine(cfg, store, landed) -> None:
    store.write_bytes(FEATURES, b"")  # a broken first delivery...
    assert ingest_partition(cfg, DAY).status == "quarantined"
    store.write_bytes(FEATURES, landed)  # ...replaced by the good one
    ingest_partition(cfg, DAY)
    first = store.read_bytes(f"raw/date={DAY.isoformat()}/part-0.parquet")
    validated = store.read_bytes(f"validated/date={DAY.isoformat()}/part-0.parquet")

    again = ingest_partition(cfg, DAY)

    assert again.status == "validated"
    assert store.read_bytes(f"raw/date={DAY.isoformat()}/part-0.parquet") == first
    assert store.read_bytes(f"validated/date={DAY.isoformat()}/part-0.parquet") == validated
    assert store.partitions(QUARANTINE) == []


def test_landing_missing_raises(cfg) -> None:
    with pytest.raises(LandingMissing):
        ingest_partition(cfg, date(2030, 1, 1))


def test_labels_are_ingested_and_bad_labels_quarantined(cfg, store) -> None:
    start = DAY - timedelta(days=cfg.dataset.label_delay_days)
    synth.write_days(
        store, cfg, start, cfg.dataset.label_delay_days + 1, synth.Scenario(), rows=300
    )

    result = ingest_partition(cfg, DAY)

    assert result.labels_ingested == [start.isoformat()]
    labels = store.read_table(LABELS, start)
    assert labels.columns.tolist() == [cfg.dataset.id_column, cfg.dataset.target]
    assert labels[cfg.dataset.target].dtype == "int64"
    assert set(labels[cfg.dataset.target]) <= {0, 1}

    key = f"landing/{DAY.isoformat()}/labels_{start.isoformat()}.csv"
    bad = store.read_bytes(key).replace(b",0\n", b",2\n", 1)
    store.write_bytes(key, bad)
    [outcome] = ingest_labels(cfg, DAY)
    assert outcome.status == "quarantined" and "not in {0, 1}" in outcome.message
    assert not store.partition_exists(LABELS, start)
    prefix = f"quarantine/labels/date={start.isoformat()}"
    assert store.read_bytes(f"{prefix}/labels_{start.isoformat()}.csv") == bad
    assert json.loads(store.read_bytes(f"{prefix}/reason.json"))["stage"] == "labels"


def _labelled_days(cfg, store) -> tuple[date, str]:
    """Deliveries from the label day to DAY; returns the label day and its labels file key."""
    start = DAY - timedelta(days=cfg.dataset.label_delay_days)
    synth.write_days(
        store, cfg, start, cfg.dataset.label_delay_days + 1, synth.Scenario(), rows=300
    )
    return start, f"landing/{DAY.isoformat()}/labels_{start.isoformat()}.csv"


def test_labels_with_ids_never_delivered_are_quarantined_and_the_rest_ingested(
    cfg, store, caplog
) -> None:
    from driftloop.data.ingest import UNKNOWN_IDS_QUARANTINE

    start, key = _labelled_days(cfg, store)
    assert ingest_partition(cfg, start).status == "validated"  # the label day's events
    good = store.read_bytes(key)
    ghosts = b"ghost-1,1\nghost-2,0\nghost-3,1\n"
    store.write_bytes(key, good + ghosts)

    with caplog.at_level("WARNING", logger="driftloop.data.ingest"):
        result = ingest_partition(cfg, DAY)

    [outcome] = result.labels
    assert outcome.status == "ingested" and outcome.ids_checked
    assert outcome.unknown_ids == 3 == result.labels_unknown_ids
    assert result.to_dict()["labels_unknown_ids"] == 3
    id_col = cfg.dataset.id_column
    labels = store.read_table(LABELS, start)
    assert len(labels) == outcome.rows == len(pd.read_csv(pd.io.common.BytesIO(good)))
    assert not labels[id_col].str.startswith("ghost").any()
    prefix = f"{UNKNOWN_IDS_QUARANTINE}/date={start.isoformat()}"
    assert outcome.unknown_ids_uri == store.uri(prefix)
    kept = pd.read_csv(pd.io.common.BytesIO(store.read_bytes(f"{prefix}/unknown_ids.csv")))
    assert kept[id_col].tolist() == ["ghost-1", "ghost-2", "ghost-3"]
    assert kept[cfg.dataset.target].tolist() == [1, 0, 1]
    assert store.read_bytes(f"{prefix}/labels_{start.isoformat()}.csv") == good + ghosts
    reason = json.loads(store.read_bytes(f"{prefix}/reason.json"))
    assert reason["unknown_ids"] == 3 and "3 of" in reason["summary"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("3 of" in w and "never delivered" in w for w in warnings)
    assert not store.partition_exists(LABELS_QUARANTINE, start)

    # Redelivered without the ghosts: the earlier verdict goes away.
    store.write_bytes(key, good)
    [again] = ingest_labels(cfg, DAY)
    assert again.unknown_ids == 0 and again.unknown_ids_uri is None
    assert not store.partition_exists(UNKNOWN_IDS_QUARANTINE, start)


def test_labels_with_only_unknown_ids_publish_nothing_and_lose_nothing(cfg, store) -> None:
    from driftloop.data.ingest import UNKNOWN_IDS_QUARANTINE

    start, key = _labelled_days(cfg, store)
    ingest_partition(cfg, start)
    ingest_labels(cfg, DAY)
    assert store.partition_exists(LABELS, start)
    header = store.read_bytes(key).split(b"\n", 1)[0]
    store.write_bytes(key, header + b"\nghost-1,1\nghost-2,0\n")

    [outcome] = ingest_labels(cfg, DAY)

    assert outcome.status == "quarantined" and outcome.unknown_ids == 2 and outcome.rows == 0
    assert not store.partition_exists(LABELS, start)  # no stale labels survive
    prefix = f"{UNKNOWN_IDS_QUARANTINE}/date={start.isoformat()}"
    assert (
        len(pd.read_csv(pd.io.common.BytesIO(store.read_bytes(f"{prefix}/unknown_ids.csv")))) == 2
    )


def test_labels_of_a_day_without_validated_features_are_ingested_unchecked(cfg, store) -> None:
    start, key = _labelled_days(cfg, store)
    store.write_bytes(key, store.read_bytes(key) + b"ghost-1,1\n")

    [outcome] = ingest_labels(cfg, DAY)

    assert outcome.status == "ingested" and not outcome.ids_checked
    assert outcome.unknown_ids == 0
    assert "ghost-1" in store.read_table(LABELS, start)[cfg.dataset.id_column].tolist()


def test_a_label_only_delivery_is_ingested(cfg, store) -> None:
    from driftloop.data.ingest import ingest_labels_only

    start, _ = _labelled_days(cfg, store)
    store.delete_prefix(FEATURES)
    with pytest.raises(LandingMissing):  # the DAG's contract: features.csv is required
        ingest_partition(cfg, DAY)

    result = ingest_partition(cfg, DAY, labels_only=True)

    assert result.status == "labels_only" and result.rows == 0
    assert result.labels_ingested == [start.isoformat()]
    assert "has not arrived" in result.message
    assert store.partition_exists(LABELS, start)
    assert not store.partition_exists(VALIDATED, DAY) and store.partitions(QUARANTINE) == []
    assert ingest_labels_only(cfg, DAY).to_dict()["status"] == "labels_only"

    empty = date(2030, 1, 1)
    store.write_bytes(f"landing/{empty.isoformat()}/notes.txt", b"hello")
    with pytest.raises(LandingMissing, match="neither"):
        ingest_labels_only(cfg, empty)


def _land_with_outliers(cfg, store, rows: int = 1000, outliers: int = 3) -> None:
    """A delivery of ``rows`` rows of which ``outliers`` have an impossible age."""
    df = synth.generate_day(cfg, DAY, synth.Scenario(), seed=3, rows=rows).features
    df = df.head(rows).reset_index(drop=True)
    df.loc[: outliers - 1, "age"] = 250
    store.write_bytes(FEATURES, df.to_csv(index=False, lineterminator="\n").encode())


def test_row_level_quarantine_keeps_the_good_rows_and_quarantines_the_bad_with_reasons(
    cfg_factory, store
) -> None:
    from driftloop.data.ingest import ROWS_FILE, ROWS_QUARANTINE
    from driftloop.data.validation import REASON_COLUMN

    cfg = cfg_factory(validation__bad_rows="quarantine_rows")
    _land_with_outliers(cfg, store)
    rows = len(pd.read_csv(pd.io.common.BytesIO(store.read_bytes(FEATURES))))
    assert rows == 1000

    result = ingest_partition(cfg, DAY)

    assert result.status == "validated", result.message
    assert (result.rows, result.quarantined_rows) == (997, 3)
    assert "3 row(s) quarantined" in result.message
    assert len(store.read_table(VALIDATED, DAY)) == 997
    assert (store.read_table(VALIDATED, DAY)["age"] <= 100).all()
    assert len(store.read_table(RAW, DAY)) == 1000  # raw keeps the delivery whole
    assert store.partitions(QUARANTINE) == []  # the day itself is not quarantined
    prefix = f"{ROWS_QUARANTINE}/date={DAY.isoformat()}"
    bad = pd.read_csv(pd.io.common.BytesIO(store.read_bytes(f"{prefix}/{ROWS_FILE}")))
    assert bad["age"].tolist() == [250, 250, 250]
    assert set(bad[REASON_COLUMN]) == {"age: expect_column_values_to_be_between"}
    reason = json.loads(store.read_bytes(f"{prefix}/reason.json"))
    assert (reason["rows"], reason["validated_rows"], reason["quarantined_rows"]) == (1000, 997, 3)
    assert reason["by_expectation"] == {"age: expect_column_values_to_be_between": 3}
    assert result.rows_quarantine_uri and result.rows_quarantine_uri.endswith(prefix)

    # A clean redelivery replaces the split (idempotent reruns).
    synth.write_day(store, cfg, DAY, synth.Scenario(), seed=2, rows=400)
    assert ingest_partition(cfg, DAY).quarantined_rows == 0
    assert store.partitions(ROWS_QUARANTINE) == []


def test_row_level_quarantine_gives_up_on_a_broken_feed(cfg_factory, store) -> None:
    cfg = cfg_factory(validation__bad_rows="quarantine_rows")
    _land_with_outliers(cfg, store, outliers=300)  # 30% > max_bad_row_fraction 10%

    result = ingest_partition(cfg, DAY)

    assert result.status == "quarantined" and result.quarantined_rows == 0
    assert store.partitions(VALIDATED) == [] and store.partitions(QUARANTINE) == [DAY]


def test_a_tolerance_lets_the_day_pass_whole_with_its_outliers_counted(cfg_factory, store) -> None:
    cfg = cfg_factory(validation__mostly="0.99")
    _land_with_outliers(cfg, store)

    result = ingest_partition(cfg, DAY)

    assert result.status == "validated", result.message
    assert (result.rows, result.quarantined_rows, result.tolerated_rows) == (1000, 0, 3)
    assert "tolerated: age: expect_column_values_to_be_between" in result.message
    assert len(store.read_table(VALIDATED, DAY)) == 1000

    # Without the tolerance the same day is quarantined whole (the default, bad_rows unset).
    strict = cfg_factory(validation__mostly="1")
    assert ingest_partition(strict, DAY).status == "quarantined"
