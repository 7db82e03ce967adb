"""Quick inputs for model-side tests: validated partitions and their labels, straight from synth.

Bypasses landing/ingest/GX (tested elsewhere) and writes what they produce: ``validated/date=D``
(id, UTC timestamp, features) and ``labels/date=D`` (id, target), with the labels of the newest
``label_delay_days`` days missing, as in production.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd

from driftloop.core.config import PipelineConfig
from driftloop.core.storage import LABELS, VALIDATED, Store, parquet_bytes
from driftloop.data import synth

START = date(2026, 1, 1)


def validated_frame(cfg: PipelineConfig, batch: synth.DayBatch) -> pd.DataFrame:
    """The validated-zone shape of a synthetic batch (typed timestamp, float numerics)."""
    ds = cfg.dataset
    df = batch.features.copy()
    df[ds.timestamp_column] = pd.to_datetime(df[ds.timestamp_column], utc=True)
    for name in ds.numeric:
        df[name] = df[name].astype("float64")
    for name in [ds.id_column, *ds.categorical]:
        df[name] = df[name].astype(str)
    return df


def write_days(
    store: Store,
    cfg: PipelineConfig,
    days: int,
    *,
    start: date = START,
    rows: int = 600,
    seed: int = 0,
    scenario: synth.Scenario | None = None,
    label_delay: int | None = None,
) -> list[date]:
    """Write ``days`` validated partitions from ``start``; labels for all but the newest ``label_delay``.

    Returns the days that have labels.
    """
    scenario = scenario or synth.Scenario()
    delay = cfg.dataset.label_delay_days if label_delay is None else label_delay
    labelled = []
    for i in range(days):
        day = start + timedelta(days=i)
        batch = synth.generate_day(cfg, day, scenario, seed, rows)
        store.write_partition(
            VALIDATED, day, {"part-0.parquet": parquet_bytes(validated_frame(cfg, batch))}
        )
        if i < days - delay:
            store.write_partition(LABELS, day, {"part-0.parquet": parquet_bytes(batch.labels)})
            labelled.append(day)
    return labelled


def logical(day: date) -> datetime:
    """The logical date (UTC midnight) of a daily run for ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
