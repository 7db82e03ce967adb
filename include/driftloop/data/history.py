"""A user's own history, cut into the landing layout: what ``driftloop land`` and ``replay`` write.

The source is one table (CSV or Parquet) with the config's columns: the timestamp, the features,
the target and, optionally, the id (absent: ids are the row numbers of the source in timestamp
order, stable across runs). Rows are cut into partitions by their own timestamps (UTC): one per
day, week (starting Monday) or month, each named by its first day. Each partition is delivered as
the scheduler expects it from a producer (docs: Your own data, "Landing format"), with the config's columns
only (others are reported by :func:`ignored_columns`)::

    landing/<P>/features.csv          the events of partition P (no target column)
    landing/<D>/labels_<P>.csv        id + target of P, delivered with the first partition D on or
                                      after P + label delay (after the last partition: on that day)

or the same as ``features.parquet`` and ``labels_<P>.parquet`` (``driftloop land --format parquet``).

Rows without a target value are delivered as events and get no label, as in production. Nothing of
the source is dropped: a row whose timestamp cannot be read stops the cut with the row numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from driftloop.core.config import ConfigError, FeatureType
from driftloop.core.errors import EXIT_USAGE, DriftloopError
from driftloop.core.storage import LANDING_FEATURES, landing_prefix

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.core.config import PipelineConfig
    from driftloop.core.storage import Store

Period = Literal["day", "week", "month"]
LandingFormat = Literal["csv", "parquet"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
# The longest partition of each period, in hours: how far an event may lie after its partition's
# first day (validation.partition_tolerance_hours must cover it).
PERIOD_HOURS: dict[Period, float] = {"day": 1.0, "week": 7 * 24.0, "month": 31 * 24.0}


class HistoryError(DriftloopError, ValueError):
    """The source table cannot be cut into partitions; the message names the column or rows."""

    exit_code = EXIT_USAGE


@dataclass
class Delivery:
    """What lands in ``landing/<day>/``: the events of ``day`` and the labels that arrive then."""

    day: date
    features: pd.DataFrame
    labels: dict[date, pd.DataFrame] = field(default_factory=dict)


def read_source(path: str | Path, cfg: PipelineConfig) -> pd.DataFrame:
    """The source table with the config's columns, timestamps parsed as UTC, ids assigned if absent.

    Raises:
        HistoryError: unreadable file, missing columns, or timestamps that do not parse.
    """
    import pandas as pd

    p = Path(path)
    ds = cfg.dataset
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(p, dtype={ds.id_column: str}, low_memory=False)
    except FileNotFoundError:
        raise HistoryError(f"source {p} does not exist") from None
    except Exception as err:
        raise HistoryError(f"cannot read source {p}: {err}".splitlines()[0]) from None
    missing = [c for c in (ds.timestamp_column, *ds.feature_names) if c not in frame.columns]
    if missing:
        raise HistoryError(
            f"source {p} lacks column(s) {', '.join(missing)} named in the config "
            f"(it has {', '.join(map(str, frame.columns[:20]))})"
        )
    ts = pd.to_datetime(frame[ds.timestamp_column], utc=True, errors="coerce", format="mixed")
    bad = ts.isna()
    if bad.any():
        rows = ", ".join(
            str(i + 2 if p.suffix.lower() == ".csv" else i) for i in bad[bad].index[:5]
        )
        raise HistoryError(
            f"source {p}: {int(bad.sum())} row(s) with no readable {ds.timestamp_column} "
            f"(rows {rows}{', ...' if bad.sum() > 5 else ''}); fix or remove them"
        )
    if frame.empty:
        raise HistoryError(f"source {p} has no rows")
    frame[ds.timestamp_column] = ts
    frame = frame.sort_values(ds.timestamp_column, kind="stable", ignore_index=True)
    if ds.id_column not in frame.columns:
        frame[ds.id_column] = [f"r{i:08d}" for i in range(len(frame))]
    else:
        frame[ds.id_column] = frame[ds.id_column].astype(str)
    return frame


def period_start(day: date, period: Period) -> date:
    """The first day of the partition that ``day`` falls in."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def check_tolerance(cfg: PipelineConfig, period: Period) -> None:
    """Refuse a period whose partitions span more than validation lets an event lie from its day.

    Raises:
        ConfigError: naming the key and the value the period needs.
    """
    need = PERIOD_HOURS[period]
    have = cfg.validation.partition_tolerance_hours
    if period != "day" and have < need:
        raise ConfigError(
            f"{period}ly partitions hold events up to {need:g} hours after their first day, but "
            f"validation.partition_tolerance_hours is {have:g}: set it to {need:g} (or "
            f"DRIFTLOOP__VALIDATION__PARTITION_TOLERANCE_HOURS={need:g})"
        )


def deliveries(
    frame: pd.DataFrame, cfg: PipelineConfig, period: Period = "day", label_delay: int | None = None
) -> Iterator[Delivery]:
    """The source cut into deliveries, oldest first (see the module docstring for the layout)."""
    ds = cfg.dataset
    delay = ds.label_delay_days if label_delay is None else label_delay
    if delay < 0:
        raise HistoryError(f"label delay must be >= 0 days, got {delay}")
    starts = frame[ds.timestamp_column].dt.date.map(lambda d: period_start(d, period))
    parts = sorted(set(starts))
    events = [ds.id_column, ds.timestamp_column, *ds.feature_names]
    has_target = ds.target in frame.columns
    arrivals: dict[date, list[date]] = {}
    for p in parts:
        due = p + timedelta(days=delay)
        arrive = next((d for d in parts if d >= due), max(due, parts[-1]))
        arrivals.setdefault(arrive, []).append(p)
    grouped = dict(tuple(frame.groupby(starts, sort=True)))

    def labels_of(q: date) -> pd.DataFrame:
        rows = grouped[q]
        return rows[rows[ds.target].notna()][[ds.id_column, ds.target]].reset_index(drop=True)

    for p in parts:
        delivery = Delivery(p, grouped[p][events].reset_index(drop=True))
        for q in arrivals.get(p, []) if has_target else []:
            delivery.labels[q] = labels_of(q)
        yield delivery
    # Labels due after the last partition arrive on their own day (a labels-only delivery).
    for day in sorted(a for a in arrivals if a not in grouped) if has_target else []:
        for q in arrivals[day]:
            yield Delivery(day, grouped[q].iloc[0:0][events], {q: labels_of(q)})


def write_delivery(
    store: Store, cfg: PipelineConfig, delivery: Delivery, fmt: LandingFormat = "csv"
) -> list[str]:
    """Write one delivery to ``landing/<day>/`` as CSV or Parquet (``fmt``): labels first, the
    features file last (its arrival is what the ingest sensor waits for). A labels-only delivery
    writes no features file.

    Parquet files carry the types ingest reads: UTC timestamps, float/integer numbers, ids and
    category codes as strings. In both formats a column of whole numbers that pandas read as floats
    (because of blanks) is written as integers: a code ``1`` stays ``1``, not ``1.0``.
    """
    ds = cfg.dataset
    categorical = [f.name for f in ds.features if f.type is FeatureType.CATEGORICAL]
    prefix = landing_prefix(delivery.day)
    written = []
    for day, labels in sorted(delivery.labels.items()):
        key = f"{prefix}/labels_{day.isoformat()}.{fmt}"
        text = [ds.target] if ds.task == "multiclass" else []
        store.write_bytes(key, _encode(_as_delivered(labels, [ds.target], text, fmt), fmt))
        written.append(key)
    if len(delivery.features):
        features = _as_delivered(delivery.features, categorical, categorical, fmt)
        if fmt == "csv":
            features[ds.timestamp_column] = features[ds.timestamp_column].dt.strftime(
                "%Y-%m-%dT%H:%M:%S.%f+00:00"
            )
        key = f"{prefix}/{LANDING_FEATURES[fmt]}"
        store.write_bytes(key, _encode(features, fmt))
        written.append(key)
    return written


def _encode(frame: pd.DataFrame, fmt: LandingFormat) -> bytes:
    from driftloop.core.storage import parquet_bytes

    return parquet_bytes(frame) if fmt == "parquet" else frame.to_csv(index=False).encode()


def _as_delivered(
    frame: pd.DataFrame, whole: list[str], text: list[str], fmt: LandingFormat
) -> pd.DataFrame:
    """``frame`` with float columns of whole numbers among ``whole`` as integers, and (Parquet
    only: a CSV is text anyway) the ``text`` columns as strings."""
    import pandas as pd

    frame = frame.copy()
    for column in whole:
        col = frame[column]
        values = col.dropna()
        if pd.api.types.is_float_dtype(col) and bool((values == values.round()).all()):
            frame[column] = col.astype("Int64")
    for column in text if fmt == "parquet" else []:
        frame[column] = frame[column].astype("string")
    return frame


def ignored_columns(frame: pd.DataFrame, cfg: PipelineConfig) -> list[str]:
    """Source columns the config does not name (not delivered: the pipeline does not know them)."""
    ds = cfg.dataset
    known = {ds.id_column, ds.timestamp_column, ds.target, *ds.feature_names}
    return [str(c) for c in frame.columns if c not in known]


__all__ = [
    "PERIODS",
    "PERIOD_HOURS",
    "Delivery",
    "HistoryError",
    "LandingFormat",
    "Period",
    "check_tolerance",
    "deliveries",
    "ignored_columns",
    "period_start",
    "read_source",
    "write_delivery",
]
