"""A pipeline's history, day by day: what the monitoring view in the Airflow UI draws.

:func:`build_timeline` gathers, for every day found in storage, the rows validated and quarantined
by ingest, the day's drift report (drift share, per-feature PSI, prediction drift, live metric vs
the champion's holdout metric, the metric estimated before labels, the policy's decision and
reason) and, from the registry's audit records, when versions were trained, promoted, rejected or
rolled back. It reads only small JSON
files (report.json, partition markers, quarantine reasons, audit records), never the data, so a
history of hundreds of days loads in well under a second. Nothing here needs Airflow or MLflow.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Literal

from driftloop.core.partition import PART_FILE, SUCCESS, Partition, Zone
from driftloop.core.storage import (
    DRIFT,
    QUARANTINE,
    VALIDATED,
    LocalStore,
    Store,
    partition_prefix,
)
from driftloop.data.ingest import REASON
from driftloop.model.registry import DECISIONS_PREFIX
from driftloop.monitor.alerts import alert_days, sent_on
from driftloop.monitor.report import JSON_NAME

__all__ = ["Check", "Day", "Marker", "MarkerKind", "Timeline", "VersionBand", "build_timeline"]

log = logging.getLogger(__name__)

READERS = 8  # files read at once
ROWS = Zone.QUARANTINE_ROWS  # rows set apart from a validated day

MarkerKind = Literal["retrain", "trained", "promoted", "rejected", "rollback"]


@dataclass(frozen=True)
class Check:
    """What one day's drift report says (the fields the view shows)."""

    champion_version: str | None
    status: str  # drift status ("drift", "no_drift", "insufficient_data") or "no_champion"
    retrain: bool
    pending: bool
    reason: str
    drift_share: float | None = None
    drift_threshold: float | None = None
    drifted: tuple[str, ...] = ()
    psi: dict[str, float] = field(default_factory=dict)  # feature -> PSI
    prediction_psi: float | None = None
    prediction_threshold: float | None = None
    prediction_drifted: bool = False
    metric: str | None = None  # the primary metric
    live: float | None = None
    holdout: float | None = None
    performance: str | None = None  # "ok", "decay", "insufficient_labels"
    # The primary metric estimated before labels (report.json's ``estimated_performance``): over
    # the estimate's window (what the policy compares with the holdout) and for the day alone.
    estimated: float | None = None
    estimated_day: float | None = None
    estimate_method: str | None = None  # "cbpe", "dle"
    estimate_drop: bool = False
    estimate_reason: str | None = None
    # The policy's signals that fired (feature_drift, prediction_drift, estimated_drop,
    # performance_decay), whether or not they led to a retrain.
    fired: tuple[str, ...] = ()

    @property
    def suppressed(self) -> bool:
        """Signals fired but the policy held the retrain back (cooldown, a training running)."""
        return not self.retrain and not self.pending and self.reason.startswith("suppressed:")

    @property
    def verdict(self) -> str:
        """The decision in a word or two."""
        if self.retrain:
            return "retrain"
        if self.pending:
            return "retrain pending"
        # "no retrain" beside the signals that fired would read as if they were ignored.
        return "retrain suppressed" if self.suppressed else "no retrain"


@dataclass(frozen=True)
class Day:
    """One logical day: what ingest kept and set apart, and the day's check (None: not checked)."""

    day: date
    validated_rows: int | None = None  # None: no validated partition, or its count is unknown
    quarantined_rows: int | None = None  # rows set apart (the whole day, or some rows of it)
    quarantined: bool = False  # the whole day went to quarantine
    quarantine_reason: str | None = None
    check: Check | None = None
    # Alerts sent about the day: "kind -> channel" with "failed" when the channel refused it.
    alerts: tuple[str, ...] = ()


@dataclass(frozen=True)
class VersionBand:
    """Consecutive checked days during which ``version`` was the champion."""

    version: str
    first: date
    last: date


@dataclass(frozen=True)
class Marker:
    """An event on the time axis: a retrain request, or a registry decision about a version."""

    day: date
    kind: MarkerKind
    version: str | None
    text: str
    note: str = ""  # a word or two the label adds (a version whose gate failed: "gate failed")


@dataclass
class Timeline:
    """A pipeline's history, oldest day first; every day between the first and the last is listed."""

    pipeline: str
    model_name: str
    days: list[Day]
    bands: list[VersionBand]
    markers: list[Marker]

    @property
    def checks(self) -> list[tuple[date, Check]]:
        return [(d.day, d.check) for d in self.days if d.check is not None]

    @property
    def metric(self) -> str | None:
        """The primary metric the checks compared (the newest one that names it)."""
        return next((c.metric for _, c in reversed(self.checks) if c.metric), None)

    def top_drifted(self, n: int = 5) -> list[tuple[str, int]]:
        """The features that drifted on the most days, with their day counts (most first)."""
        counts = Counter(f for _, c in self.checks for f in c.drifted)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


# -- reading ---------------------------------------------------------------------------------------
def _float(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def parse_check(body: dict[str, Any]) -> Check:
    """The view's fields of a report.json body (a bootstrap report has no drift section)."""
    decision = body.get("decision") or {}
    drift = body.get("drift") or {}
    perf = body.get("performance") or {}
    pred = drift.get("prediction") or {}
    estimate = body.get("estimated_performance") or {}
    metric = perf.get("primary_metric") or estimate.get("metric")
    version = body.get("champion_version")
    return Check(
        champion_version=None if version is None else str(version),
        status=str(drift.get("status") or body.get("status") or "unknown"),
        retrain=bool(decision.get("retrain")),
        pending=bool(decision.get("pending")),
        reason=str(decision.get("reason") or ""),
        drift_share=_float(drift.get("drift_share")),
        drift_threshold=_float((drift.get("thresholds") or {}).get("drift_share")),
        drifted=tuple(drift.get("drifted") or ()),
        psi={
            str(f["name"]): v
            for f in drift.get("features") or []
            if (v := _float(f.get("psi"))) is not None
        },
        prediction_psi=_float(pred.get("psi")),
        prediction_threshold=_float(pred.get("threshold"))
        or _float((drift.get("thresholds") or {}).get("prediction_psi")),
        prediction_drifted=bool(pred.get("drifted")),
        metric=metric,
        live=_float((perf.get("live") or {}).get(metric)),
        holdout=_float((perf.get("holdout") or {}).get(metric)),
        performance=perf.get("status"),
        estimated=_float((estimate.get("window") or {}).get("value")),
        estimated_day=_float((estimate.get("day") or {}).get("value")),
        estimate_method=estimate.get("method"),
        estimate_drop=bool(estimate.get("drop")),
        estimate_reason=estimate.get("reason"),
        fired=tuple(str(f) for f in decision.get("fired") or ()),
    )


def _json(store: Store, key: str) -> dict[str, Any] | None:
    """A JSON object from storage; None (and a warning) when it is missing or unreadable."""
    try:
        body = json.loads(store.read_bytes(key))
    except (FileNotFoundError, ValueError) as err:
        log.warning("monitoring view: cannot read %s: %s", store.uri(key), err)
        return None
    return body if isinstance(body, dict) else None


def _validated_rows(store: Store, day: date) -> int | None:
    """Rows of a validated partition: from its marker (written by ingest), else the Parquet footer
    of a local file (partitions written before markers carried a count); None when unknown."""
    prefix = partition_prefix(VALIDATED, day)
    marker = _json(store, f"{prefix}/{SUCCESS}") or {}
    if isinstance(marker.get("rows"), int):
        return int(marker["rows"])
    if isinstance(store, LocalStore):  # reading a footer is cheap only on a local disk
        import pyarrow.parquet as pq

        try:
            with store.local_file(f"{prefix}/{PART_FILE}") as path:
                return int(pq.read_metadata(path).num_rows)
        except (OSError, ValueError) as err:  # missing or not Parquet: the count is unknown
            log.warning("monitoring view: no row count for %s: %s", store.uri(prefix), err)
    return None


def _quarantine(store: Store, day: date, zone: str) -> dict[str, Any]:
    return _json(store, f"{partition_prefix(zone, day)}/{REASON}") or {}


def _day(store: Store, day: date, zones: dict[Zone, set[date]], alerted: set[date]) -> Day:
    day_ = _day_data(store, day, zones)
    if day not in alerted:
        return day_
    sent = tuple(
        f"{r.kind} -> {r.channel}" + ("" if r.ok else " (failed)") for r in sent_on(store, day)
    )
    return replace(day_, alerts=sent)


def _day_data(store: Store, day: date, zones: dict[Zone, set[date]]) -> Day:
    validated = _validated_rows(store, day) if day in zones[VALIDATED] else None
    check = None
    if day in zones[DRIFT]:
        body = _json(store, f"{partition_prefix(DRIFT, day)}/{JSON_NAME}")
        check = parse_check(body) if body is not None else None
    # A whole day quarantined, or some rows of a validated day set apart: the reason says how many.
    for zone, count, whole in ((QUARANTINE, "rows", True), (ROWS, "quarantined_rows", False)):
        if day in zones[zone]:
            reason = _quarantine(store, day, zone)
            rows = reason.get(count)
            return Day(
                day,
                validated,
                rows if isinstance(rows, int) else None,
                whole,
                str(reason.get("summary") or zone),
                check,
            )
    return Day(day, validated, check=check)


def _bands(days: list[Day]) -> list[VersionBand]:
    bands: list[VersionBand] = []
    for d in days:
        version = d.check.champion_version if d.check else None
        if version is None:
            continue
        if bands and bands[-1].version == version:
            bands[-1] = VersionBand(version, bands[-1].first, d.day)
        else:
            bands.append(VersionBand(version, d.day, d.day))
    return bands


def _record_markers(records: list[dict[str, Any]], days: list[Day]) -> list[Marker]:
    """Markers of the registry's audit records (placed on the partition date they were trained on;
    a rollback on the first checked day the restored version is champion again)."""
    out = []
    for r in records:
        version, action = str(r.get("version")), str(r.get("action") or "")
        try:
            day = Partition.of(r["partition_date"]).day
        except (KeyError, TypeError, ValueError):
            day = None
        reason = str(r.get("reason") or "")
        if action == "gate" and day is not None:
            verdict = "passed" if (r.get("decision") or {}).get("promote") else "failed"
            why = (r.get("decision") or {}).get("reason") or ""
            text = f"v{version} trained; gate {verdict}: {why}"
            # Without it "trained v2" beside v1's band reads as if v2 were on its way in.
            note = "" if verdict == "passed" else "gate failed"
            out.append(Marker(day, "trained", version, text, note))
        elif action == "promote" and r.get("changed", True) and day is not None:
            out.append(Marker(day, "promoted", version, f"v{version} promoted: {reason}"))
        elif action == "rejected" and day is not None:
            out.append(Marker(day, "rejected", version, f"v{version} rejected: {reason}"))
        elif action.startswith("rollback-from-v"):
            demoted = action.removeprefix("rollback-from-v")
            when = _first_return(days, demoted, version)
            if when is not None:
                text = f"rolled back from v{demoted} to v{version}: {reason}"
                out.append(Marker(when, "rollback", version, text))
    return out


def _first_return(days: list[Day], demoted: str, restored: str) -> date | None:
    """The first checked day whose champion is ``restored`` right after one with ``demoted``."""
    previous = None
    for d in days:
        if d.check is None or d.check.champion_version is None:
            continue
        if previous == demoted and d.check.champion_version == restored:
            return d.day
        previous = d.check.champion_version
    return None


def build_timeline(store: Store, pipeline: str, model_name: str) -> Timeline:
    """The history of a pipeline from its storage: every day from the first to the last day that
    has a validated, quarantined or checked partition, and the markers of its model's decisions."""
    zones = {z: set(store.partitions(z)) for z in (VALIDATED, QUARANTINE, ROWS, DRIFT)}
    alerted = alert_days(store)
    seen = set().union(*zones.values(), alerted)
    days: list[Day] = []
    if seen:
        first, last = min(seen), max(seen)
        every = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        # Small reads, many of them: in parallel, which matters on an object store.
        with ThreadPoolExecutor(max_workers=READERS) as pool:
            days = list(pool.map(lambda day: _day(store, day, zones, alerted), every))
    records = [
        body
        for key in store.list(f"{DECISIONS_PREFIX}/{model_name}/")
        if key.endswith(".json") and (body := _json(store, key)) is not None
    ]
    markers = [
        Marker(d.day, "retrain", None, f"retrain requested: {d.check.reason}")
        for d in days
        if d.check is not None and d.check.retrain
    ]
    markers += _record_markers(records, days)
    order = {k: i for i, k in enumerate(("retrain", "trained", "promoted", "rejected", "rollback"))}
    markers.sort(key=lambda m: (m.day, order[m.kind], m.version or ""))
    return Timeline(pipeline, model_name, days, _bands(days), markers)
