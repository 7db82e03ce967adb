"""The champion's performance estimated per day before labels, and its error once labels land.

The daily check applies the champion's estimator (:mod:`driftloop.model.estimate`, logged with its
training run) to the day's own predictions and to the drift window's, and writes

* ``estimated_performance`` in report.json (:func:`estimated_performance`), and
* one small file per day, ``monitoring/estimates/date=D/estimate.json``
  (``{"date", "model_version", "metric", "method", "value", "rows", "holdout_value"}``), read back by
  :func:`read_estimates`.

When labels have arrived for an earlier estimated day, the realised metric of the same model version
on the same rows is compared with that day's estimate (``errors`` in the report).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from driftloop.core.metrics import PREDICTION
from driftloop.core.partition import Zone
from driftloop.core.storage import LABELS, PREDICTIONS, VALIDATED, Store, as_date
from driftloop.monitor.estimation_error import EstimationRow, estimation_rows, mean_absolute_error

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.core.config import PipelineConfig
    from driftloop.model.estimate import Estimator
    from driftloop.monitor.asof import AsOf

log = logging.getLogger(__name__)

ESTIMATES = Zone.ESTIMATES
ESTIMATE_FILE = "estimate.json"


def load_estimator(cfg: PipelineConfig, version: str | None) -> tuple[Estimator | None, str | None]:
    """The estimator logged with ``version``'s training run, or (None, why not).

    A version trained before estimators existed has none: the reason says so, nothing raises.
    """
    from mlflow.exceptions import MlflowException

    from driftloop.model.estimate import ESTIMATOR_ARTIFACT, Estimator
    from driftloop.tracking.mlflow import mlflow_client, read_run_text, run_id_of

    if version is None:
        return None, "no champion"
    try:
        mv = mlflow_client(cfg).get_model_version(cfg.model_name, str(version))
        text = read_run_text(cfg, run_id_of(mv), ESTIMATOR_ARTIFACT)
    except (MlflowException, OSError) as err:  # the artifact is absent
        log.info("no estimator for model version %s: %s", version, str(err).splitlines()[0])
        return None, f"no estimator for model version {version}"
    try:
        return Estimator.from_json(text), None
    except (ValueError, KeyError) as err:
        return None, f"estimator of model version {version} is unreadable: {err}"


def estimation_frame(
    store: Store,
    cfg: PipelineConfig,
    days: list[date],
    version: str | None,
    view: AsOf | None = None,
) -> pd.DataFrame:
    """The champion's predictions of ``days`` (regression: joined with the day's features).

    ``view``: the check's as-of view, whose champion's predictions are read once per check.
    """
    import pandas as pd

    from driftloop.monitor.monitoring import _champion_predictions, prediction_columns

    ds = cfg.dataset
    frames = []
    present = set(store.partitions(PREDICTIONS))
    columns = prediction_columns(cfg)
    for d in (d for d in days if d in present):
        if view is not None and view.version == version:
            found = view.predictions(d)
            parts = [] if found is None else [found if columns is None else found[columns]]
        else:
            parts = list(_champion_predictions(store, [d], version, columns))
        if not parts:
            continue
        pred = pd.concat(parts, ignore_index=True)
        if ds.task == "regression":
            if not store.partition_exists(VALIDATED, d):
                continue
            feats = store.read_table(VALIDATED, d)[[ds.id_column, *ds.feature_names]]
            pred = pred[[ds.id_column, PREDICTION]].merge(feats, on=ds.id_column, how="inner")
        frames.append(pred)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_estimate(store: Store, day: date, body: Mapping[str, Any]) -> str:
    """Write ``monitoring/estimates/date=D/estimate.json``; returns the partition URI."""
    data = json.dumps(dict(body), indent=2, sort_keys=True, allow_nan=False).encode()
    return store.write_partition(ESTIMATES, day, {ESTIMATE_FILE: data})


def read_estimates(store: Store) -> dict[date, dict[str, Any]]:
    """Every day's estimate file, by date (ascending)."""
    out: dict[date, dict[str, Any]] = {}
    for d in store.partitions(ESTIMATES):
        key = store.key(ESTIMATES, d, ESTIMATE_FILE)
        if store.exists(key):
            out[d] = store.read_json(key)
    return out


def estimation_errors(
    store: Store,
    cfg: PipelineConfig,
    day: date,
    version: str | None,
    metric: str,
    view: AsOf | None = None,
) -> list[EstimationRow]:
    """Earlier estimated days of ``version`` whose labels have arrived: estimate vs realised.

    The realised metric is measured on the same model version's predictions of that day
    (:func:`driftloop.monitor.estimation_error.estimation_rows`); with ``view``, on the labels
    landed by its day.
    """
    labelled = set(view.arrivals) if view is not None else set(store.partitions(LABELS))
    earlier = {
        d: est
        for d, est in read_estimates(store).items()
        if d < day
        and d in labelled
        and est.get("value") is not None
        and str(est.get("model_version")) == str(version)
        and est.get("metric") == metric
    }
    return [r for r in estimation_rows(store, cfg, earlier, view) if r.error is not None]


def estimation_error(
    store: Store, cfg: PipelineConfig, since: date | None = None
) -> tuple[list[EstimationRow], float | None]:
    """The per-day rows of every estimate in storage (from ``since`` on) and their MAE."""
    found = {
        day: est
        for day, est in read_estimates(store).items()
        if since is None or as_date(day) >= since
    }
    rows = estimation_rows(store, cfg, found)
    return rows, mean_absolute_error(rows)


def estimated_performance(
    cfg: PipelineConfig,
    store: Store,
    day: date,
    version: str | None,
    holdout_value: float | None,
    window_days: list[date],
    estimator: Estimator | None,
    reason: str | None,
    view: AsOf | None = None,
) -> dict[str, Any]:
    """The ``estimated_performance`` body of report.json, and the day's estimate file written.

    ``view``: the check's as-of view (its champion's predictions, the labels landed by its day).

    ``drop``: the window's estimate is worse than the holdout value by more than the tolerance
    (``drift.estimated_tolerance``, default ``drift.performance_tolerance``), stated in the body
    in the metric's units.
    """
    from driftloop.model.estimate import drop_of, estimated_metric, method_of

    ds = cfg.dataset
    metric = cfg.gate.primary_metric
    tolerance = cfg.drift.tolerance(ds.task, metric, holdout_value, estimated=True)
    day = as_date(day)
    day_frame = estimation_frame(store, cfg, [day], version, view) if estimator else None
    rows = 0 if day_frame is None else len(day_frame)
    day_value, day_reason = (None, reason)
    win_value, win_reason = (None, reason)
    if estimator is not None and day_frame is not None:
        day_value, day_reason = estimated_metric(estimator, metric, day_frame)
        win_frame = estimation_frame(store, cfg, window_days, version, view)
        if len(win_frame) < cfg.drift.min_samples:
            win_reason = (
                f"too few predictions in the window to estimate ({len(win_frame)} < "
                f"drift.min_samples {cfg.drift.min_samples})"
            )
        else:
            win_value, win_reason = estimated_metric(estimator, metric, win_frame)
    drop = (
        win_value is not None
        and holdout_value is not None
        and tolerance is not None
        and drop_of(ds.task, metric, win_value, holdout_value) > tolerance
    )
    settled = estimation_errors(store, cfg, day, version, metric, view)
    errors = [
        {"date": r.date, "estimated": r.estimated, "realised": r.realised, "error": r.error}
        for r in settled
    ]
    body = {
        "method": method_of(ds.task),
        "metric": metric,
        "holdout_value": holdout_value,
        "day": {"date": day.isoformat(), "value": day_value, "rows": rows},
        "window": {"days": [d.isoformat() for d in window_days], "value": win_value},
        "tolerance": tolerance,
        "drop": bool(drop),
        "reason": win_reason if win_value is None else None,
        "errors": errors,
        "mean_absolute_error": mean_absolute_error(settled),
    }
    if day_reason and day_value is None and body["reason"] is None:
        body["reason"] = f"day: {day_reason}"
    if estimator is not None and rows:
        write_estimate(
            store,
            day,
            {
                "date": day.isoformat(),
                "model_version": version,
                "metric": metric,
                "method": method_of(ds.task),
                "value": day_value,
                "rows": rows,
                "holdout_value": holdout_value,
            },
        )
    return body


__all__ = [
    "ESTIMATES",
    "ESTIMATE_FILE",
    "estimated_performance",
    "estimation_error",
    "estimation_errors",
    "estimation_frame",
    "load_estimator",
    "read_estimates",
    "write_estimate",
]
