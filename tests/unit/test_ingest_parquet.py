"""Parquet deliveries: features.parquet and labels_<L>.parquet ingest like their CSV twins, with
types checked against the config, bad files quarantined whole with the original bytes, and both
formats in one delivery refused."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftloop.core.storage import LABELS, QUARANTINE, RAW, VALIDATED
from driftloop.data import ingest, synth
from driftloop.data.ingest import ingest_labels, ingest_partition, parse_features, parse_labels

DAY = date(2026, 1, 10)
LANDING = f"landing/{DAY.isoformat()}"
PARQUET = f"{LANDING}/features.parquet"


def _parquet(frame: pd.DataFrame, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, **kwargs)
    return buf.getvalue()


@pytest.fixture
def delivery(cfg, store) -> tuple[date, pd.DataFrame]:
    """DAY's delivery with the labels of its first labelled day, all as Parquet (same data as the
    CSV files synth wrote, which are removed); returns that label day and the typed features."""
    start = DAY - timedelta(days=cfg.dataset.label_delay_days)
    synth.write_days(
        store, cfg, start, cfg.dataset.label_delay_days + 1, synth.Scenario(), seed=5, rows=300
    )
    typed = parse_features(cfg, store.read_bytes(f"{LANDING}/features.csv"))
    labels = parse_labels(cfg, store.read_bytes(f"{LANDING}/labels_{start.isoformat()}.csv"))
    store.delete_prefix(LANDING + "/")
    store.write_bytes(f"{LANDING}/labels_{start.isoformat()}.parquet", _parquet(labels))
    # Small row groups, read in smaller batches: the file is never read whole.
    store.write_bytes(PARQUET, _parquet(typed, index=False, row_group_size=70))
    return start, typed


def test_a_parquet_delivery_is_ingested_like_its_csv(cfg, store, delivery, monkeypatch) -> None:
    start, typed = delivery
    monkeypatch.setattr(ingest, "PARQUET_BATCH_ROWS", 50)

    result = ingest_partition(cfg, DAY)

    assert result.status == "validated" and result.rows == len(typed) > 0
    pd.testing.assert_frame_equal(store.read_table(RAW, DAY), typed)
    pd.testing.assert_frame_equal(store.read_table(VALIDATED, DAY), typed)
    assert result.labels_ingested == [start.isoformat()]
    labels = store.read_table(LABELS, start)
    assert labels[cfg.dataset.target].dtype == "int64" and len(labels) > 0
    assert store.partitions(QUARANTINE) == []


def test_parquet_types_are_coerced_as_a_csv_would_be_and_read_in_batches(cfg, tmp_path) -> None:
    ds = cfg.dataset
    df = synth.generate_day(cfg, DAY, synth.Scenario(), seed=1, rows=500).features
    csv = df.to_csv(index=False).encode()
    expected = parse_features(cfg, csv)
    variant = expected.copy()
    variant[ds.timestamp_column] = variant[ds.timestamp_column].dt.tz_localize(None)  # naive: UTC
    variant["num_products"] = variant["num_products"].astype("int64")  # integers are numbers
    variant["plan"] = variant["plan"].astype("category")  # dictionary-encoded strings
    variant.index = variant.index.to_numpy() * 3  # a pandas index stored as a column: not data
    src, out = tmp_path / "features.parquet", tmp_path / "raw.parquet"
    src.write_bytes(_parquet(variant, row_group_size=128))
    assert len(pq.ParquetFile(src).schema_arrow.names) == len(expected.columns) + 1

    rows = ingest.write_raw_parquet(cfg, src, out, fmt="parquet")

    assert rows == len(df)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected)
    frames = list(ingest._iter_parquet_frames(cfg, src, 100))
    sizes = [len(f) for f in frames]  # batches of 100 rows at most: never the file at once
    assert max(sizes) == 100 and sum(sizes) == len(df) and len(sizes) >= len(df) / 100
    # ISO 8601 text in the timestamp column is parsed, and a value that is not one is counted.
    text = expected.assign(**{ds.timestamp_column: df[ds.timestamp_column].astype(str)})
    src.write_bytes(_parquet(text, index=False))
    ingest.write_raw_parquet(cfg, src, out, fmt="parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected)
    text.loc[[3, 400], ds.timestamp_column] = "yesterday"
    src.write_bytes(_parquet(text, index=False))
    with pytest.raises(
        ingest.StructuralError, match=rf"'event_time': 2 of {len(df)} values are not"
    ):
        ingest.write_raw_parquet(cfg, src, out, fmt="parquet")
    # Integer ids and category codes are kept as written.
    ids = expected.assign(**{ds.id_column: range(len(df))})
    src.write_bytes(_parquet(ids, index=False))
    ingest.write_raw_parquet(cfg, src, out, fmt="parquet")
    assert pd.read_parquet(out)[ds.id_column].tolist()[:3] == ["0", "1", "2"]


def _wrong(typed: pd.DataFrame, column: str, values: object) -> bytes:
    return _parquet(typed.assign(**{column: values}), index=False)


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("numbers as text", r"column 'tenure_months' has Parquet type (large_)?string, expected"),
        ("float ids", r"column 'customer_id' has Parquet type double, expected string or integer"),
        ("integer timestamps", r"column 'event_time' has Parquet type int64, expected timestamp"),
        ("not parquet", r"unreadable Parquet file: .*magic"),
        ("truncated", r"unreadable Parquet file"),
        ("empty file", r"unreadable Parquet file"),
        ("missing column", r"missing columns: \['age'\]"),
    ],
)
def test_a_bad_parquet_file_is_quarantined_whole_with_its_bytes(
    cfg, store, delivery, case: str, match: str
) -> None:
    _, typed = delivery
    good = store.read_bytes(PARQUET)
    bad = {
        "numbers as text": lambda: _wrong(
            typed, "tenure_months", typed["tenure_months"].astype(str)
        ),
        "float ids": lambda: _wrong(typed, "customer_id", 1.5),
        "integer timestamps": lambda: _wrong(typed, "event_time", 1767225600),
        "not parquet": lambda: b"customer_id,event_time\n1,2026-01-10\n",
        "truncated": lambda: good[: len(good) // 2],
        "empty file": lambda: b"",
        "missing column": lambda: _parquet(typed.drop(columns=["age"]), index=False),
    }[case]()
    store.write_bytes(PARQUET, bad)

    result = ingest_partition(cfg, DAY)

    assert result.status == "quarantined" and result.stage == "ingest"
    assert result.rows == 0
    prefix = f"quarantine/date={DAY.isoformat()}"
    reason = json.loads(store.read_bytes(f"{prefix}/reason.json"))
    assert reason["stage"] == "ingest" and reason["original"] == "features.parquet"
    assert re.search(match, reason["summary"]), reason["summary"]
    assert store.read_bytes(f"{prefix}/features.parquet") == bad  # the original, byte for byte
    assert not store.partition_exists(RAW, DAY) and not store.partition_exists(VALIDATED, DAY)
    assert result.labels_ingested  # the delivery's valid labels file is still ingested


def test_both_formats_in_one_delivery_are_refused_and_both_kept(cfg, store, delivery) -> None:
    start, typed = delivery
    csv = typed.to_csv(index=False).encode()
    store.write_bytes(f"{LANDING}/features.csv", csv)
    labels_csv = b"customer_id,churned\n" + typed["customer_id"].iloc[0].encode() + b",1\n"
    store.write_bytes(f"{LANDING}/labels_{start.isoformat()}.csv", labels_csv)

    result = ingest_partition(cfg, DAY)

    assert result.status == "quarantined" and result.stage == "ingest"
    assert "both features.csv and features.parquet" in result.message
    prefix = f"quarantine/date={DAY.isoformat()}"
    assert store.read_bytes(f"{prefix}/features.csv") == csv
    assert store.read_bytes(f"{prefix}/features.parquet") == store.read_bytes(PARQUET)
    assert json.loads(store.read_bytes(f"{prefix}/reason.json"))["originals"] == [
        "features.csv",
        "features.parquet",
    ]
    assert not store.partition_exists(RAW, DAY) and not store.partition_exists(VALIDATED, DAY)
    [labels] = result.labels  # the label day's two files are refused together, both kept
    assert labels.status == "quarantined" and "both labels_" in labels.message
    label_prefix = f"quarantine/labels/date={start.isoformat()}"
    assert store.read_bytes(f"{label_prefix}/labels_{start.isoformat()}.csv") == labels_csv
    assert store.exists(f"{label_prefix}/labels_{start.isoformat()}.parquet")
    assert not store.partition_exists(LABELS, start)


def test_parquet_labels_are_type_checked_and_bad_ones_quarantined(cfg, store, delivery) -> None:
    start, _ = delivery
    key = f"{LANDING}/labels_{start.isoformat()}.parquet"
    labels = pd.read_parquet(io.BytesIO(store.read_bytes(key)))
    target = cfg.dataset.target
    # A boolean target is a binary label.
    store.write_bytes(key, _parquet(labels.assign(**{target: labels[target] == 1}), index=False))
    [ok] = ingest_labels(cfg, DAY)
    assert ok.status == "ingested"
    pd.testing.assert_frame_equal(store.read_table(LABELS, start), labels)

    for bad, match in [
        (_parquet(labels.assign(**{target: labels[target].astype(str)})), "Parquet type"),
        (_parquet(labels.assign(**{target: 2})), r"\d+ targets not in \{0, 1\}"),
        (b"\x00" * 64, "unreadable Parquet file"),
    ]:
        store.write_bytes(key, bad)
        [outcome] = ingest_labels(cfg, DAY)
        assert outcome.status == "quarantined", outcome.message
        assert re.search(match, outcome.message), outcome.message
        assert not store.partition_exists(LABELS, start)
        quarantined = f"quarantine/labels/date={start.isoformat()}/labels_{start.isoformat()}"
        assert store.read_bytes(f"{quarantined}.parquet") == bad


def test_parquet_labels_of_each_task_type(cfg) -> None:
    from driftloop.core.config import load_config, project_root

    examples = project_root() / "configs" / "examples"
    mc = load_config(examples / "multiclass.yaml", environ={"DRIFTLOOP_HOME": "/tmp/x"})
    reg = load_config(examples / "regression.yaml", environ={"DRIFTLOOP_HOME": "/tmp/x"})
    ids = pa.array(["a", "b", "c"])

    def table(target: str, values: pa.Array) -> bytes:
        buf = io.BytesIO()
        pq.write_table(pa.table({"customer_id": ids, target: values}), buf)
        return buf.getvalue()

    # Integer class codes are the class names as written.
    codes = parse_labels(mc, table("risk_tier", pa.array([0, 2, 1])), "parquet")
    assert codes["risk_tier"].tolist() == ["0", "2", "1"]
    with pytest.raises(ingest.StructuralError, match="'risk_tier' has Parquet type double"):
        parse_labels(mc, table("risk_tier", pa.array([0.0, 2.0, 1.0])), "parquet")
    values = parse_labels(reg, table("spend_next_month", pa.array([1, 2, 3])), "parquet")
    assert values["spend_next_month"].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ingest.StructuralError, match="unexpected columns: \\['note'\\]"):
        buf = io.BytesIO()
        pq.write_table(pa.table({"customer_id": ids, "churned": [0, 1, 0], "note": ids}), buf)
        parse_labels(cfg, buf.getvalue(), "parquet")


def test_a_header_only_parquet_file_is_an_empty_delivery(cfg, tmp_path: Path) -> None:
    typed = parse_features(
        cfg,
        synth.generate_day(cfg, DAY, synth.Scenario(), seed=1, rows=5)
        .features.to_csv(index=False)
        .encode(),
    )
    src = tmp_path / "features.parquet"
    src.write_bytes(_parquet(typed.iloc[0:0], index=False))
    assert ingest.write_raw_parquet(cfg, src, tmp_path / "raw.parquet", fmt="parquet") == 0
    assert list(pd.read_parquet(tmp_path / "raw.parquet").columns) == list(typed.columns)
