"""The champion/challenger gate: pure rules, no I/O.

:func:`evaluate_gate` compares two sets of holdout metrics under the config's :class:`Gate` and
returns a :class:`GateDecision` naming the rule that decided. Reading the metrics, re-scoring the
champion and recording the decision are :mod:`driftloop.model.registry`'s job.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from driftloop.core.metrics import MetricTable, metric_table

if TYPE_CHECKING:
    from driftloop.core.config import Gate

# Float noise must not turn a tie into an improvement.
_EPS = 1e-12


@dataclass(frozen=True)
class GateDecision:
    """The outcome of the champion/challenger gate, with the rule that decided it."""

    promote: bool
    rule: str
    reason: str
    primary_metric: str
    challenger_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    challenger_version: str | None = None
    champion_version: str | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateDecision:
        """From :meth:`to_dict`'s output; keys that are not fields (e.g. added by a DAG) are ignored."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def evaluate_gate(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    gate: Gate,
    *,
    challenger_version: str | None = None,
    champion_version: str | None = None,
    metrics: MetricTable | None = None,
) -> GateDecision:
    """Decide whether the challenger replaces the champion (pure: no I/O).

    Rules, in order: the challenger must reach ``gate.floor`` on the primary metric (at least it, or
    at most it for a lower-is-better metric such as rmse or log_loss; no floor when None); with no
    champion it is promoted; no guard metric may regress by more than its tolerance; finally the
    primary metric must improve by at least ``gate.min_improvement`` and strictly — a tie keeps the
    champion. Every direction comes from the metric table (``metrics``, the binary one by default).
    """
    table = metrics or metric_table()
    primary = gate.primary_metric
    thresholds = {
        "floor": gate.floor,
        "min_improvement": gate.min_improvement,
        "guards": dict(gate.guards),
    }

    def decide(promote: bool, rule: str, reason: str) -> GateDecision:
        return GateDecision(
            promote=promote,
            rule=rule,
            reason=reason,
            primary_metric=primary,
            challenger_metrics=dict(challenger),
            champion_metrics=dict(champion) if champion is not None else None,
            challenger_version=challenger_version,
            champion_version=champion_version,
            thresholds=thresholds,
        )

    value = challenger.get(primary)
    if value is None or math.isnan(value):
        return decide(False, "missing_metric", f"challenger has no {primary}")
    lower = primary in table.lower_is_better
    if gate.floor is not None and not table.meets_floor(primary, value, gate.floor):
        where = "above the ceiling" if lower else "below the floor"
        return decide(False, "floor", f"{primary} {value:.4f} is {where} {gate.floor}")
    if champion is None:
        met = "no floor set" if gate.floor is None else f"{primary} {value:.4f} meets the floor"
        return decide(True, "first_model", f"no champion yet; {met}")
    for metric, tolerance in sorted(gate.guards.items()):
        new, old = challenger.get(metric), champion.get(metric)
        if new is None or old is None:
            return decide(False, f"guard:{metric}", f"guard metric {metric} is missing")
        regression = table.regression(metric, new, old)
        if regression > tolerance + _EPS:
            return decide(
                False,
                f"guard:{metric}",
                f"{metric} regresses by {regression:.4f} ({old:.4f} -> {new:.4f}), "
                f"more than the allowed {tolerance}",
            )
    old = champion.get(primary)
    if old is None or math.isnan(old):
        return decide(False, "missing_metric", f"champion has no {primary}")
    gain = table.improvement(primary, value, old)
    sign = "-" if lower else "+"  # the direction an improvement moves the metric
    if gain > _EPS and gain >= gate.min_improvement - _EPS:
        return decide(
            True,
            "improvement",
            f"{primary} {old:.4f} -> {value:.4f} ({sign}{gain:.4f} >= {gate.min_improvement})",
        )
    return decide(
        False,
        "no_improvement",
        f"{primary} {old:.4f} -> {value:.4f} (improvement {gain:+.4f}); needs "
        f"{sign}{gate.min_improvement} (a tie keeps the champion)",
    )


__all__ = ["GateDecision", "evaluate_gate"]
