"""The label store keeps when labels arrived, and reads them as of a day (point-in-time)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from driftloop.core.storage import LABELS, parquet_bytes
from driftloop.data.ingest import ingest_labels
from driftloop.data.labels import ARRIVED, arrivals_of, label_arrivals, read_labels

EVENTS = date(2026, 1, 5)


def _deliver(cfg, store, delivered: date, label_day: date, rows: int) -> None:
    """A labels file for ``label_day`` in the delivery of ``delivered``, ingested."""
    ds = cfg.dataset
    frame = pd.DataFrame(
        {ds.id_column: [f"c{i}" for i in range(rows)], ds.target: [0, 1] * (rows // 2)}
    )
    key = f"landing/{delivered.isoformat()}/labels_{label_day.isoformat()}.csv"
    store.write_bytes(key, frame.to_csv(index=False).encode())
    [result] = ingest_labels(cfg, delivered, store)
    assert result.status == "ingested"


def test_labels_are_seen_from_the_day_they_arrived_not_their_event_day(cfg, store) -> None:
    """Labels of day L delivered on D count for decisions of D and later, never of L..D-1."""
    delivered = EVENTS + timedelta(days=3)
    _deliver(cfg, store, delivered, EVENTS, rows=10)

    assert arrivals_of(store, EVENTS) == [delivered]
    assert label_arrivals(store, as_of=delivered - timedelta(days=1)) == {}
    assert label_arrivals(store, as_of=delivered) == {EVENTS: delivered}
    assert label_arrivals(store) == {EVENTS: delivered}
    assert read_labels(store, cfg, EVENTS, as_of=delivered - timedelta(days=1)).empty
    seen = read_labels(store, cfg, EVENTS, as_of=delivered)
    assert seen.columns.tolist() == [cfg.dataset.id_column, cfg.dataset.target]
    assert len(seen) == 10 == len(read_labels(store, cfg, EVENTS))
    # ``since`` and ``until`` leave out older and newer label days.
    assert label_arrivals(store, since=EVENTS + timedelta(days=1)) == {}
    assert label_arrivals(store, until=EVENTS - timedelta(days=1)) == {}
    assert label_arrivals(store, since=EVENTS, until=EVENTS) == {EVENTS: delivered}


def test_a_partition_without_arrival_counts_from_its_own_day(cfg, store) -> None:
    """A partition written before arrival was recorded is read as before: from its own day."""
    ds = cfg.dataset
    frame = pd.DataFrame({ds.id_column: ["a", "b"], ds.target: [0, 1]})
    store.write_partition(LABELS, EVENTS, {"part-0.parquet": parquet_bytes(frame)})

    assert arrivals_of(store, EVENTS) == [EVENTS]
    assert label_arrivals(store, as_of=EVENTS - timedelta(days=1)) == {}
    assert label_arrivals(store, as_of=EVENTS) == {EVENTS: EVENTS}
    assert read_labels(store, cfg, EVENTS, as_of=EVENTS - timedelta(days=1)).empty
    assert len(read_labels(store, cfg, EVENTS, as_of=EVENTS)) == 2


def test_rows_that_carry_their_own_arrival_are_filtered_row_by_row(cfg, store) -> None:
    """A partition merged from two deliveries (per-row arrival): each row counts from its own day."""
    ds = cfg.dataset
    first, second = EVENTS + timedelta(days=2), EVENTS + timedelta(days=6)
    frame = pd.DataFrame(
        {
            ds.id_column: ["a", "b", "c"],
            ds.target: [0, 1, 1],
            ARRIVED: [first.isoformat(), first.isoformat(), second.isoformat()],
        }
    )
    stats = {"arrived": [first.isoformat(), second.isoformat()]}
    store.write_partition(LABELS, EVENTS, {"part-0.parquet": parquet_bytes(frame)}, stats)

    assert label_arrivals(store, as_of=first) == {EVENTS: first}
    assert read_labels(store, cfg, EVENTS, as_of=first)[ds.id_column].tolist() == ["a", "b"]
    assert read_labels(store, cfg, EVENTS, as_of=second)[ds.id_column].tolist() == ["a", "b", "c"]


def test_a_redelivery_records_its_own_day(cfg, store) -> None:
    """Ingesting a later delivery of the same label day replaces the partition and its arrival."""
    _deliver(cfg, store, EVENTS + timedelta(days=3), EVENTS, rows=10)
    _deliver(cfg, store, EVENTS + timedelta(days=5), EVENTS, rows=4)

    assert arrivals_of(store, EVENTS) == [EVENTS + timedelta(days=5)]
    assert read_labels(store, cfg, EVENTS, as_of=EVENTS + timedelta(days=4)).empty
