"""Performance tolerances: an absolute number or a share of the holdout value, defaulted by the
primary metric's scale, checked per task at config load, applied in the metric's units."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftloop.core.config import ConfigError, PipelineConfig, load_config, project_root
from driftloop.core.metrics import PREDICTION
from driftloop.monitor.monitoring import evaluate_performance

pytestmark = pytest.mark.unit

EXAMPLES = project_root() / "configs" / "examples"


def _cfg(name: str, **drift: str) -> PipelineConfig:
    environ = {
        "DRIFTLOOP_HOME": "/tmp/x",
        **{f"DRIFTLOOP__DRIFT__{k}": v for k, v in drift.items()},
    }
    return load_config(EXAMPLES / f"{name}.yaml", environ=environ)


def _joined(cfg: PipelineConfig, rmse: float, n: int = 2000) -> pd.DataFrame:
    """Predictions and targets whose rmse is exactly ``rmse`` (price-like units, around 10,000)."""
    rng = np.random.default_rng(0)
    err = rng.normal(size=n)
    err *= rmse / np.sqrt((err**2).mean())
    truth = 10_000 + rng.normal(scale=3000, size=n)
    return pd.DataFrame({PREDICTION: truth - err, cfg.dataset.target: truth})


def _holdout(rmse: float) -> dict[str, float]:
    return {"rmse": rmse, "mae": 0.8 * rmse, "r2": 0.9}


@pytest.mark.parametrize(("rise", "status"), [(0.01, "ok"), (0.10, "decay")])
def test_a_regression_rmse_rise_signals_by_its_share_of_the_holdout(
    rise: float, status: str
) -> None:
    """With no tolerance configured, an rmse in price units may rise 5%: the 1% rise seen on a real
    replay (1,068.8 -> 1,080.1) is no decay, a 10% rise is; the result states 5% of the holdout."""
    cfg = _cfg("regression", PERFORMANCE_TOLERANCE="null")
    assert cfg.drift.performance_tolerance is None
    perf = evaluate_performance(cfg, _joined(cfg, 1068.8 * (1 + rise)), _holdout(1068.8))
    assert perf.live["rmse"] == pytest.approx(1068.8 * (1 + rise))
    assert perf.status == status
    assert perf.tolerance == pytest.approx(0.05 * 1068.8)


def test_an_absolute_tolerance_is_in_the_metrics_units() -> None:
    """A number stays absolute: 2.0 (the example's rmse tolerance) signals the same 1% rise."""
    cfg = _cfg("regression")
    assert cfg.drift.performance_tolerance == 2.0
    perf = evaluate_performance(cfg, _joined(cfg, 1080.1), _holdout(1068.8))
    assert perf.status == "decay" and perf.tolerance == 2.0


def test_an_explicit_share_and_the_estimated_tolerance() -> None:
    cfg = _cfg("regression", PERFORMANCE_TOLERANCE="'2%'", ESTIMATED_TOLERANCE="10%")
    assert cfg.drift.tolerance("regression", "rmse", 1000.0) == pytest.approx(20.0)
    assert cfg.drift.tolerance("regression", "rmse", 1000.0, estimated=True) == pytest.approx(100.0)
    assert cfg.drift.tolerance("regression", "rmse", None) is None  # no holdout: nothing to share
    perf = evaluate_performance(cfg, _joined(cfg, 1030.0), _holdout(1000.0))
    assert perf.status == "decay" and perf.tolerance == pytest.approx(20.0)


def test_bounded_metrics_keep_their_absolute_default() -> None:
    """roc_auc and macro_f1 (bounded to [0, 1]) keep 0.05 absolute; log_loss takes a share."""
    binary = _cfg("flights_delay", PERFORMANCE_TOLERANCE="null")
    assert binary.drift.tolerance("binary", "roc_auc", 0.9) == 0.05
    assert binary.drift.tolerance("binary", "log_loss", 0.4) == pytest.approx(0.02)
    assert binary.drift.tolerance("multiclass", "macro_f1", 0.5) == 0.05


@pytest.mark.parametrize(
    ("example", "drift", "problem"),
    [
        ("regression", {"PERFORMANCE_TOLERANCE": "five"}, "not a tolerance"),
        ("regression", {"ESTIMATED_TOLERANCE": "-1"}, "not a tolerance"),
        ("flights_delay", {"PERFORMANCE_TOLERANCE": "1.5"}, "range of roc_auc"),
        ("flights_delay", {"ESTIMATED_TOLERANCE": "1"}, "range of roc_auc"),
    ],
)
def test_a_tolerance_that_cannot_work_is_refused_at_load(
    example: str, drift: dict[str, str], problem: str
) -> None:
    key = next(iter(drift)).lower()
    with pytest.raises(ConfigError, match=f"drift.{key}") as err:
        _cfg(example, **drift)
    assert problem in str(err.value)


def test_a_share_of_r2_is_refused() -> None:
    """r2 is not a scale (it can be 0 or negative): only a number in its units fits it."""
    environ: dict[str, Any] = {
        "DRIFTLOOP_HOME": "/tmp/x",
        "DRIFTLOOP__GATE__PRIMARY_METRIC": "r2",
        "DRIFTLOOP__GATE__FLOOR": "null",
        "DRIFTLOOP__DRIFT__PERFORMANCE_TOLERANCE": "5%",
    }
    with pytest.raises(ConfigError, match=r"drift\.performance_tolerance: a share"):
        load_config(EXAMPLES / "regression.yaml", environ=environ)
    environ["DRIFTLOOP__DRIFT__PERFORMANCE_TOLERANCE"] = "0.02"
    assert (
        load_config(EXAMPLES / "regression.yaml", environ=environ).drift.performance_tolerance
        == 0.02
    )
