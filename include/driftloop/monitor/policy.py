"""Retrain policy: turn the monitoring signals into one decision, with a reason a human can read.

Pure and deterministic (no clock, no I/O) except :func:`last_training_date`, which asks MLflow.

Order of the rules:

1. No signal -> no retrain ("insufficient data" when the drift window was too small and no
   performance verdict exists either, so "no drift" is never claimed without evidence).
2. A signal, but a training run is already queued or running -> suppressed (no trigger loops).
3. A signal within ``retrain.cooldown_days`` of the last training's partition date -> suppressed.
   Cooldown counts partition dates (simulated days), never the wall clock.
4. Drift (feature or prediction) that the estimated performance does not confirm -> reported, not
   acted on, when ``retrain.on_drift_without_estimated_drop`` is false. The default is true, and
   deliberately so: an unchanged estimate says the champion is no worse than on its holdout, not
   that a model fitted on the new regime would not be better (the synthetic covariate shift raises
   the champion's estimated and realised ROC AUC, yet the retrained model ranks the new data better
   still), so drift keeps retraining unless a deployment opts out. Set it false where features
   drift often and harmlessly (seasonal data): drift is then reported and only an estimated drop or
   realised decay retrains. Without an estimate (a champion trained before estimators existed, or a
   primary metric that cannot be estimated) drift retrains either way; with
   ``retrain.estimated_drop_signal: false`` estimates are reported only.
5. A change with a known onset (the first day of drift alarms, or the first day whose own live
   metric decayed) -> wait for labels: retraining on data from before the change would teach the
   model nothing new, so training starts once ``retrain.min_labelled_days_after_drift`` labelled
   days exist since the onset, and then trains on data since the onset ("the new regime").
   When the estimate dropped, that is evidence the shift hurts, so the wait is shorter:
   ``retrain.min_labelled_days_after_estimated_drop`` (default ``training.holdout_days + 1``, the
   fewest the trainer can split; never more than the drift wait). The trainer's own shortfall rule
   (:func:`driftloop.data.windows.window_shortfall`) is still asked before triggering.
6. Otherwise retrain, naming every signal that fired (``fired`` in the decision).

With no champion at all (a fresh deployment) there is nothing to compare against: the *bootstrap*
rule trains the first model once ``retrain.bootstrap_labelled_days`` labelled days exist and the
trainer would accept the window, with the same lock and cooldown as any other training.

Signals: dataset-level feature drift (share of drifted features >= ``drift.drift_share`` or a
critical feature drifted), prediction drift (score PSI over ``drift.prediction_psi_threshold``),
estimated drop (the primary metric estimated without labels over the drift window down by more than
``drift.estimated_tolerance``, default ``drift.performance_tolerance``) and realised decay (the
primary metric on labelled rows down by more than ``drift.performance_tolerance``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from driftloop.core.partition import Partition

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig
    from driftloop.data.windows import Shortfall


@dataclass(frozen=True)
class Signals:
    """What the daily check found, reduced to what the policy needs."""

    feature_drift: bool = False
    drifted_features: list[str] = field(default_factory=list)
    critical_drifted: list[str] = field(default_factory=list)
    drift_share: float = 0.0
    prediction_drift: bool = False
    prediction_psi: float | None = None
    performance_decay: bool = False
    primary_metric: str = "roc_auc"
    holdout_value: float | None = None
    live_value: float | None = None
    insufficient_data: bool = False
    insufficient_labels: bool = True
    # Performance estimated without labels (driftloop.model.estimate) over the drift window.
    estimate_available: bool = False
    estimated_drop: bool = False
    estimated_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str
    signals: dict[str, Any]
    # When set, train on partitions from this day on (the drift onset), not the whole window.
    since: date | None = None
    pending: bool = False
    bootstrap: bool = False
    # The signals that fired: feature_drift, prediction_drift, estimated_drop, performance_decay.
    fired: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["since"] = self.since.isoformat() if self.since else None
        return out


def _reasons(s: Signals) -> list[str]:
    out = []
    if s.feature_drift:
        crit = f"; critical: {', '.join(s.critical_drifted)}" if s.critical_drifted else ""
        out.append(
            f"feature drift in {', '.join(s.drifted_features)} (share {s.drift_share:.2f}{crit})"
        )
    if s.prediction_drift:
        psi = f" (PSI {s.prediction_psi:.2f})" if s.prediction_psi is not None else ""
        out.append(f"prediction drift{psi}")
    if s.estimated_drop:
        out.append(
            f"estimated drop: {s.primary_metric} {_fmt(s.holdout_value)} -> "
            f"{_fmt(s.estimated_value)} estimated before labels"
        )
    if s.performance_decay:
        out.append(
            f"performance decay: {s.primary_metric} {_fmt(s.holdout_value)} -> {_fmt(s.live_value)}"
        )
    return out


def fired(s: Signals) -> list[str]:
    """The names of the signals that fired, in the order of :func:`_reasons`."""
    names = ("feature_drift", "prediction_drift", "estimated_drop", "performance_decay")
    return [n for n in names if getattr(s, n)]


def _more_days(have: int, need: int) -> str:
    more = need - have
    return f"waiting for {more} more labelled day{'s' if more > 1 else ''}"


def pending_for_data(decision: RetrainDecision, shortfall: Shortfall) -> RetrainDecision:
    """A retrain decision held back because the trainer would refuse the window: how much is missing.

    The reason reads ``retrain pending: waiting for N more labelled days / M more labelled rows``,
    followed by the signals and the trainer's own wording.
    """
    return RetrainDecision(
        False,
        f"retrain pending: {shortfall.waiting_for()} ({decision.reason}; {shortfall.detail})",
        decision.signals,
        since=decision.since,
        pending=True,
        bootstrap=decision.bootstrap,
        fired=decision.fired,
    )


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def decide(
    signals: Signals,
    day: date,
    *,
    training_active: bool,
    last_training_date: date | None,
    cooldown_days: int,
    drift_onset: date | None = None,
    labelled_days_since_onset: int = 0,
    min_labelled_days: int = 0,
    min_labelled_days_estimated: int | None = None,
    on_drift_without_estimated_drop: bool = True,
) -> RetrainDecision:
    """Whether to trigger training on partition ``day`` (see the module docstring for the rules).

    ``drift_onset`` is when the change began (None: unknown, retrain on the usual window) and
    ``labelled_days_since_onset`` the validated days since then whose labels have arrived.
    ``min_labelled_days_estimated`` replaces ``min_labelled_days`` when the estimate dropped;
    ``on_drift_without_estimated_drop`` False reports drift the estimate does not confirm without
    retraining (only when an estimate exists: without one, drift is all the evidence there is).
    """
    sig = signals.to_dict()
    reasons = _reasons(signals)
    names = fired(signals)
    drift_only = not (signals.estimated_drop or signals.performance_decay)
    if (
        reasons
        and drift_only
        and signals.estimate_available
        and not on_drift_without_estimated_drop
    ):
        return RetrainDecision(
            False,
            f"no retrain: {'; '.join(reasons)}, but the estimated {signals.primary_metric} "
            f"({_fmt(signals.estimated_value)}, holdout {_fmt(signals.holdout_value)}) is within "
            "tolerance: drift reported, not acted on",
            sig,
            fired=names,
        )
    if not reasons:
        if signals.insufficient_data and signals.insufficient_labels:
            return RetrainDecision(False, "insufficient data", sig)
        if signals.insufficient_data:
            return RetrainDecision(False, "no performance decay (too little data for drift)", sig)
        if signals.drifted_features:  # drifted, but fewer than the dataset share asks for
            return RetrainDecision(
                False,
                f"no retrain signal: drift in {', '.join(signals.drifted_features)} is below the "
                f"dataset share (share {signals.drift_share:.2f})",
                sig,
            )
        return RetrainDecision(False, "no drift", sig)
    because = "; ".join(reasons)
    if training_active:
        return RetrainDecision(
            False, f"suppressed: training already running ({because})", sig, fired=names
        )
    if last_training_date is not None:
        until = last_training_date + timedelta(days=cooldown_days)
        if day < until:
            return RetrainDecision(
                False,
                f"suppressed: cooldown until {until.isoformat()} ({because})",
                sig,
                fired=names,
            )
    if signals.estimated_drop and min_labelled_days_estimated is not None:
        min_labelled_days = min(min_labelled_days, min_labelled_days_estimated)
    if drift_onset is not None and min_labelled_days > 0:
        if labelled_days_since_onset < min_labelled_days:
            return RetrainDecision(
                False,
                f"retrain pending: {_more_days(labelled_days_since_onset, min_labelled_days)} of "
                f"the new data since the drift onset {drift_onset.isoformat()} "
                f"({labelled_days_since_onset}/{min_labelled_days} labelled days) ({because})",
                sig,
                since=drift_onset,
                pending=True,
                fired=names,
            )
        return RetrainDecision(
            True,
            f"{because}; training on data since {drift_onset.isoformat()}",
            sig,
            since=drift_onset,
            fired=names,
        )
    return RetrainDecision(True, because, sig, fired=names)


def decide_bootstrap(
    day: date,
    *,
    labelled_days: int,
    min_labelled_days: int,
    shortfall: Shortfall | None,
    training_active: bool,
    last_training_date: date | None,
    cooldown_days: int,
) -> RetrainDecision:
    """Whether to train the first model on partition ``day`` (no champion exists yet).

    ``labelled_days`` are the validated days with labels in the training window ending ``day``;
    ``shortfall`` is the trainer's own objection to that window (None: it would accept it), so the
    policy never asks for a training the trainer then refuses; the reason then says how many more
    labelled days or rows are needed.
    """
    sig = Signals().to_dict()
    have = f"{labelled_days}/{min_labelled_days} labelled days"
    if training_active:
        return RetrainDecision(
            False, "suppressed: training already running (bootstrap)", sig, bootstrap=True
        )
    if last_training_date is not None:
        until = last_training_date + timedelta(days=cooldown_days)
        if day < until:
            return RetrainDecision(
                False,
                f"no champion: the model trained on {last_training_date.isoformat()} was not "
                f"promoted; next bootstrap attempt after the cooldown ({until.isoformat()})",
                sig,
                bootstrap=True,
            )
    if labelled_days < min_labelled_days:
        return RetrainDecision(
            False,
            f"bootstrap pending: no champion yet, "
            f"{_more_days(labelled_days, min_labelled_days)} ({have})",
            sig,
            pending=True,
            bootstrap=True,
        )
    if shortfall:
        return RetrainDecision(
            False,
            f"bootstrap pending: no champion yet, {shortfall.waiting_for()} ({have}; "
            f"{shortfall.detail})",
            sig,
            pending=True,
            bootstrap=True,
        )
    return RetrainDecision(
        True, f"bootstrap: no champion yet, training the first model ({have})", sig, bootstrap=True
    )


def decide_for(
    cfg: PipelineConfig,
    signals: Signals,
    day: date,
    *,
    training_active: bool,
    last_training_date: date | None,
    drift_onset: date | None = None,
    labelled_days_since_onset: int = 0,
) -> RetrainDecision:
    """:func:`decide` with the cooldown and label wait of the config."""
    return decide(
        signals,
        day,
        training_active=training_active,
        last_training_date=last_training_date,
        cooldown_days=cfg.retrain.cooldown_days,
        drift_onset=drift_onset,
        labelled_days_since_onset=labelled_days_since_onset,
        min_labelled_days=cfg.retrain.min_labelled_days_after_drift,
        min_labelled_days_estimated=cfg.estimated_drop_wait,
        on_drift_without_estimated_drop=cfg.retrain.on_drift_without_estimated_drop,
    )


def last_training_date(cfg: PipelineConfig, before: date | None = None) -> date | None:
    """Partition date of the newest training run (MLflow tag ``driftloop.partition_date``).

    Looks at the most recent runs of the pipeline's experiment and returns the latest tagged
    partition date; None when the experiment or the tag does not exist yet. With ``before``, only
    trainings of earlier partitions count: the check of a day decides as of that day, so a rerun
    makes the same decision even after the training it triggered has run.
    """
    from driftloop.tracking.mlflow import TAG_PARTITION_DATE, mlflow_client

    client = mlflow_client(cfg)
    exp = client.get_experiment_by_name(cfg.experiment_name)
    if exp is None:
        return None
    runs = client.search_runs(
        [exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=50
    )
    tagged = [
        Partition.of(r.data.tags[TAG_PARTITION_DATE]).day
        for r in runs
        if r.data.tags.get(TAG_PARTITION_DATE)
    ]
    if before is not None:
        tagged = [d for d in tagged if d < before]
    return max(tagged) if tagged else None


__all__ = [
    "RetrainDecision",
    "Signals",
    "decide",
    "decide_bootstrap",
    "decide_for",
    "fired",
    "last_training_date",
    "pending_for_data",
]
