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
* **Direct loss estimation** (regression), as NannyML does it: gradient-boosted trees (scikit-learn's
  histogram boosting, native categorical splits) fitted on the holdout from the features and the
  prediction to each row's absolute and squared error; the mean of their outputs on a day's rows
  estimates mae, the root of the mean rmse. The trees are stored as their node arrays and walked
  here, so the stored form stays data.

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
# 3: direct loss estimation by boosted trees (format 2 had one shallow tree per loss).
FORMAT_VERSION = 3
ESTIMATOR_ARTIFACT = "estimator/estimator.json"

# What each method can estimate from a day's predictions alone.
ESTIMABLE: dict[str, tuple[str, ...]] = {
    BINARY: ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier"),
    MULTICLASS: ("macro_f1", "weighted_f1", "accuracy", "log_loss"),
    "regression": ("mae", "rmse"),
}
_EPS = 1e-15


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


# -- gradient-boosted trees, stored as their arrays ---------------------------------------------------
# Direct loss estimation as the reference method does it (gradient boosting on the features and the
# prediction; LightGBM's defaults there), a little more regularised because a holdout is small: a
# smaller learning rate, fewer leaves, larger leaves, an L2 penalty. The Poisson loss (log link)
# fits the mean of a non-negative loss multiplicatively, so the heavy tail of a noisy region's
# squared errors does not leak into a calm one's, and no row is estimated below zero. Measured
# against the reference in bench/estimation.py.
_BOOSTING: dict[str, Any] = {
    "loss": "poisson",
    "learning_rate": 0.05,
    "max_iter": 100,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 50,
    "l2_regularization": 1.0,
    # Every holdout row trains: an early-stopping split would also leave categories unseen.
    "early_stopping": False,
}
# The most frequent categories of a feature get a code (at most 255 for native categorical splits);
# the rest, and missing values, are one "missing" branch of each split.
_MAX_CATEGORIES = 50
_ROWS_PER_PASS = 8192  # rows x trees node indices held at once while applying


def _fit_boosted(
    x: np.ndarray, target: np.ndarray, categorical: list[bool], seed: int
) -> dict[str, Any]:
    """Fit scikit-learn's histogram gradient boosting and keep its trees as flat arrays.

    Every node of every tree sits in one list per field; ``left``/``right`` index those lists,
    ``roots`` holds each tree's first node. A leaf has feature -1 and its (already shrunk) value;
    a categorical split points at its bitset of the codes that go left; NaN follows
    ``missing_left``.
    """
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingRegressor

    cat_columns = np.asarray(categorical, bool)
    model = HistGradientBoostingRegressor(
        categorical_features=cat_columns if cat_columns.any() else None,
        random_state=seed,
        **_BOOSTING,
    ).fit(x, target)
    # With categorical features the model sees its input reordered, categorical columns first, and
    # each one's values ordinal-encoded: map its feature indices back to the columns of ``x``, and
    # check that the encoding is the identity on our codes (each listed category occurs).
    columns = np.r_[np.flatnonzero(cat_columns), np.flatnonzero(~cat_columns)]
    if cat_columns.any():
        encoder = model._preprocessor.named_transformers_["encoder"]
        for seen in encoder.categories_:
            codes = seen[~np.isnan(seen)]
            if not np.array_equal(codes, np.arange(len(codes))):
                raise ValueError(f"categorical codes must be 0..k-1, each present; got {codes}")
    out: dict[str, list[Any]] = {
        k: []
        for k in (
            "roots",
            "feature",
            "threshold",
            "left",
            "right",
            "missing_left",
            "value",
            "bitset",
            "bitsets",
        )
    }
    # The fitted trees are scikit-learn's own node records (no public accessor exists for them).
    for (predictor,) in model._predictors:
        nodes, offset, bit_offset = predictor.nodes, len(out["feature"]), len(out["bitsets"])
        leaf = nodes["is_leaf"].astype(bool)
        cat = nodes["is_categorical"].astype(bool) & ~leaf
        numeric = ~leaf & ~cat
        # A split of the non-missing values from the missing ones has an infinite threshold: the
        # largest float says the same for finite data (the design never holds an infinity).
        threshold = np.where(numeric, np.minimum(nodes["num_threshold"], np.finfo(float).max), 0.0)
        out["roots"].append(offset)
        out["feature"] += np.where(leaf, -1, columns[nodes["feature_idx"]]).tolist()
        out["threshold"] += threshold.tolist()
        out["left"] += np.where(leaf, -1, nodes["left"].astype(np.int64) + offset).tolist()
        out["right"] += np.where(leaf, -1, nodes["right"].astype(np.int64) + offset).tolist()
        out["missing_left"] += (
            (nodes["missing_go_to_left"].astype(bool) & ~leaf).astype(int).tolist()
        )
        out["value"] += np.where(leaf, nodes["value"], 0.0).tolist()
        out["bitset"] += np.where(
            cat, nodes["bitset_idx"].astype(np.int64) + bit_offset, -1
        ).tolist()
        out["bitsets"] += predictor.raw_left_cat_bitsets.tolist()
    link = "log" if model.loss == "poisson" else "identity"
    return {"link": link, "baseline": float(np.ravel(model._baseline_prediction)[0]), **out}


def _apply_boosted(trees: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """The boosted model's prediction for the rows of ``x`` (all trees walked together)."""
    import numpy as np

    feature, left, right = (np.asarray(trees[k], np.int64) for k in ("feature", "left", "right"))
    threshold, value = np.asarray(trees["threshold"], float), np.asarray(trees["value"], float)
    missing_left = np.asarray(trees["missing_left"], bool)
    bitset = np.asarray(trees["bitset"], np.int64)
    words = np.asarray(trees["bitsets"], np.int64).reshape(-1, 8)
    roots = np.asarray(trees["roots"], np.int64)
    out = np.full(len(x), float(trees["baseline"]))
    for start in range(0, len(x), _ROWS_PER_PASS):
        part = x[start : start + _ROWS_PER_PASS]
        node = np.tile(roots, (len(part), 1))
        rows = np.arange(len(part))[:, None]
        while (inner := feature[node] >= 0).any():
            v = part[rows, np.maximum(feature[node], 0)]
            missing = np.isnan(v)
            go_left = v <= threshold[node]
            b = bitset[node]
            if (cat := b >= 0).any() and len(words):
                code = np.where(cat & ~missing, v, 0).astype(np.int64)
                word = words[np.maximum(b, 0), code // 32]
                go_left = np.where(cat, (word >> (code % 32)) & 1 == 1, go_left)
            go_left = np.where(missing, missing_left[node], go_left)
            node = np.where(inner, np.where(go_left, left[node], right[node]), node)
        out[start : start + len(part)] += value[node].sum(axis=1)
    return np.exp(out) if trees["link"] == "log" else out


def _design(frame: pd.DataFrame, spec: dict[str, Any]) -> np.ndarray:
    """Numeric features (missing and infinite values as NaN), categorical features as codes of their
    listed categories (NaN: missing or not listed), and the prediction, in that order.

    The spec holds lists, never objects keyed by name: the columns' order is the order the trees'
    feature indices refer to, and JSON objects do not keep an order.
    """
    import numpy as np

    cols = []
    for name in spec["numeric"]:
        col = pd_numeric(frame[name]).to_numpy(float)
        cols.append(np.where(np.isfinite(col), col, np.nan))
    for name, cats in spec["categorical"]:
        codes = {c: float(i) for i, c in enumerate(cats)}
        cols.append(frame[name].astype(str).map(codes).to_numpy(float, na_value=np.nan))
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
        # Formats 1 and 2 differ only in the regression estimator: a classifier's estimator of an
        # earlier format is still exact, a regression one is refused (a retrain replaces it).
        if version != FORMAT_VERSION and not (version in (1, 2) and body.get("method") == CBPE):
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
        abs_err = np.clip(_apply_boosted(self.payload["abs_model"], x), 0, None)
        sq_err = np.clip(_apply_boosted(self.payload["sq_model"], x), 0, None)
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
    """Direct loss estimation: boosted trees from the features and the prediction to each row's
    absolute and squared error; their means on a day's rows estimate its mae and rmse."""
    import numpy as np

    frame = features.copy()
    frame[PREDICTION] = np.asarray(prediction, float)
    spec = {
        "numeric": list(numeric),
        "categorical": [
            [c, frame[c].dropna().astype(str).value_counts().index[:_MAX_CATEGORIES].tolist()]
            for c in categorical
        ],
    }
    x = _design(frame, spec)
    mask = [False] * len(numeric) + [True] * len(categorical) + [False]
    err = np.asarray(y, float) - frame[PREDICTION].to_numpy(float)
    payload = {
        "design": spec,
        "abs_model": _fit_boosted(x, np.abs(err), mask, seed),
        "sq_model": _fit_boosted(x, err**2, mask, seed),
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
