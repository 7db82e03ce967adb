"""Performance estimated without labels: calibration, expected metrics, direct loss estimation."""

from __future__ import annotations

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
