"""The label store: ``labels/date=<L>/`` partitions that keep the day their labels arrived.

Labels of the events of day ``L`` arrive later, in the delivery of some day ``D``
(``landing/<D>/labels_<L>.csv``). Ingest records ``D`` in the partition marker's ``arrived`` list
(:func:`arrival_stats`), so which label days had landed by a given day is answered from small JSON
files, without opening the data. A partition may also carry the delivery day per row, in the
:data:`ARRIVED` column: :func:`read_labels` honours it, which is the shape a merge of corrected
deliveries by id needs (each row keeps when its value came in); today's ingest writes one delivery
per partition, so the marker says it for every row.

Point-in-time reads (:func:`label_arrivals`, :func:`read_labels`) take an ``as_of`` day: only labels
that had arrived by that day's delivery count, so a decision made for day ``D`` sees the labels that
had landed by ``D`` whether it runs that day, in a backfill, or in a rerun weeks later.

Partitions written before arrival was recorded (or by tools that write the zone directly) carry
neither: they count from their own day (:func:`assumed_arrival`), which is how every reader took
them before arrival was recorded, so a history kept from then is read as it always was. Assuming
``dataset.label_delay_days`` instead would be closer to a daily feed, but it would silently change
decisions already made on such history and hide labels a tool meant to be there; only deliveries
ingested since carry their true arrival and are read point-in-time.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from driftloop.core.partition import SUCCESS
from driftloop.core.storage import LABELS, Store, as_date, partition_prefix

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.core.config import PipelineConfig

# The delivery day a label row came in with (ISO date string, one per row), where recorded per row.
ARRIVED = "_arrived"
# The marker key listing the delivery days of a label partition's rows.
ARRIVED_STAT = "arrived"


def assumed_arrival(label_day: date) -> date:
    """When the labels of ``label_day`` arrived, for a partition that did not record it: that day."""
    return label_day


def arrival_stats(df: pd.DataFrame, delivered: date) -> dict[str, Any]:
    """The marker stats of a label partition written from the delivery of ``delivered``: its row
    count and the delivery days of its rows."""
    return {"rows": len(df), ARRIVED_STAT: [delivered.isoformat()]}


def arrivals_of(store: Store, label_day: date) -> list[date]:
    """The delivery days of a label partition's rows, from its marker (oldest first)."""
    marker = store.read_json(f"{partition_prefix(LABELS, label_day)}/{SUCCESS}")
    days = marker.get(ARRIVED_STAT) if isinstance(marker, dict) else None
    if not days:
        return [assumed_arrival(label_day)]
    return sorted(as_date(d) for d in days)


def label_arrivals(
    store: Store,
    as_of: date | None = None,
    *,
    since: date | None = None,
    until: date | None = None,
) -> dict[date, date]:
    """Label day -> the first delivery that brought labels of it, for label days with some rows
    landed by ``as_of`` (None: every label landed so far); label days before ``since`` or after
    ``until`` are left out (their markers are not read)."""
    out = {}
    for day in store.partitions(LABELS):
        if (since is not None and day < since) or (until is not None and day > until):
            continue
        first = arrivals_of(store, day)[0]
        if as_of is None or first <= as_of:
            out[day] = first
    return out


def read_labels(
    store: Store,
    cfg: PipelineConfig,
    label_day: date,
    as_of: date | None = None,
    *,
    first_arrival: date | None = None,
) -> pd.DataFrame:
    """The id and target of the labels of ``label_day`` that had arrived by ``as_of`` (None: all).

    ``first_arrival``: the partition's first delivery when the caller knows it already (from
    :func:`label_arrivals`), saving a marker read.
    """
    ds = cfg.dataset
    if as_of is not None:
        first = first_arrival or arrivals_of(store, label_day)[0]
        if first > as_of:
            return store.read_table(LABELS, label_day)[[ds.id_column, ds.target]].iloc[0:0]
    df = store.read_table(LABELS, label_day)
    if as_of is not None and ARRIVED in df.columns:
        df = df[df[ARRIVED].astype(str) <= as_of.isoformat()]
    return df[[ds.id_column, ds.target]].reset_index(drop=True)


__all__ = [
    "ARRIVED",
    "ARRIVED_STAT",
    "arrival_stats",
    "arrivals_of",
    "assumed_arrival",
    "label_arrivals",
    "read_labels",
]
