"""The metric table of a task: which metrics exist, which way is better, and how to compute them.

One table serves the gate (holdout metrics of challenger and champion, guard directions), the
training run (logged under the plain metric names) and monitoring (live metrics against the
champion's holdout metrics), so the three always speak of the same numbers computed the same way.

Only binary classification exists today; a table for another task type (multiclass, regression) is
another :class:`MetricTable` in :data:`TABLES`, looked up with :func:`metric_table`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Scores at or above it are predicted positive (logged with every run as a parameter).
DECISION_THRESHOLD = 0.5

BINARY = "binary"


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a table."""

    name: str
    lower_is_better: bool = False
    # Undefined (None) when the labels hold a single class (ranking metrics).
    needs_both_classes: bool = False


@dataclass(frozen=True)
class MetricTable:
    """The metrics of one task type and the function that computes all of them at once."""

    task: str
    specs: tuple[MetricSpec, ...]
    compute: Callable[..., dict[str, float | None]]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    @property
    def lower_is_better(self) -> frozenset[str]:
        return frozenset(s.name for s in self.specs if s.lower_is_better)

    def defined(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        """:attr:`compute`, keeping only the metrics that are defined (not None) on these labels.

        For a holdout, which always holds both classes, that is every metric of the table.
        """
        return {k: float(v) for k, v in self.compute(*args, **kwargs).items() if v is not None}

    def regression(self, name: str, new: float, old: float) -> float:
        """How much worse ``new`` is than ``old`` for metric ``name`` (negative: it improved)."""
        return (new - old) if name in self.lower_is_better else (old - new)


def binary_metrics(
    y_true: Any,
    scores: Any,
    predicted: Any | None = None,
    threshold: float = DECISION_THRESHOLD,
) -> dict[str, float | None]:
    """Every metric of the binary table from 0/1 labels (1 = positive) and positive-class scores.

    ``predicted`` are the 0/1 predicted labels when they are known (e.g. stored with predictions);
    otherwise ``scores >= threshold``. Ranking metrics are None when the labels hold a single class
    (they are undefined then).
    """
    import numpy as np
    from sklearn import metrics as m

    y = np.asarray(y_true, dtype=int)
    s = np.asarray(scores, dtype=float)
    pred = (s >= threshold).astype(int) if predicted is None else np.asarray(predicted, dtype=int)
    both = len(np.unique(y)) == 2
    return {
        "roc_auc": float(m.roc_auc_score(y, s)) if both else None,
        "pr_auc": float(m.average_precision_score(y, s)) if both else None,
        "f1": float(m.f1_score(y, pred, zero_division=0)),
        "precision": float(m.precision_score(y, pred, zero_division=0)),
        "recall": float(m.recall_score(y, pred, zero_division=0)),
        "log_loss": float(m.log_loss(y, s, labels=[0, 1])),
        "brier": float(m.brier_score_loss(y, s, pos_label=1)),
    }


BINARY_METRICS = MetricTable(
    task=BINARY,
    specs=(
        MetricSpec("roc_auc", needs_both_classes=True),
        MetricSpec("pr_auc", needs_both_classes=True),
        MetricSpec("f1"),
        MetricSpec("precision"),
        MetricSpec("recall"),
        MetricSpec("log_loss", lower_is_better=True),
        MetricSpec("brier", lower_is_better=True),
    ),
    compute=binary_metrics,
)

TABLES: dict[str, MetricTable] = {BINARY: BINARY_METRICS}

# The binary table's names and directions (the only task type today).
METRICS: tuple[str, ...] = BINARY_METRICS.names
LOWER_IS_BETTER: frozenset[str] = BINARY_METRICS.lower_is_better


def metric_table(task: str = BINARY) -> MetricTable:
    """The metric table of a task type.

    Raises:
        KeyError: no table for that task type.
    """
    try:
        return TABLES[task]
    except KeyError:
        raise KeyError(f"no metric table for task type {task!r}; known: {sorted(TABLES)}") from None


__all__ = [
    "BINARY",
    "BINARY_METRICS",
    "DECISION_THRESHOLD",
    "LOWER_IS_BETTER",
    "METRICS",
    "TABLES",
    "MetricSpec",
    "MetricTable",
    "binary_metrics",
    "metric_table",
]
