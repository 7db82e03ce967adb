"""The daily check of the champion, end to end: what the ``drift_check`` DAG and ``driftloop drift`` run.

Loads the champion's reference profile and holdout metrics, measures drift and live performance
(:mod:`driftloop.monitoring`), finds when the current drift began, applies the retrain policy
(:mod:`driftloop.policy`) and writes the day's report (:mod:`driftloop.report`). The outcome carries
the conf for the ``train`` DAG when the policy says to retrain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.storage import (
    DRIFT,
    LABELS,
    VALIDATED,
    Store,
    as_date,
    open_store,
    partition_prefix,
)

if TYPE_CHECKING:
    from driftloop.config import PipelineConfig
    from driftloop.drift import Profile

# Where a run's holdout metrics may be logged, in order of preference.
_METRIC_PREFIXES = ("holdout_", "holdout.", "test_", "")
ONSET_LOOKBACK_DAYS = 90


@dataclass
class ChampionContext:
    """What the check needs to know about the production model."""

    version: str | None
    profile: Profile | None
    holdout_metrics: dict[str, float] = field(default_factory=dict)
    training_end: date | None = None


@dataclass
class CheckOutcome:
    """Result of one day's check; ``summary()`` is what the DAG task returns (small, JSON-able)."""

    day: date
    report_uri: str
    status: str
    decision: dict[str, Any]
    champion_version: str | None
    drift_share: float | None = None
    drifted: list[str] = field(default_factory=list)
    performance: str | None = None
    trigger_conf: dict[str, Any] | None = None

    @property
    def retrain(self) -> bool:
        return bool(self.decision.get("retrain"))

    def summary(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "report": self.report_uri,
            "status": self.status,
            "champion_version": self.champion_version,
            "drift_share": self.drift_share,
            "drifted": self.drifted,
            "performance": self.performance,
            "retrain": self.retrain,
            "reason": self.decision.get("reason"),
            "trigger_conf": self.trigger_conf,
        }


def _holdout_metrics(metrics: dict[str, float]) -> dict[str, float]:
    from driftloop.monitoring import METRICS

    out = {}
    for m in METRICS:
        for prefix in _METRIC_PREFIXES:
            if f"{prefix}{m}" in metrics:
                out[m] = float(metrics[f"{prefix}{m}"])
                break
    return out


def champion_context(cfg: PipelineConfig, profile_path: Path | None = None) -> ChampionContext:
    """The champion's version, reference profile, holdout metrics and training end date.

    With ``profile_path`` the given profile replaces the champion's (to check data without a model).
    """
    from mlflow.tracking import MlflowClient

    from driftloop import registry
    from driftloop.drift import Profile
    from driftloop.policy import PARTITION_TAG

    champ = registry.champion(cfg)
    profile = Profile.from_json(profile_path.read_text()) if profile_path else None
    if champ is None:
        return ChampionContext(None, profile)
    version = str(champ.version)
    if profile is None:
        profile = registry.load_reference_profile(cfg, version)
    run = MlflowClient(tracking_uri=cfg.tracking_uri()).get_run(champ.run_id)
    tag = run.data.tags.get(PARTITION_TAG)
    return ChampionContext(
        version=version,
        profile=profile,
        holdout_metrics=_holdout_metrics(run.data.metrics),
        training_end=date.fromisoformat(tag[:10]) if tag else None,
    )


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
        key = f"{DRIFT}/date={d.isoformat()}/report.json"
        if not store.partition_exists(DRIFT, d):
            break
        body = json.loads(store.read_bytes(key))
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
) -> date | None:
    """First day of the newest unbroken run of labelled days whose own metric has decayed.

    The performance window says *that* the champion decayed; per-day metrics say *since when*
    (labels arrive late, so the data changed days before the alarm). The run may reach back past
    the window. None when the newest labelled day alone has not decayed (a slow slide: no clear
    onset to train from).
    """
    from driftloop.monitoring import daily_metrics

    metric = cfg.gate.primary_metric
    if metric not in holdout_metrics:
        return None
    floor = holdout_metrics[metric] - cfg.drift.performance_tolerance
    earliest = day - timedelta(days=ONSET_LOOKBACK_DAYS)
    labelled = [d for d in store.partitions(LABELS) if earliest <= d <= day]
    onset = None
    for d in sorted(labelled, reverse=True):
        found = daily_metrics(store, cfg, d, champion_version)
        value = None if found is None else found.get(metric)
        if value is None or value >= floor:
            break
        onset = d
    return onset


def labelled_days_since(store: Store, start: date, end: date) -> int:
    """Validated days in [start, end] whose labels have arrived."""
    labelled = set(store.partitions(LABELS))
    return sum(1 for d in store.partitions(VALIDATED) if start <= d <= end and d in labelled)


def run_daily_check(
    cfg: PipelineConfig,
    day: str | date,
    *,
    training_active: bool = False,
    profile_path: Path | None = None,
    store: Store | None = None,
) -> CheckOutcome:
    """Check ``day``, write its report, and decide about retraining."""
    from driftloop import monitoring, policy
    from driftloop.report import write_report

    day = as_date(day)
    store = store or open_store(cfg.storage)
    champ = champion_context(cfg, profile_path)
    if champ.profile is None:
        return _no_champion(store, day)

    report = monitoring.check(
        cfg,
        day,
        champ.profile,
        champ.holdout_metrics,
        champ.version,
        store=store,
        training_end=champ.training_end,
    )
    signals = report.signals()
    if signals.performance_decay:
        onset = decay_onset(store, cfg, day, champ.version, champ.holdout_metrics)
    else:
        onset = drift_onset(
            store, day, champ.version, signals.feature_drift or signals.prediction_drift
        )
    decision = policy.decide_for(
        cfg,
        signals,
        day,
        training_active=training_active,
        last_training_date=policy.last_training_date(cfg),
        drift_onset=onset,
        labelled_days_since_onset=labelled_days_since(store, onset, day) if onset else 0,
    )
    uri = store.uri(partition_prefix(DRIFT, day))
    trigger_conf = None
    if decision.retrain:
        trigger_conf = {
            "date": day.isoformat(),
            "reason": f"drift_check {day.isoformat()}: {decision.reason}",
            "report_uri": uri,
        }
        if decision.since:
            trigger_conf["since"] = decision.since.isoformat()
    write_report(store, day, report, decision, extra={"trigger_conf": trigger_conf})
    return CheckOutcome(
        day=day,
        report_uri=uri,
        status=report.drift.status,
        decision=decision.to_dict(),
        champion_version=champ.version,
        drift_share=report.drift.drift_share,
        drifted=list(report.drift.drifted),
        performance=report.performance.status,
        trigger_conf=trigger_conf,
    )


def _no_champion(store: Store, day: date) -> CheckOutcome:
    """Nothing to compare against yet: record that, and ask for nothing."""
    decision = {"retrain": False, "reason": "no champion model yet: nothing to compare against"}
    body = {
        "day": day.isoformat(),
        "champion_version": None,
        "status": "no_champion",
        "decision": decision,
    }
    uri = store.write_partition(
        DRIFT, day, {"report.json": json.dumps(body, indent=2, sort_keys=True).encode()}
    )
    return CheckOutcome(day, uri, "no_champion", decision, None)
