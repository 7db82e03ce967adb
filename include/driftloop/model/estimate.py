"""Performance estimated before the labels land: CBPE for classifiers, direct loss estimation for regression.

Pure (numpy, pandas, scikit-learn at fit time; no Airflow, no MLflow). An :class:`Estimator` is fitted
on the holdout at training time and stored as JSON beside the model (never pickled: nothing in it is
code), then applied to a day's predictions by the daily check.

* **Confidence-based performance estimation** (binary, multiclass): the model's scores are calibrated
  on the holdout by isotonic regression (multiclass: one-vs-rest per class, rows renormalised). If the
  calibrated probability ``p`` of a row is right, the row is positive with probability ``p``, so every
  confusion-matrix count has an expected value and the metrics follow: accuracy, precision, recall and
  F1 at the decision threshold, ROC AUC and PR AUC from the expected ROC/PR curves (rows sorted by
  score, each contributing ``p`` to the positives and ``1 - p`` to the negatives), log loss and Brier
  as expectations. It sees covariate shift (rows move to regions where the model is less sure) and is
  blind to concept drift (the same score stops meaning the same probability): that one only the
  realised metric catches, once labels arrive.
* **Direct loss estimation** (regression): a shallow regression tree fitted on the holdout from the
  features and the prediction to the absolute and the squared error; the mean of its outputs on a
  day's rows estimates mae and rmse.

A metric that cannot be estimated (r2, mape) is reported as such with the reason, never guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftloop.core.metrics import (
    BINARY,
    DECISION_THRESHOLD,
    MULTICLASS,
    PREDICTED_LABEL,
    PREDICTION,
    SCORE,
    metric_table,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CBPE = "cbpe"
DLE = "dle"
# 2: the regression design lists its columns in order (format 1 kept them in JSON objects, which
# ``sort_keys`` reordered: a stored direct-loss estimator read the wrong column for each split).
FORMAT_VERSION = 2
ESTIMATOR_ARTIFACT = "estimator/estimator.json"

# What each method can estimate from a day's predictions alone.
ESTIMABLE: dict[str, tuple[str, ...]] = {
    BINARY: ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier"),
    MULTICLASS: ("macro_f1", "weighted_f1", "accuracy", "log_loss"),
    "regression": ("mae", "rmse"),
}
_EPS = 1e-15
_TREE_DEPTH = 4


def method_of(task: str) -> str:
    return DLE if task == "regression" else CBPE


def not_estimable_reason(task: str, metric: str) -> str | None:
    """Why ``metric`` cannot be estimated without labels (None: it can)."""
    if metric in ESTIMABLE[task]:
        return None
    how = (
        "direct loss estimation estimates the expected loss per row"
        if task == "regression"
        else "confidence-based estimation needs a metric of the expected confusion matrix or curve"
    )
    return (
        f"{metric} cannot be estimated without labels ({how}; estimable: "
        f"{', '.join(ESTIMABLE[task])})"
    )


# -- isotonic calibration, stored as its breakpoints ------------------------------------------------
def _fit_isotonic(scores: np.ndarray, y: np.ndarray) -> dict[str, list[float]]:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
    return {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


def _apply_isotonic(curve: dict[str, list[float]], scores: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.interp(np.asarray(scores, float), curve["x"], curve["y"])


# -- a regression tree, stored as its arrays ----------------------------------------------------------
def _fit_tree(x: np.ndarray, target: np.ndarray, seed: int) -> dict[str, list[Any]]:
    from sklearn.tree import DecisionTreeRegressor

    leaf = max(5, len(target) // 20)
    tree = DecisionTreeRegressor(max_depth=_TREE_DEPTH, min_samples_leaf=leaf, random_state=seed)
    t = tree.fit(x, target).tree_
    return {
        "left": t.children_left.tolist(),
        "right": t.children_right.tolist(),
        "feature": t.feature.tolist(),
        "threshold": t.threshold.tolist(),
        "value": t.value[:, 0, 0].tolist(),
    }


def _apply_tree(tree: dict[str, list[Any]], x: np.ndarray) -> np.ndarray:
    import numpy as np

    left, right = np.asarray(tree["left"]), np.asarray(tree["right"])
    feature, threshold = np.asarray(tree["feature"]), np.asarray(tree["threshold"], float)
    node = np.zeros(len(x), dtype=int)
    rows = np.arange(len(x))
    for _ in range(_TREE_DEPTH + 1):
        inner = left[node] >= 0
        if not inner.any():
            break
        f = np.where(inner, feature[node], 0)
        go_left = x[rows, f] <= threshold[node]
        node = np.where(inner, np.where(go_left, left[node], right[node]), node)
    return np.asarray(tree["value"], float)[node]


def _design(frame: pd.DataFrame, spec: dict[str, Any]) -> np.ndarray:
    """Numeric features (NaN -> holdout median), one-hot categoricals, and the prediction.

    The spec holds lists of ``[name, ...]`` pairs, never objects keyed by name: the columns' order
    is the order the trees' feature indices refer to, and JSON objects do not keep an order.
    """
    import numpy as np

    cols = []
    for name, fill in spec["numeric"]:
        cols.append(pd_numeric(frame[name]).fillna(fill).to_numpy(float))
    for name, cats in spec["categorical"]:
        values = frame[name].astype(str).to_numpy()
        cols.extend((values == c).astype(float) for c in cats)
    cols.append(frame[PREDICTION].to_numpy(float))
    return np.column_stack(cols)


def pd_numeric(series: pd.Series) -> pd.Series:
    import pandas as pd

    return pd.to_numeric(series, errors="coerce")


# -- expected metrics from calibrated probabilities ---------------------------------------------------
def expected_roc_auc(scores: np.ndarray, p: np.ndarray) -> float | None:
    """ROC AUC expected when row ``i`` is positive with probability ``p[i]`` (ties share a step)."""
    import numpy as np

    pos, neg = float(p.sum()), float((1 - p).sum())
    if pos <= 0 or neg <= 0:
        return None
    order = np.argsort(-scores, kind="stable")
    s, q = scores[order], p[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the end of each group of tied scores
    tpr = np.r_[0.0, np.cumsum(q)[last] / pos]
    fpr = np.r_[0.0, np.cumsum(1 - q)[last] / neg]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def expected_pr_auc(scores: np.ndarray, p: np.ndarray) -> float | None:
    """Average precision expected under ``p`` (precision at each row weighted by its recall step)."""
    import numpy as np

    pos = float(p.sum())
    if pos <= 0:
        return None
    order = np.argsort(-scores, kind="stable")
    q = p[order]
    precision = np.cumsum(q) / np.arange(1, len(q) + 1)
    return float(np.sum(q / pos * precision))


def _f1(tp: float, predicted: float, actual: float) -> float:
    denom = predicted + actual
    return 2 * tp / denom if denom > 0 else 0.0


def binary_expected(scores: np.ndarray, p: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Expected binary metrics: ``p`` calibrated P(positive), ``predicted`` 0/1 at the threshold."""
    import numpy as np

    s = np.clip(scores, _EPS, 1 - _EPS)
    tp = float(p[predicted == 1].sum())
    n_pred, n_pos = float(predicted.sum()), float(p.sum())
    return {
        "roc_auc": expected_roc_auc(scores, p),
        "pr_auc": expected_pr_auc(scores, p),
        "accuracy": float(np.where(predicted == 1, p, 1 - p).mean()),
        "precision": tp / n_pred if n_pred > 0 else None,
        "recall": tp / n_pos if n_pos > 0 else None,
        "f1": _f1(tp, n_pred, n_pos),
        "log_loss": float(-(p * np.log(s) + (1 - p) * np.log(1 - s)).mean()),
        "brier": float((p * (1 - scores) ** 2 + (1 - p) * scores**2).mean()),
    }


def multiclass_expected(proba: np.ndarray, p: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Expected multiclass metrics: ``p`` calibrated class probabilities, ``predicted`` column index."""
    import numpy as np

    n, k = p.shape
    rows = np.arange(n)
    f1s, weights = [], []
    for c in range(k):
        mine = predicted == c
        f1s.append(_f1(float(p[mine, c].sum()), float(mine.sum()), float(p[:, c].sum())))
        weights.append(float(p[:, c].sum()))
    w = np.asarray(weights)
    s = np.clip(proba, _EPS, 1.0)
    return {
        "accuracy": float(p[rows, predicted].mean()),
        "macro_f1": float(np.mean(f1s)),
        "weighted_f1": float(np.dot(f1s, w) / w.sum()) if w.sum() > 0 else None,
        "log_loss": float(-(p * np.log(s)).sum(axis=1).mean()),
    }


# -- the estimator ------------------------------------------------------------------------------------
@dataclass
class Estimator:
    """A fitted performance estimator (JSON-able); :meth:`estimate` applies it to a day's predictions."""

    method: str
    task: str
    payload: dict[str, Any]
    # The estimator's own estimate of each metric on the holdout it was fitted on (its bias check).
    holdout_estimate: dict[str, float | None] = field(default_factory=dict)
    n_holdout: int = 0

    def to_json(self) -> str:
        body = {
            "format_version": FORMAT_VERSION,
            "method": self.method,
            "task": self.task,
            "payload": self.payload,
            "holdout_estimate": self.holdout_estimate,
            "n_holdout": self.n_holdout,
        }
        return json.dumps(body, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Estimator:
        body = json.loads(text)
        version = body.get("format_version")
        # Format 1 differs only in the regression design, whose column order it lost: a classifier's
        # estimator of format 1 is still exact, a regression one is refused (retrain to replace it).
        if version != FORMAT_VERSION and not (version == 1 and body.get("method") == CBPE):
            raise ValueError(f"estimator format {version!r} is not supported")
        return cls(
            method=body["method"],
            task=body["task"],
            payload=body["payload"],
            holdout_estimate=body.get("holdout_estimate") or {},
            n_holdout=int(body.get("n_holdout") or 0),
        )

    def estimate(self, frame: pd.DataFrame) -> dict[str, float | None]:
        """Estimated metrics of ``frame`` (the predictions columns; regression: plus the features).

        Empty frame: every metric None.
        """
        if frame.empty:
            return dict.fromkeys(ESTIMABLE[self.task])
        if self.task == BINARY:
            return self._binary(frame)
        if self.task == MULTICLASS:
            return self._multiclass(frame)
        return self._regression(frame)

    def _binary(self, frame: pd.DataFrame) -> dict[str, float | None]:
        import numpy as np

        scores = frame[SCORE].to_numpy(float)
        p = _apply_isotonic(self.payload["calibration"], scores)
        threshold = float(self.payload.get("threshold", DECISION_THRESHOLD))
        predicted = (scores >= threshold).astype(int)
        if PREDICTED_LABEL in frame:
            given = pd_numeric(frame[PREDICTED_LABEL])
            if given.notna().all():
                predicted = given.to_numpy().astype(int)
        return binary_expected(scores, p, np.asarray(predicted))

    def _multiclass(self, frame: pd.DataFrame) -> dict[str, float | None]:
        import numpy as np

        columns: list[str] = self.payload["columns"]
        proba = np.column_stack(
            [
                frame[c].fillna(0.0).to_numpy(float) if c in frame else np.zeros(len(frame))
                for c in columns
            ]
        )
        p = calibrate_multiclass(self.payload["calibration"], proba)
        return multiclass_expected(proba, p, proba.argmax(axis=1))

    def _regression(self, frame: pd.DataFrame) -> dict[str, float | None]:
        import numpy as np

        x = _design(frame, self.payload["design"])
        abs_err = np.clip(_apply_tree(self.payload["abs_tree"], x), 0, None)
        sq_err = np.clip(_apply_tree(self.payload["sq_tree"], x), 0, None)
        return {"mae": float(abs_err.mean()), "rmse": float(np.sqrt(sq_err.mean()))}


def calibrate_multiclass(curves: list[dict[str, list[float]]], proba: np.ndarray) -> np.ndarray:
    """Per-class isotonic calibration, rows renormalised (uniform where every class maps to 0)."""
    import numpy as np

    p = np.column_stack([_apply_isotonic(c, proba[:, i]) for i, c in enumerate(curves)])
    total = p.sum(axis=1, keepdims=True)
    k = p.shape[1]
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / k)


def fit_binary(
    scores: np.ndarray, y: np.ndarray, threshold: float = DECISION_THRESHOLD
) -> Estimator:
    """CBPE for a binary classifier: ``scores`` P(positive) on the holdout, ``y`` its 0/1 labels."""
    import numpy as np

    scores, y = np.asarray(scores, float), np.asarray(y, int)
    est = Estimator(
        CBPE,
        BINARY,
        {"calibration": _fit_isotonic(scores, y), "threshold": threshold},
        n_holdout=len(y),
    )
    import pandas as pd

    est.holdout_estimate = est._binary(pd.DataFrame({SCORE: scores}))
    return est


def fit_multiclass(proba: np.ndarray, y: np.ndarray, columns: list[str]) -> Estimator:
    """CBPE for a multiclass classifier: ``proba`` (rows x ``columns``), ``y`` the column index of
    each row's true class (-1: a class the model has no column for)."""
    import numpy as np

    proba, y = np.asarray(proba, float), np.asarray(y, int)
    curves = [_fit_isotonic(proba[:, i], (y == i).astype(float)) for i in range(proba.shape[1])]
    est = Estimator(
        CBPE, MULTICLASS, {"calibration": curves, "columns": list(columns)}, n_holdout=len(y)
    )
    p = calibrate_multiclass(curves, proba)
    est.holdout_estimate = multiclass_expected(proba, p, proba.argmax(axis=1))
    return est


def fit_regression(
    features: pd.DataFrame,
    prediction: np.ndarray,
    y: np.ndarray,
    numeric: list[str],
    categorical: list[str],
    seed: int = 0,
) -> Estimator:
    """Direct loss estimation: trees from features + prediction to the absolute and squared error."""
    import numpy as np

    frame = features.copy()
    frame[PREDICTION] = np.asarray(prediction, float)
    spec = {
        "numeric": [
            [n, float(v) if np.isfinite(v := pd_numeric(frame[n]).median()) else 0.0]
            for n in numeric
        ],
        "categorical": [
            [c, sorted(frame[c].astype(str).value_counts().index[:20].tolist())]
            for c in categorical
        ],
    }
    x = _design(frame, spec)
    err = np.asarray(y, float) - frame[PREDICTION].to_numpy(float)
    payload = {
        "design": spec,
        "abs_tree": _fit_tree(x, np.abs(err), seed),
        "sq_tree": _fit_tree(x, err**2, seed),
    }
    est = Estimator(DLE, "regression", payload, n_holdout=len(err))
    est.holdout_estimate = est._regression(frame)
    return est


def fit_for(
    cfg: Any, holdout: pd.DataFrame, output: np.ndarray, classes: list[str] | None = None
) -> Estimator:
    """The estimator of a training run: ``holdout`` (features + target), ``output`` the model's
    holdout output (binary: scores, multiclass: probabilities in ``classes`` order, regression:
    predictions)."""
    import numpy as np

    from driftloop.core.metrics import class_metric_name, proba_column

    ds = cfg.dataset
    if ds.task == BINARY:
        y = (holdout[ds.target].to_numpy() == ds.positive_label).astype(int)
        return fit_binary(np.asarray(output, float), y)
    if ds.task == MULTICLASS:
        names = [class_metric_name("", c) for c in classes or []]
        index = {n: i for i, n in enumerate(names)}
        truth = [class_metric_name("", v) for v in holdout[ds.target].astype(str)]
        y = np.asarray([index.get(t, -1) for t in truth])
        return fit_multiclass(output, y, [proba_column(c) for c in classes or []])
    numeric = list(ds.numeric)
    categorical = [f for f in ds.feature_names if f not in set(numeric)]
    return fit_regression(
        holdout[[*numeric, *categorical]],
        np.asarray(output, float),
        holdout[ds.target].to_numpy(float),
        numeric,
        categorical,
        seed=cfg.training.random_state,
    )


def estimated_metric(
    estimator: Estimator | None, metric: str, frame: pd.DataFrame
) -> tuple[float | None, str | None]:
    """(estimated value of ``metric`` on ``frame``, reason when there is none)."""
    if estimator is None:
        return None, "no estimator"
    reason = not_estimable_reason(estimator.task, metric)
    if reason:
        return None, reason
    if frame.empty:
        return None, "no predictions to estimate from"
    value = estimator.estimate(frame).get(metric)
    return (value, None) if value is not None else (None, f"{metric} is undefined on these rows")


def drop_of(task: str, metric: str, estimate: float, holdout: float) -> float:
    """How much worse the estimate is than the holdout value, in the metric's direction."""
    return metric_table(task).regression(metric, estimate, holdout)


__all__ = [
    "CBPE",
    "DLE",
    "ESTIMABLE",
    "ESTIMATOR_ARTIFACT",
    "Estimator",
    "binary_expected",
    "calibrate_multiclass",
    "drop_of",
    "estimated_metric",
    "expected_pr_auc",
    "expected_roc_auc",
    "fit_binary",
    "fit_for",
    "fit_multiclass",
    "fit_regression",
    "method_of",
    "multiclass_expected",
    "not_estimable_reason",
]
