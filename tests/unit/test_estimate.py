"""Performance estimated without labels: calibration, expected metrics, direct loss estimation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from driftloop.model import estimate as E


def _binary(n: int, scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from a known P(y=1|x) and a monotone but miscalibrated score of x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=scale, size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    return 1 / (1 + np.exp(-0.8 * x - 0.3)), y


def test_isotonic_calibration_maps_scores_to_observed_rates() -> None:
    scores, y = _binary(6000, 1.0, 0)
    est = E.fit_binary(scores, y)
    p = np.interp(scores, est.payload["calibration"]["x"], est.payload["calibration"]["y"])
    for lo, hi in [(0.0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 1.0)]:
        band = (scores >= lo) & (scores < hi)
        assert abs(p[band].mean() - y[band].mean()) < 0.01
    assert np.all(np.diff(est.payload["calibration"]["y"]) >= 0)


@pytest.mark.parametrize("scale", [1.0, 0.4, 2.5])
def test_expected_metrics_track_realised_ones_under_covariate_shift(scale: float) -> None:
    est = E.fit_binary(*_binary(5000, 1.0, 1))
    scores, y = _binary(5000, scale, 2)  # the inputs move; P(y|x) stays: what CBPE can see
    got = est.estimate(pd.DataFrame({"score": scores}))
    predicted = (scores >= 0.5).astype(int)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, scores), abs=0.03)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=0.03)
    assert got["f1"] == pytest.approx(f1_score(y, predicted), abs=0.04)


def test_a_harder_region_lowers_the_estimated_auc() -> None:
    est = E.fit_binary(*_binary(5000, 1.0, 3))
    near = est.estimate(pd.DataFrame({"score": _binary(4000, 0.3, 4)[0]}))["roc_auc"]
    wide = est.estimate(pd.DataFrame({"score": _binary(4000, 1.0, 5)[0]}))["roc_auc"]
    assert near is not None and wide is not None and near < wide - 0.1


def test_expected_auc_of_perfectly_separated_probabilities() -> None:
    scores = np.array([0.1, 0.2, 0.8, 0.9])
    assert E.expected_roc_auc(scores, np.array([0.0, 0.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert E.expected_roc_auc(scores, np.full(4, 0.0)) is None


def test_multiclass_calibrated_rows_sum_to_one_and_estimate_accuracy() -> None:
    rng = np.random.default_rng(6)
    n, k = 6000, 3
    logits = rng.normal(size=(n, k)) * 2
    true_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in true_p])
    proba = np.exp(logits * 0.6) / np.exp(logits * 0.6).sum(axis=1, keepdims=True)
    cols = ["proba_a", "proba_b", "proba_c"]
    est = E.fit_multiclass(proba[:3000], y[:3000], cols)
    p = E.calibrate_multiclass(est.payload["calibration"], proba[3000:])
    assert np.allclose(p.sum(axis=1), 1.0)
    got = est.estimate(pd.DataFrame(proba[3000:], columns=cols))
    predicted = proba[3000:].argmax(axis=1)
    assert got["accuracy"] == pytest.approx(accuracy_score(y[3000:], predicted), abs=0.03)
    macro = f1_score(y[3000:], predicted, average="macro")
    assert got["macro_f1"] == pytest.approx(macro, abs=0.04)


def test_direct_loss_estimation_follows_where_the_errors_are_large() -> None:
    rng = np.random.default_rng(7)
    n = 6000
    x = pd.DataFrame({"a": rng.normal(size=n), "c": rng.choice(["calm", "noisy"], n)})
    noise = np.where(x["c"] == "noisy", 3.0, 0.5) * (1 + np.abs(x["a"].to_numpy()))
    pred = 2 * x["a"].to_numpy()
    y = pred + rng.normal(size=n) * noise
    est = E.fit_regression(x[:3000], pred[:3000], y[:3000], ["a"], ["c"])
    assert E.Estimator.from_json(est.to_json()).payload == est.payload
    for region in ("calm", "noisy"):
        rows = (x["c"] == region).to_numpy() & (np.arange(n) >= 3000)
        frame = x[rows].assign(prediction=pred[rows])
        got = est.estimate(frame)
        err = y[rows] - pred[rows]
        assert got["mae"] == pytest.approx(np.abs(err).mean(), rel=0.1)
        assert got["rmse"] == pytest.approx(np.sqrt((err**2).mean()), rel=0.1)


def test_metrics_that_cannot_be_estimated_say_why() -> None:
    assert E.not_estimable_reason("binary", "roc_auc") is None
    reason = E.not_estimable_reason("regression", "r2")
    assert reason and "r2 cannot be estimated" in reason and "mae, rmse" in reason
    est = E.fit_binary(*_binary(500, 1.0, 8))
    assert E.estimated_metric(None, "roc_auc", pd.DataFrame()) == (None, "no estimator")
    assert (
        E.estimated_metric(est, "roc_auc", pd.DataFrame())[1] == "no predictions to estimate from"
    )


def test_the_stored_form_is_json_and_versioned() -> None:
    est = E.fit_binary(*_binary(500, 1.0, 9))
    again = E.Estimator.from_json(est.to_json())
    frame = pd.DataFrame({"score": _binary(300, 1.0, 10)[0]})
    assert again.estimate(frame) == est.estimate(frame)
    with pytest.raises(ValueError, match="format"):
        E.Estimator.from_json('{"format_version": 99}')
    # Format 1 lost the regression design's column order: such an estimator is refused, while a
    # classifier's of format 1 (no design) still loads.
    old = '{"format_version": 1, "method": "%s", "task": "%s", "payload": {}}'
    with pytest.raises(ValueError, match="format 1"):
        E.Estimator.from_json(old % ("dle", "regression"))
    assert E.Estimator.from_json(old % ("cbpe", "binary")).task == "binary"


# Features listed out of alphabetical order, numeric and categorical interleaved: the order a
# stored estimator must keep (its design columns follow it), whatever its JSON does with keys.
ROUND_TRIP_FEATURES = [
    {"name": "zeta", "type": "numeric"},
    {"name": "colour", "type": "categorical"},
    {"name": "alpha", "type": "numeric"},
    {"name": "mid", "type": "numeric"},
    {"name": "band", "type": "categorical"},
]


def _round_trip_config(task: str) -> Any:
    from driftloop.core.config import parse_config

    return parse_config(
        {
            "name": "roundtrip",
            "dataset": {
                "id_column": "id",
                "timestamp_column": "ts",
                "target": "y",
                "task": task,
                "features": ROUND_TRIP_FEATURES,
            },
            "storage": {"root": "unused"},
            "validation": {"suite": "unused"},
        }
    )


def _round_trip_rows(n: int, seed: int) -> pd.DataFrame:
    """Features whose columns differ in scale and meaning, so a swapped column changes a split."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "zeta": rng.normal(scale=10.0, size=n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "alpha": rng.exponential(size=n),
            "mid": rng.uniform(-1, 1, size=n),
            "band": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


def _round_trip_case(task: str, seed: int) -> tuple[Any, pd.DataFrame, Any, pd.DataFrame]:
    """(config, holdout with target, the model's holdout output, a later day's predictions)."""
    rng = np.random.default_rng(seed)
    holdout, day = _round_trip_rows(3000, seed), _round_trip_rows(1500, seed + 1)

    def signal(frame: pd.DataFrame) -> np.ndarray:
        return (
            0.1 * frame["zeta"].to_numpy()
            + np.where(frame["colour"] == "red", 1.5, -0.5)
            + frame["mid"].to_numpy()
        )

    if task == "binary":
        scores = 1 / (1 + np.exp(-signal(holdout)))
        holdout["y"] = (rng.random(len(holdout)) < 1 / (1 + np.exp(-1.3 * signal(holdout)))).astype(
            int
        )
        return (
            _round_trip_config(task),
            holdout,
            scores,
            day.assign(score=1 / (1 + np.exp(-signal(day)))),
        )
    if task == "multiclass":
        classes = ["x", "y", "z"]

        def proba(frame: pd.DataFrame) -> np.ndarray:
            logits = np.column_stack([signal(frame), frame["alpha"], -signal(frame)])
            return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

        p = proba(holdout)
        holdout["y"] = [
            rng.choice(classes, p=row)
            for row in proba(holdout) ** 1.5 / (proba(holdout) ** 1.5).sum(axis=1, keepdims=True)
        ]
        day_frame = day.assign(**{f"proba_{c}": proba(day)[:, i] for i, c in enumerate(classes)})
        return _round_trip_config(task), holdout, (p, classes), day_frame

    def noise(frame: pd.DataFrame) -> np.ndarray:
        # The error grows with |zeta| and with band d: only the right columns find it.
        return (0.2 + np.abs(frame["zeta"].to_numpy()) / 5) * np.where(frame["band"] == "d", 4, 1)

    pred = 3 * holdout["alpha"].to_numpy() + holdout["mid"].to_numpy()
    holdout["y"] = pred + rng.normal(size=len(holdout)) * noise(holdout)
    day_frame = day.assign(prediction=3 * day["alpha"].to_numpy() + day["mid"].to_numpy())
    return _round_trip_config(task), holdout, pred, day_frame


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_stored_estimator_estimates_exactly_as_the_fitted_one(task: str) -> None:
    """Saved and loaded, the estimator of every task gives the same estimates on the same rows,
    with several numeric and categorical features whose config order is not alphabetical."""
    cfg, holdout, output, day = _round_trip_case(task, seed=11)
    if task == "multiclass":
        est = E.fit_for(cfg, holdout, output[0], output[1])
    else:
        est = E.fit_for(cfg, holdout, output)
    loaded = E.Estimator.from_json(est.to_json())
    assert loaded.estimate(day) == est.estimate(day)
    held = holdout.drop(columns="y")
    if task == "regression":
        assert loaded.estimate(held.assign(prediction=output)) == est.holdout_estimate
    # A second round trip writes the same text: nothing in the stored form depends on dict order.
    assert loaded.to_json() == est.to_json()


def test_stored_boosted_trees_predict_what_scikit_learn_predicts() -> None:
    """The trees kept as arrays give scikit-learn's own predictions, missing values and categorical
    splits included: the stored form loses nothing."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(12)
    n = 4000
    x = np.column_stack(
        [
            np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            rng.integers(0, 6, n).astype(float),
            rng.exponential(size=n),
        ]
    )
    x[rng.random(n) < 0.05, 1] = np.nan  # a missing category
    target = np.abs(x[:, 2] * np.where(x[:, 1] % 2 == 0, 3, 1) + np.nan_to_num(x[:, 0]))
    mask = [False, True, False]
    stored = E._fit_boosted(x, target, mask, seed=3)
    model = HistGradientBoostingRegressor(
        categorical_features=np.asarray(mask), random_state=3, **E._BOOSTING
    ).fit(x, target)
    assert any(b >= 0 for b in stored["bitset"])  # categorical splits were made
    assert np.allclose(E._apply_boosted(stored, x), model.predict(x), rtol=0, atol=1e-9)
