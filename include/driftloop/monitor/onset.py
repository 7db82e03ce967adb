"""When did the current change begin? The onset of a drift streak or of a performance decay.

The retrain policy trains on data since the onset (the new regime) instead of the usual window.
Both onsets are read from what earlier days stored (their drift reports, their labelled
predictions), never from the clock, so a rerun of a day finds the same onset.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from driftloop.core.partition import key
from driftloop.core.storage import DRIFT, LABELS, Store
from driftloop.monitor.report import JSON_NAME

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig
    from driftloop.monitor.asof import AsOf

# How far back an onset is looked for: a streak longer than this starts at its limit.
ONSET_LOOKBACK_DAYS = 90


def _drift_signal(body: dict[str, Any]) -> bool:
    sig = body.get("signals") or {}
    return bool(sig.get("feature_drift") or sig.get("prediction_drift"))


def drift_onset(
    store: Store, day: date, champion_version: str | None, drifting_today: bool
) -> date | None:
    """First day of the current, unbroken run of drift alarms for this champion (None: no drift).

    Read from the earlier days' reports: the run ends at a day without an alarm, a day without a
    report, or a report about another champion.
    """
    if not drifting_today:
        return None
    onset = day
    for back in range(1, ONSET_LOOKBACK_DAYS + 1):
        d = day - timedelta(days=back)
        if not store.partition_exists(DRIFT, d):
            break
        body = json.loads(store.read_bytes(key(DRIFT, d, JSON_NAME)))
        if str(body.get("champion_version")) != str(champion_version) or not _drift_signal(body):
            break
        onset = d
    return onset


def decay_onset(
    store: Store,
    cfg: PipelineConfig,
    day: date,
    champion_version: str | None,
    holdout_metrics: dict[str, float],
    view: AsOf | None = None,
) -> date | None:
    """First day of the newest unbroken run of labelled days whose own metric has decayed.

    The performance window says *that* the champion decayed; per-day metrics say *since when*
    (labels arrive late, so the data changed days before the alarm). The run may reach back past
    the window. None when the newest labelled day alone has not decayed (a slow slide: no clear
    onset to train from). ``view``: the check's as-of view (only labels landed by its day count).
    """
    from driftloop.core.metrics import metric_table
    from driftloop.monitor.monitoring import daily_metrics

    metric = cfg.gate.primary_metric
    if metric not in holdout_metrics:
        return None
    table = metric_table(cfg.dataset.task)
    tolerance = cfg.drift.tolerance(table.task, metric, holdout_metrics[metric])
    if tolerance is None:
        return None
    earliest = day - timedelta(days=ONSET_LOOKBACK_DAYS)
    label_days = view.arrivals if view is not None else store.partitions(LABELS)
    labelled = [d for d in label_days if earliest <= d <= day]
    onset = None
    for d in sorted(labelled, reverse=True):
        found = daily_metrics(store, cfg, d, champion_version, view)
        value = None if found is None else found.get(metric)
        # Decayed: worse than the holdout by more than the tolerance, in the metric's direction.
        if value is None or table.regression(metric, value, holdout_metrics[metric]) <= tolerance:
            break
        onset = d
    return onset


__all__ = ["ONSET_LOOKBACK_DAYS", "decay_onset", "drift_onset"]
