"""The metric table of a task: which metrics exist, which way is better, and how to compute them.

One table per task type (:data:`TABLES`: binary, multiclass, regression) serves the gate (holdout
metrics of challenger and champion, guard directions), the training run (logged under the plain
metric names) and monitoring (live metrics against the champion's holdout metrics), so the three
always speak of the same numbers computed the same way.

Every table's ``compute`` takes ``(y_true, output, predicted=None, *, classes=None)``:

* binary: 0/1 labels (1 = positive) and the positive-class scores;
* multiclass: labels (strings) and the class-probability matrix whose columns follow ``classes``;
  besides the table's metrics it returns ``recall_<class>`` per class (logged, not gate metrics);
* regression: true values and predicted values (``predicted`` is ignored).

A table also names its task's defaults for the gate: the primary metric, the guards and the floor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Scores at or above it are predicted positive (logged with every run as a parameter).
DECISION_THRESHOLD = 0.5

BINARY = "binary"
MULTICLASS = "multiclass"
REGRESSION = "regression"
TASKS: tuple[str, ...] = (BINARY, MULTICLASS, REGRESSION)

# Columns of a predictions partition, by task (besides the id and the model columns).
SCORE = "score"  # binary: P(positive); multiclass: probability of the predicted class
PREDICTED_LABEL = "predicted_label"  # binary: 0/1; multiclass: the class (a string)
PREDICTION = "prediction"  # regression: the predicted value
PROBA_PREFIX = "proba_"  # multiclass: one probability column per class

# Clip probabilities away from 0 so a log loss stays finite.
_EPS = 1e-15


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a table."""

    name: str
    lower_is_better: bool = False
    # Undefined (None) when the labels hold a single class (ranking metrics).
    needs_both_classes: bool = False
    # The values the metric can take (inclusive; None: unbounded on that side). A gate floor
    # outside it could never be met (or always would be): the config refuses it.
    low: float | None = 0.0
    high: float | None = 1.0

    def in_range(self, value: float) -> bool:
        """Whether ``value`` is a value this metric can take."""
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe_range(self) -> str:
        """The range as text, e.g. ``[0, 1]`` or ``[0, inf)``."""
        low = "(-inf" if self.low is None else f"[{self.low:g}"
        high = "inf)" if self.high is None else f"{self.high:g}]"
        return f"{low}, {high}"


@dataclass(frozen=True)
class MetricTable:
    """The metrics of one task type, the function that computes all of them, the gate defaults."""

    task: str
    specs: tuple[MetricSpec, ...]
    compute: Callable[..., dict[str, float | None]]
    primary: str = ""
    default_guards: dict[str, float] = field(default_factory=dict)
    # None: no floor unless the config sets one (e.g. a regression error has no natural scale).
    default_floor: float | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    def spec(self, name: str) -> MetricSpec:
        """The spec of metric ``name`` (KeyError if the table has none)."""
        for s in self.specs:
            if s.name == name:
                return s
        raise KeyError(f"no {self.task} metric {name!r}; known: {', '.join(self.names)}")

    @property
    def lower_is_better(self) -> frozenset[str]:
        return frozenset(s.name for s in self.specs if s.lower_is_better)

    def defined(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        """:attr:`compute`, keeping only the metrics that are defined (not None) on these labels.

        For a binary holdout, which always holds both classes, that is every metric of the table;
        extra per-class metrics of a multiclass table are kept too.
        """
        return {k: float(v) for k, v in self.compute(*args, **kwargs).items() if v is not None}

    def regression(self, name: str, new: float, old: float) -> float:
        """How much worse ``new`` is than ``old`` for metric ``name`` (negative: it improved)."""
        return (new - old) if name in self.lower_is_better else (old - new)

    def improvement(self, name: str, new: float, old: float) -> float:
        """How much better ``new`` is than ``old`` for metric ``name`` (negative: it got worse)."""
        return -self.regression(name, new, old)

    def meets_floor(self, name: str, value: float, floor: float) -> bool:
        """Whether ``value`` is acceptable: at least ``floor``, or at most it (lower is better)."""
        return value <= floor if name in self.lower_is_better else value >= floor


def binary_metrics(
    y_true: Any,
    scores: Any,
    predicted: Any | None = None,
    threshold: float = DECISION_THRESHOLD,
    *,
    classes: Sequence[str] | None = None,
) -> dict[str, float | None]:
    """Every metric of the binary table from 0/1 labels (1 = positive) and positive-class scores.

    ``predicted`` are the 0/1 predicted labels when they are known (e.g. stored with predictions);
    otherwise ``scores >= threshold``. Ranking metrics are None when the labels hold a single class
    (they are undefined then). ``classes`` is accepted for a uniform signature and ignored.
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


def class_metric_name(prefix: str, label: Any) -> str:
    """``<prefix><label>`` with characters MLflow refuses in a metric name replaced by ``_``."""
    return prefix + re.sub(r"[^0-9A-Za-z_.\-]", "_", str(label))


def multiclass_metrics(
    y_true: Any,
    proba: Any,
    predicted: Any | None = None,
    *,
    classes: Sequence[str] | None = None,
) -> dict[str, float | None]:
    """The multiclass table from labels and class probabilities (columns in ``classes`` order).

    ``predicted`` are the stored predicted classes when known, else the most probable class. A
    label the model has no column for (a class it never saw) counts as wrong and adds the clipped
    log loss of a zero probability. Also returns ``recall_<class>`` for each class of ``classes``
    (None for a class absent from the labels).
    """
    import numpy as np
    from sklearn import metrics as m

    if classes is None:
        raise ValueError("multiclass metrics need the class order of the probability columns")
    labels = [str(c) for c in classes]
    y = np.asarray(y_true).astype(str)
    p = np.asarray(proba, dtype=float).reshape(len(y), len(labels))
    if predicted is None:
        pred = np.asarray(labels, dtype=object)[p.argmax(axis=1)].astype(str)
    else:
        pred = np.asarray(predicted).astype(str)
    index = {c: i for i, c in enumerate(labels)}
    col = np.array([index.get(v, -1) for v in y])
    p_true = np.where(col >= 0, p[np.arange(len(y)), np.maximum(col, 0)], 0.0)
    every = sorted(set(labels) | set(y.tolist()))
    out: dict[str, float | None] = {
        "macro_f1": float(m.f1_score(y, pred, labels=every, average="macro", zero_division=0)),
        "weighted_f1": float(m.f1_score(y, pred, average="weighted", zero_division=0)),
        "accuracy": float(m.accuracy_score(y, pred)),
        "log_loss": float(-np.mean(np.log(np.clip(p_true, _EPS, 1.0)))) if len(y) else None,
    }
    for c in labels:
        mask = y == c
        out[class_metric_name("recall_", c)] = (
            float((pred[mask] == c).mean()) if mask.any() else None
        )
    return out


def regression_metrics(
    y_true: Any,
    predictions: Any,
    predicted: Any | None = None,
    *,
    classes: Sequence[str] | None = None,
) -> dict[str, float | None]:
    """The regression table from true and predicted values.

    ``mape`` is None when any true value is zero (it is undefined there); ``r2`` is None with fewer
    than two rows. ``predicted`` and ``classes`` are accepted for a uniform signature and ignored.
    """
    import numpy as np
    from sklearn import metrics as m

    y = np.asarray(y_true, dtype=float)
    yhat = np.asarray(predictions, dtype=float)
    return {
        "rmse": float(np.sqrt(m.mean_squared_error(y, yhat))),
        "mae": float(m.mean_absolute_error(y, yhat)),
        "r2": float(m.r2_score(y, yhat)) if len(y) >= 2 else None,
        "mape": float(m.mean_absolute_percentage_error(y, yhat)) if np.all(y != 0) else None,
    }


BINARY_METRICS = MetricTable(
    task=BINARY,
    specs=(
        MetricSpec("roc_auc", needs_both_classes=True),
        MetricSpec("pr_auc", needs_both_classes=True),
        MetricSpec("f1"),
        MetricSpec("precision"),
        MetricSpec("recall"),
        MetricSpec("log_loss", lower_is_better=True, high=None),
        MetricSpec("brier", lower_is_better=True),
    ),
    compute=binary_metrics,
    primary="roc_auc",
    default_guards={"log_loss": 0.05, "pr_auc": 0.03},
    default_floor=0.6,
)

MULTICLASS_METRICS = MetricTable(
    task=MULTICLASS,
    specs=(
        MetricSpec("macro_f1"),
        MetricSpec("weighted_f1"),
        MetricSpec("accuracy"),
        MetricSpec("log_loss", lower_is_better=True, high=None),
    ),
    compute=multiclass_metrics,
    primary="macro_f1",
    default_guards={"log_loss": 0.05, "accuracy": 0.03},
    default_floor=None,
)

REGRESSION_METRICS = MetricTable(
    task=REGRESSION,
    specs=(
        MetricSpec("rmse", lower_is_better=True, high=None),
        MetricSpec("mae", lower_is_better=True, high=None),
        MetricSpec("r2", low=None),  # 1 at best, unbounded below (worse than the mean)
        MetricSpec("mape", lower_is_better=True, high=None),
    ),
    compute=regression_metrics,
    primary="rmse",
    # r2 is scale-free, so one default tolerance fits every dataset (an rmse one would not).
    default_guards={"r2": 0.02},
    default_floor=None,
)

TABLES: dict[str, MetricTable] = {
    BINARY: BINARY_METRICS,
    MULTICLASS: MULTICLASS_METRICS,
    REGRESSION: REGRESSION_METRICS,
}

# The binary table's names and directions (the default task type).
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


def proba_column(label: Any) -> str:
    """The predictions column holding the probability of class ``label`` (multiclass)."""
    return class_metric_name(PROBA_PREFIX, label)


__all__ = [
    "BINARY",
    "BINARY_METRICS",
    "DECISION_THRESHOLD",
    "LOWER_IS_BETTER",
    "METRICS",
    "MULTICLASS",
    "MULTICLASS_METRICS",
    "PREDICTED_LABEL",
    "PREDICTION",
    "PROBA_PREFIX",
    "REGRESSION",
    "REGRESSION_METRICS",
    "SCORE",
    "TABLES",
    "TASKS",
    "MetricSpec",
    "MetricTable",
    "binary_metrics",
    "class_metric_name",
    "metric_table",
    "multiclass_metrics",
    "proba_column",
    "regression_metrics",
]
