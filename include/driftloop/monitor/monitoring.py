"""Daily monitoring of the champion: feature and prediction drift, and live performance.

:func:`check` reads a window of partitions from storage and combines

* **feature drift**: the last ``drift.window_days`` validated partitions up to the day, streamed
  batch by batch into a :class:`driftloop.drift.Accumulator` against the champion's reference profile;
* **prediction drift**: the champion's scores over the same days against its reference scores;
* **performance**: predictions joined with the labels that have arrived, over the last
  ``drift.performance_window_days`` days (plus the label delay, since the newest days have no labels
  yet), compared with the champion's holdout metrics.

Choices that keep one change from triggering twice:

* Performance and prediction drift use only rows scored by the *current* champion version: after a
  promotion, the previous model's predictions say nothing about the new one.
* Days the champion was trained or held out on (``trained_days``) are left out of the performance
  window: their predictions exist only when they were scored from the backlog (after the first
  promotion) and measure the fit, not live performance.
* Days on or before the champion's training end (``training_end``, its partition date) are left out
  of the drift window: they are part of its training data, so by construction they do not drift.
  Right after a promotion the window is therefore empty or short, and the check reports
  ``insufficient_data`` instead of re-raising the drift that caused the retrain.

Only partitions that exist are used (a quarantined day has no validated partition); the report
names the days used and the days missing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

from driftloop.core.jsonable import jsonable
from driftloop.core.metrics import (
    BINARY,
    MULTICLASS,
    PREDICTED_LABEL,
    PREDICTION,
    PROBA_PREFIX,
    SCORE,
    class_metric_name,
    metric_table,
)
from driftloop.core.storage import LABELS, PREDICTIONS, VALIDATED, Store, as_date
from driftloop.drift import Accumulator, DriftResult, Profile, detect
from driftloop.monitor.policy import Signals

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from driftloop.core.config import PipelineConfig
    from driftloop.monitor.asof import AsOf

log = logging.getLogger(__name__)

BATCH_ROWS = 65_536

PerformanceStatus = Literal["ok", "decay", "insufficient_labels"]


# -- performance -----------------------------------------------------------------------------------
@dataclass
class PerformanceResult:
    """Live metrics of the champion on labelled rows, against its holdout metrics."""

    status: PerformanceStatus
    model_version: str | None
    n_labelled: int
    min_labelled: int
    primary_metric: str
    live: dict[str, float | None]
    holdout: dict[str, float]
    decay: float | None
    # The tolerance applied, in the metric's units (None: no holdout value to take a share of).
    tolerance: float | None
    days_used: list[str] = field(default_factory=list)
    days_missing: list[str] = field(default_factory=list)

    @property
    def decayed(self) -> bool:
        return self.status == "decay"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "decayed": self.decayed}


def evaluate_performance(
    cfg: PipelineConfig,
    joined: pd.DataFrame,
    holdout_metrics: Mapping[str, float],
    model_version: str | None = None,
) -> PerformanceResult:
    """Decide decay from predictions joined with labels (the task's prediction columns + target).

    decay = how much worse the live primary metric (``gate.primary_metric``) is than on the holdout,
    in the metric's direction (holdout - live for roc_auc or macro_f1, live - holdout for rmse or
    log_loss); decay above ``drift.performance_tolerance`` (resolved in the metric's units against
    the holdout value, see :meth:`Drift.tolerance`) is a signal. Fewer labelled rows than
    ``drift.min_labelled_samples`` gives ``insufficient_labels``.
    """
    d, metric = cfg.drift, cfg.gate.primary_metric
    holdout = {k: float(v) for k, v in holdout_metrics.items() if v is not None}
    n = len(joined)
    table = metric_table(cfg.dataset.task)
    live: dict[str, float | None] = dict.fromkeys(table.names)
    decay = None
    tolerance = d.tolerance(table.task, metric, holdout.get(metric))
    status: PerformanceStatus = "insufficient_labels"
    if n >= d.min_labelled_samples:
        live = live_metrics(cfg, joined)
        value = live.get(metric)
        if value is not None and metric in holdout:
            decay = table.regression(metric, float(value), holdout[metric])
            status = "decay" if tolerance is not None and decay > tolerance else "ok"
        else:
            status = "ok"
    return PerformanceResult(
        status=status,
        model_version=model_version,
        n_labelled=n,
        min_labelled=d.min_labelled_samples,
        primary_metric=metric,
        live=live,
        holdout=holdout,
        decay=decay,
        tolerance=tolerance,
    )


def live_metrics(cfg: PipelineConfig, joined: pd.DataFrame) -> dict[str, float | None]:
    """The task's metrics of predictions joined with their labels.

    binary: ``score`` and ``predicted_label`` against the positive label; multiclass: the
    ``proba_<class>`` columns and ``predicted_label`` (class names compared as the column names
    spell them); regression: ``prediction`` against the target.
    """
    import numpy as np

    ds = cfg.dataset
    table = metric_table(ds.task)
    if ds.task == BINARY:
        y = (joined[ds.target].to_numpy() == ds.positive_label).astype(int)
        predicted = joined.get(PREDICTED_LABEL, None)
        if predicted is not None:
            predicted = (predicted.to_numpy() == ds.positive_label).astype(int)
        return table.compute(y, joined[SCORE].to_numpy(), predicted)
    if ds.task == MULTICLASS:
        probas = [c for c in joined.columns if str(c).startswith(PROBA_PREFIX)]
        classes = [str(c).removeprefix(PROBA_PREFIX) for c in probas]
        name = np.vectorize(lambda v: class_metric_name("", v), otypes=[object])
        y = name(joined[ds.target].astype(str).to_numpy())
        predicted = name(joined[PREDICTED_LABEL].astype(str).to_numpy())
        proba = joined[probas].fillna(0.0).to_numpy(float)
        return table.compute(y, proba, predicted, classes=classes)
    return table.compute(joined[ds.target].to_numpy(float), joined[PREDICTION].to_numpy(float))


def prediction_columns(cfg: PipelineConfig) -> list[str] | None:
    """The predictions columns monitoring reads (None: all of them, as multiclass ones vary)."""
    if cfg.dataset.task == BINARY:
        return [cfg.dataset.id_column, SCORE, PREDICTED_LABEL]
    if cfg.dataset.task == MULTICLASS:
        return None
    return [cfg.dataset.id_column, PREDICTION]


# -- loading windows from storage --------------------------------------------------------------------
def window(day: date, days: int) -> list[date]:
    """The ``days`` partition dates ending at ``day`` (inclusive), ascending."""
    return [day - timedelta(days=i) for i in range(days - 1, -1, -1)]


def _split(store: Store, zone: str, days: list[date]) -> tuple[list[date], list[date]]:
    present = set(store.partitions(zone))
    return [d for d in days if d in present], [d for d in days if d not in present]


def iter_batches(
    store: Store, zone: str, days: list[date], columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """Stream the ``part-0.parquet`` of each day's partition in record batches (bounded memory)."""
    return store.iter_batches(zone, days, columns, BATCH_ROWS)


def _champion_predictions(
    store: Store, days: list[date], champion_version: str | None, columns: list[str] | None
) -> Iterator[pd.DataFrame]:
    """Prediction rows of the champion version, day by day (as pandas, they are narrow).

    ``columns`` None reads every column.
    """
    wanted = None if columns is None else [*columns, "model_version"]
    for batch in iter_batches(store, PREDICTIONS, days, columns=wanted):
        df = batch.to_pandas()
        if champion_version is not None:
            df = df[df["model_version"].astype(str) == str(champion_version)]
        yield df


def load_performance_window(
    store: Store,
    cfg: PipelineConfig,
    day: date,
    champion_version: str | None,
    trained_days: Collection[date] = (),
    view: AsOf | None = None,
) -> tuple[pd.DataFrame, list[date], list[date]]:
    """Champion predictions joined with their labels over the performance window.

    The window is ``performance_window_days + label_delay_days`` days ending at ``day``: the labels
    of the newest days have not arrived yet, so the last days with labels are what is measured.
    ``trained_days`` (the champion's training and holdout partitions) are not live data: left out.
    ``view``: read through the check's as-of view (the labels landed by its day), else storage.
    Returns (joined frame, days used, days missing a predictions or labels partition).
    """
    import pandas as pd

    ds = cfg.dataset
    trained = set(trained_days)
    days = [
        d
        for d in window(day, cfg.drift.performance_window_days + ds.label_delay_days)
        if d not in trained
    ]
    with_pred, _ = _split(store, PREDICTIONS, days)
    labelled = set(view.arrivals) if view is not None else set(store.partitions(LABELS))
    used = [d for d in days if d in set(with_pred) and d in labelled]
    missing = [d for d in days if d not in set(used)]
    if view is not None:
        joined_days = (view.joined(d, prediction_columns(cfg)) for d in used)
    else:
        joined_days = (_joined_day(store, cfg, d, champion_version) for d in used)
    frames = [f for f in joined_days if f is not None]
    cols = [*(prediction_columns(cfg) or [ds.id_column]), "model_version", ds.target]
    joined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    return joined, used, missing


def _joined_day(
    store: Store, cfg: PipelineConfig, day: date, model_version: str | None
) -> pd.DataFrame | None:
    """One day's predictions (of ``model_version``, or all) joined with its labels.

    None when the predictions file has no record batches (an empty partition).
    """
    import pandas as pd

    ds = cfg.dataset
    parts = list(_champion_predictions(store, [day], model_version, prediction_columns(cfg)))
    if not parts:
        return None
    labels = store.read_table(LABELS, day)[[ds.id_column, ds.target]]
    return pd.concat(parts, ignore_index=True).merge(labels, on=ds.id_column, how="inner")


def daily_metrics(
    store: Store,
    cfg: PipelineConfig,
    day: date,
    model_version: str | None = None,
    view: AsOf | None = None,
) -> dict[str, float | None] | None:
    """Live metrics of one day's predictions (of ``model_version``, or all) against its labels.

    None when the day has no predictions, no labels, or no rows of that model. ``view``: through
    the check's as-of view (its champion's predictions, the labels landed by its day).
    """
    if view is not None:
        joined = view.joined(day, prediction_columns(cfg))
        if joined is None or joined.empty:
            return None
        return live_metrics(cfg, joined)
    if not (store.partition_exists(PREDICTIONS, day) and store.partition_exists(LABELS, day)):
        return None
    joined = _joined_day(store, cfg, day, model_version)
    if joined is None or joined.empty:
        return None
    return live_metrics(cfg, joined)


def drift_days(
    store: Store, cfg: PipelineConfig, day: date, training_end: date | None = None
) -> tuple[list[date], list[date]]:
    """Validated days of the drift window (used, missing), skipping days the champion trained on."""
    days = [
        d for d in window(day, cfg.drift.window_days) if training_end is None or d > training_end
    ]
    return _split(store, VALIDATED, days)


# -- the daily check -----------------------------------------------------------------------------------
@dataclass
class MonitoringReport:
    """Everything the daily check found; ``to_dict()`` is the body of report.json."""

    day: str
    champion_version: str | None
    training_end: str | None
    drift: DriftResult
    performance: PerformanceResult
    drift_days_used: list[str]
    drift_days_missing: list[str]
    # The reference the drift was measured against (driftloop.monitor.reference.Reference.to_dict).
    reference: dict[str, Any] = field(default_factory=dict)

    def signals(self) -> Signals:
        """The inputs of the retrain policy."""
        pred = self.drift.prediction
        perf = self.performance
        return Signals(
            feature_drift=self.drift.dataset_drift,
            drifted_features=list(self.drift.drifted),
            critical_drifted=list(self.drift.critical_drifted),
            drift_share=self.drift.drift_share,
            prediction_drift=bool(pred and pred.drifted),
            prediction_psi=pred.psi if pred else None,
            performance_decay=perf.decayed,
            primary_metric=perf.primary_metric,
            holdout_value=perf.holdout.get(perf.primary_metric),
            live_value=perf.live.get(perf.primary_metric),
            insufficient_data=self.drift.status == "insufficient_data",
            insufficient_labels=perf.status == "insufficient_labels",
        )

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "day": self.day,
                "champion_version": self.champion_version,
                "training_end": self.training_end,
                "drift_days_used": self.drift_days_used,
                "drift_days_missing": self.drift_days_missing,
                "reference": self.reference,
                "drift": self.drift.to_dict(),
                "performance": self.performance.to_dict(),
                "signals": self.signals().to_dict(),
            }
        )


def check(
    cfg: PipelineConfig,
    day: str | date,
    profile: Profile,
    holdout_metrics: Mapping[str, float],
    champion_version: str | None,
    *,
    store: Store | None = None,
    training_end: str | date | None = None,
    trained_days: Collection[date] = (),
    view: AsOf | None = None,
) -> MonitoringReport:
    """Run the daily monitoring of ``day`` against the configured drift reference.

    ``profile`` is the champion's reference profile: the reference itself by default, and the bins
    of a seasonal reference (:mod:`driftloop.monitor.reference`). ``view``: the check's as-of view
    (the champion's predictions read once, the labels landed by ``day``).
    """
    from driftloop.core.storage import open_store
    from driftloop.monitor.reference import choose_reference

    store = store or open_store(cfg.storage)
    day = as_date(day)
    end = as_date(training_end) if training_end else None
    used, missing = drift_days(store, cfg, day, end)
    reference = choose_reference(cfg, store, day, used, profile, champion_version)
    if reference.fallback:
        log.warning("%s: drift reference: %s", day, reference.note)
    profile = reference.profile

    acc = Accumulator(profile)
    for batch in iter_batches(store, VALIDATED, used, columns=profile.feature_names):
        acc.update(batch)
    pred_days, _ = _split(store, PREDICTIONS, used)

    def champion_predictions(columns: list[str]) -> Iterator[pd.DataFrame]:
        if view is None:
            yield from _champion_predictions(store, pred_days, champion_version, columns)
            return
        for d in pred_days:
            found = view.predictions(d)
            if found is not None:
                yield found[columns]

    if profile.class_scores:
        names = [c.name for c in profile.class_scores]
        for df in champion_predictions(names):
            acc.update_class_scores(df)
    elif profile.score is not None:
        # Binary: the positive score; regression: the predicted value.
        column = PREDICTION if cfg.dataset.task == "regression" else SCORE
        for df in champion_predictions([column]):
            acc.update_scores(df[column])
    drift = detect(profile, acc, cfg)

    joined, perf_used, perf_missing = load_performance_window(
        store, cfg, day, champion_version, trained_days, view
    )
    perf = evaluate_performance(cfg, joined, holdout_metrics, champion_version)
    perf.days_used = [d.isoformat() for d in perf_used]
    perf.days_missing = [d.isoformat() for d in perf_missing]
    return MonitoringReport(
        day=day.isoformat(),
        champion_version=None if champion_version is None else str(champion_version),
        training_end=end.isoformat() if end else None,
        drift=drift,
        performance=perf,
        drift_days_used=[d.isoformat() for d in used],
        drift_days_missing=[d.isoformat() for d in missing],
        reference=reference.to_dict(),
    )


__all__ = [
    "BATCH_ROWS",
    "MonitoringReport",
    "PerformanceResult",
    "check",
    "daily_metrics",
    "drift_days",
    "evaluate_performance",
    "iter_batches",
    "live_metrics",
    "load_performance_window",
    "prediction_columns",
    "window",
]
