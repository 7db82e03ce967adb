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

Usage: ``python bench/training.py [--quick] [--rows N] [--repeats N]``
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


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--rows", type=int, default=None, help="labelled rows in the window (1M)")
    ap.set_defaults(repeats=1)
    args = ap.parse_args(argv)
    rows = args.rows or (30_000 if args.quick else 1_000_000)
    out: dict[str, Any] = {"estimator": "configured default (configs/churn.yaml)"}
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as state:
        setup = in_child(_phase_setup, state, rows)
        out |= setup
        out |= in_child(_phase_train, state, setup["end"], args.repeats)
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
