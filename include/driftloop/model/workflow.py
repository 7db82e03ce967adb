"""The model stage as one sequence: train a challenger, gate it, promote it (or not).

``driftloop train`` runs :func:`train_gate_promote`; the ``train`` DAG runs the same steps as
separate tasks (:func:`train_step`, :func:`gate_step`, then an optional approval, then
:func:`promote_step`), so both read their parameters the same way (:class:`TrainRequest`,
:func:`~driftloop.model.pipeline.merge_hyperparameters`) and resolve ``auto_promote`` the same way
(:func:`resolve_auto_promote`).

Importing this module is cheap (no pandas, scikit-learn or MLflow): a DAG file may import
:data:`AUTO_PROMOTE_CHOICES` at parse time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig
    from driftloop.model.gate import GateDecision
    from driftloop.model.train import TrainResult

log = logging.getLogger(__name__)

# The auto_promote choices of a trigger form -> the gate's setting (None: gate.auto_promote).
AUTO_PROMOTE_CHOICES: dict[str, bool | None] = {"as_configured": None, "on": True, "off": False}


def resolve_auto_promote(choice: str | bool | None, configured: bool) -> bool:
    """Whether a passing challenger is promoted without a person's approval.

    ``choice`` is a form's ``as_configured`` | ``on`` | ``off``, or a CLI flag's True/False/None;
    unset and ``as_configured`` mean ``configured`` (the config's ``gate.auto_promote``).

    Raises:
        ValueError: an unknown choice.
    """
    if choice is None or isinstance(choice, bool):
        resolved = choice
    else:
        try:
            resolved = AUTO_PROMOTE_CHOICES[choice or "as_configured"]
        except KeyError:
            raise ValueError(
                f"auto_promote: {choice!r} is not one of {', '.join(AUTO_PROMOTE_CHOICES)}"
            ) from None
    return configured if resolved is None else resolved


@dataclass(frozen=True)
class TrainRequest:
    """What to train: the parameters of a ``train`` DAG run or of ``driftloop train``.

    Unset values mean "as configured"; an unset ``date`` means the newest day with labels.
    """

    date: dt.date | str | None = None
    since: dt.date | str | None = None
    window_days: int | None = None
    algorithm: str | None = None
    hyperparameters: Mapping[str, Any] | None = None
    max_depth: int | None = None
    learning_rate: float | None = None
    reason: str = "manual"
    report_uri: str | None = None
    airflow_context: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any], airflow_context: dict[str, Any] | None = None
    ) -> TrainRequest:
        """From the ``train`` DAG's params (empty values: unset)."""
        from driftloop.core.partition import Partition

        def day(name: str) -> dt.date | None:
            return Partition.of(params[name]).day if params.get(name) else None

        return cls(
            date=day("date"),
            since=day("since"),
            window_days=params.get("window_days") or None,
            algorithm=params.get("algorithm") or None,
            hyperparameters=params.get("hyperparameters") or None,
            max_depth=params.get("max_depth"),
            learning_rate=params.get("learning_rate"),
            reason=params.get("reason") or "manual",
            report_uri=params.get("report_uri") or None,
            airflow_context=dict(airflow_context or {}),
        )

    @property
    def labels_as_of(self) -> dt.date | None:
        """The day whose landed labels a training asked for by a drift report reads: the report's
        partition day (None: no report, or one that names no day: every label landed so far)."""
        from driftloop.core.partition import InvalidPartition, Partition

        try:
            return Partition.from_key(self.report_uri).day if self.report_uri else None
        except InvalidPartition:
            return None

    def merged_hyperparameters(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The estimator overrides of this request (see ``merge_hyperparameters``)."""
        from driftloop.model.pipeline import merge_hyperparameters

        return merge_hyperparameters(
            self.hyperparameters,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            extra=extra,
        )


def train_step(
    cfg: PipelineConfig,
    request: TrainRequest,
    *,
    extra_hyperparameters: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Check the parameters, find the window end, train and register a challenger.

    The algorithm and hyperparameters are checked before any data is read.

    Raises:
        InvalidParameter: an unknown algorithm or hyperparameter (a retry cannot help).
        InsufficientData: no labelled day, or too little labelled data in the window.
    """
    from driftloop.data.windows import latest_labelled_day
    from driftloop.model.pipeline import check_parameters
    from driftloop.model.train import train_model

    hyper = request.merged_hyperparameters(extra_hyperparameters)
    check_parameters(cfg, request.algorithm, hyper)
    end = request.date
    if not end:
        end = latest_labelled_day(cfg)
        log.info("window end: %s, the newest day with labels (date not given)", end)
    return train_model(
        cfg,
        end,
        window_days=request.window_days,
        since=request.since or None,
        algorithm=request.algorithm,
        hyperparameters=hyper,
        reason=request.reason,
        report_uri=request.report_uri,
        airflow_context=request.airflow_context,
        labels_as_of=request.labels_as_of,
    )


def gate_step(
    cfg: PipelineConfig,
    trained: Mapping[str, Any],
    *,
    min_improvement: float | None = None,
    auto_promote: str | bool | None = None,
    trigger_reason: str = "manual",
) -> dict[str, Any]:
    """Gate the challenger of a training result; the decision plus what promoting it needs.

    Returns the decision's fields, ``auto_promote`` resolved to a boolean, ``trigger_reason`` and
    the training's ``partition``: what :func:`promote_step` (after an approval, if any) takes.
    """
    from driftloop.model import registry

    decision = registry.evaluate_challenger(
        cfg, trained["model_version"], min_improvement=min_improvement
    )
    return {
        **decision.to_dict(),
        "auto_promote": resolve_auto_promote(auto_promote, cfg.gate.auto_promote),
        "trigger_reason": trigger_reason,
        "partition": trained["partition_date"],
        "shadow_since": maybe_start_shadow(cfg, decision),
    }


def shadow_start_day(cfg: PipelineConfig) -> str:
    """The first partition a challenger starting its shadow now is scored on: the day after the
    newest validated one (those are scored by the champion already)."""
    from driftloop.core.storage import VALIDATED, open_store

    days = open_store(cfg.storage).partitions(VALIDATED)
    start = days[-1] + dt.timedelta(days=1) if days else dt.datetime.now(dt.UTC).date()
    return start.isoformat()


def maybe_start_shadow(cfg: PipelineConfig, decision: GateDecision) -> str | None:
    """Keep a challenger that passed the gate in shadow instead of promoting it, when
    ``gate.shadow_partitions`` is on and there is a champion to measure it against.

    Returns the first partition of the shadow, or None (no shadow: promote as the gate says).
    """
    from driftloop.model import registry

    if not (decision.promote and cfg.gate.shadow_partitions and decision.champion_version):
        return None
    since = shadow_start_day(cfg)
    registry.start_shadow(cfg, str(decision.challenger_version), decision, since)
    return since


def promote_step(
    cfg: PipelineConfig, gated: Mapping[str, Any], actor: str, note: str = ""
) -> dict[str, Any]:
    """Promote the challenger of a :func:`gate_step` result, against the champion it was gated on.

    ``note``: what the approver wrote, if anyone did; recorded as part of the reason.

    Raises:
        StaleDecision: the champion moved since the gate (gate again).
    """
    from driftloop.model import registry
    from driftloop.model.gate import GateDecision

    return registry.promote(
        cfg,
        gated["challenger_version"],
        reason=f"{gated['trigger_reason']}; gate: {gated['reason']}"
        + (f"; approver: {note}" if note else ""),
        actor=actor,
        decision=GateDecision.from_dict(dict(gated)),
    )


def train_gate_promote(
    cfg: PipelineConfig,
    request: TrainRequest,
    *,
    actor: str,
    min_improvement: float | None = None,
    auto_promote: str | bool | None = None,
    extra_hyperparameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train, gate and (if it passes and auto-promote resolves to on) promote: the whole stage.

    The gate and the promotion run under one champion lock, so nothing moves the champion in
    between. Returns ``{"train", "gate", "promotion"}`` (promotion None when not promoted).
    """
    from driftloop.model import registry

    result = train_step(cfg, request, extra_hyperparameters=extra_hyperparameters)
    shadow = bool(cfg.gate.shadow_partitions)
    decision, promoted = registry.gate_and_promote(
        cfg,
        result.model_version,
        reason=request.reason,
        actor=actor,
        min_improvement=min_improvement,
        # In shadow, a challenger that passes is promoted only when there is no champion yet.
        auto_promote=resolve_auto_promote(auto_promote, cfg.gate.auto_promote),
        first_only=shadow,
    )
    since = maybe_start_shadow(cfg, decision) if promoted is None else None
    return {
        "train": result.to_dict(),
        "gate": {**decision.to_dict(), "shadow_since": since},
        "promotion": promoted,
    }


__all__ = [
    "AUTO_PROMOTE_CHOICES",
    "TrainRequest",
    "gate_step",
    "maybe_start_shadow",
    "promote_step",
    "resolve_auto_promote",
    "shadow_start_day",
    "train_gate_promote",
    "train_step",
]
