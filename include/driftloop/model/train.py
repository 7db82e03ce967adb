"""Training: fit a scikit-learn pipeline on a labelled window and log everything to MLflow.

One call = one MLflow run in the pipeline's experiment: parameters, holdout metrics, diagnostic
plots, the training data as an MLflow dataset input, the reference profile for drift monitoring, and
the model itself, registered as a new version of ``cfg.model_name`` and given the ``challenger``
alias. Promotion is a separate decision (:mod:`driftloop.model.registry`); the whole sequence is
:mod:`driftloop.model.workflow`. Estimators come from :mod:`driftloop.model.pipeline`, what a run
logs from :mod:`driftloop.model.report`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from driftloop.core.config import PipelineConfig
from driftloop.core.metrics import (
    BINARY,
    DECISION_THRESHOLD,
    MULTICLASS,
    PREDICTION,
    SCORE,
    proba_column,
)
from driftloop.core.storage import LABELS, VALIDATED, as_date, open_store, partition_prefix
from driftloop.data.windows import (
    InsufficientData,
    split_shortfall,
    time_split,
    training_frame,
    training_window,
)
from driftloop.model import search
from driftloop.model.fitting import fit_model
from driftloop.model.pipeline import (
    CustomModel,
    InvalidParameter,
    build_pipeline,
    check_parameters,
    evaluate,
    model_classes,
    pipeline_fit_params,
    predict_output,
    target,
)
from driftloop.model.report import log_and_register_model, log_training_run
from driftloop.tracking.mlflow import (
    TAG_ALGORITHM,
    TAG_DAG_ID,
    TAG_DAG_RUN_ID,
    TAG_GIT_COMMIT,
    TAG_PARTITION_DATE,
    TAG_PARTITIONS,
    TAG_REASON,
    TAG_REPORT_URI,
    TAG_TASK_ID,
    ensure_experiment,
    git_commit,
    mark_failed_run,
    mlflow_client,
)

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a training run produced; small and JSON-friendly (it travels through XCom)."""

    run_id: str
    experiment_id: str
    model_name: str
    model_version: str
    model_uri: str
    partition_date: str
    algorithm: str
    metrics: dict[str, float]
    partitions: list[str]
    holdout_partitions: list[str]
    n_train: int
    n_holdout: int
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_model(
    cfg: PipelineConfig,
    end: date | str,
    *,
    window_days: int | None = None,
    since: date | str | None = None,
    algorithm: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
    reason: str = "manual",
    report_uri: str | None = None,
    airflow_context: dict[str, Any] | None = None,
    labels_as_of: date | None = None,
) -> TrainResult:
    """Train on the labelled window ending at ``end``, log the run, register a challenger version.

    Args:
        cfg: pipeline config.
        end: last day of the window (the run's partition date).
        window_days, algorithm, hyperparameters: override ``cfg.training``.
        since: first day of the window (e.g. a drift onset: train on the new regime only); wins
            over ``window_days``.
        reason: why this training happened (a drift report, "bootstrap", a person...).
        report_uri: the drift report that triggered the run, if any (kept as a tag).
        airflow_context: ``{"dag_id", "run_id", "task_id"}`` of the Airflow task, if any.
        labels_as_of: only labels landed by this day (a training a drift check of that day asked
            for: its window and holdout are the same in a backfill and a rerun); None: all.

    Raises:
        InvalidParameter: an unknown algorithm or hyperparameter, or ``since`` after ``end``.
        InsufficientData: the window has too few labelled rows/days, or a split lacks a class.
    """

    from driftloop import drift
    from driftloop.model import estimate, model_io, registry

    end = as_date(end)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    algo, params = check_parameters(cfg, algorithm, hyperparameters)
    if since is not None and as_date(since) > end:
        raise InvalidParameter(f"since: {since} is after the window end {end}")
    window = training_window(end, window_days or cfg.training.window_days, since)
    log.info(
        "training %s on the %d-day window ending %s (%s, %s)",
        algo.value,
        window,
        end,
        reason,
        ", ".join(f"{k}={v}" for k, v in sorted(params.items())),
    )
    frame, partitions = training_frame(cfg, end, window, labels_as_of)
    split = time_split(frame, partitions, cfg.training.holdout_days)
    short = split_shortfall(cfg, split, end, window)
    if short is not None:
        raise InsufficientData(short.detail)
    timings["load_seconds"] = time.perf_counter() - t0

    t = time.perf_counter()
    model = build_pipeline(cfg, algo, params)
    features = cfg.dataset.feature_names
    y_train = target(split.train, cfg)
    found: search.SearchResult | None = None
    if cfg.training.search is not None:
        found = search.run_search(
            cfg,
            model,
            split.train,
            y_train,
            builtin=not isinstance(algo, CustomModel),
            fit_params=pipeline_fit_params(cfg, algo),
        )
        model.set_params(**found.best_params)
        timings["search_seconds"] = found.seconds
    fitted = fit_model(model, split.train, y_train, features, pipeline_fit_params(cfg, algo))
    timings["fit_seconds"] = time.perf_counter() - t

    t = time.perf_counter()
    task = cfg.dataset.task
    holdout_output = predict_output(model, split.holdout, cfg)
    # Binary: both classes are in the holdout (checked above), so every metric is defined.
    metrics = evaluate(model, split.holdout, cfg)
    task_params: dict[str, Any] = {"task": task}
    classes: list[str] | None = None
    if task == MULTICLASS:
        classes = model_classes(model)
        task_params["classes"] = json.dumps(classes)
        profile = drift.build_profile(
            split.train[features],
            cfg,
            class_scores={proba_column(c): holdout_output[:, i] for i, c in enumerate(classes)},
        )
    else:
        if task == BINARY:
            task_params["decision_threshold"] = DECISION_THRESHOLD
        # Binary: the positive-class scores; regression: the predicted values.
        name = SCORE if task == BINARY else PREDICTION
        profile = drift.build_profile(
            split.train[features], cfg, scores=holdout_output, score_name=name
        )
    estimator = estimate.fit_for(cfg, split.holdout, holdout_output, classes)
    timings["evaluate_seconds"] = time.perf_counter() - t

    client = mlflow_client(cfg)
    experiment_id = ensure_experiment(client, cfg)
    store = open_store(cfg.storage)
    partition_uris = [store.uri(partition_prefix(VALIDATED, d)) for d in partitions]
    ctx = airflow_context or {}
    tags = {
        TAG_REASON: reason,
        TAG_PARTITION_DATE: end.isoformat(),
        TAG_PARTITIONS: json.dumps([d.isoformat() for d in partitions]),
        TAG_GIT_COMMIT: git_commit(),
        TAG_ALGORITHM: algo.value,
        **{k: str(v) for k, v in ((TAG_DAG_ID, ctx.get("dag_id")),) if v},
        **{k: str(v) for k, v in ((TAG_DAG_RUN_ID, ctx.get("run_id")),) if v},
        **{k: str(v) for k, v in ((TAG_TASK_ID, ctx.get("task_id")),) if v},
        **({TAG_REPORT_URI: report_uri} if report_uri else {}),
    }
    run = client.create_run(experiment_id, run_name=f"train-{end.isoformat()}", tags=tags)
    run_id = run.info.run_id
    version: str | None = None
    try:
        t = time.perf_counter()
        log_training_run(
            client,
            run_id,
            cfg,
            model=model,
            split=split,
            holdout_output=holdout_output,
            metrics=metrics,
            params={
                "algorithm": algo.value,
                "window_days": window,
                "window_end": end.isoformat(),
                "holdout_days": cfg.training.holdout_days,
                **task_params,
                "random_state": cfg.training.random_state,
                **{f"hp.{k}": v for k, v in sorted(params.items())},
                **{f"fit.{k}": v for k, v in sorted(fitted.items())},
                **(_search_params(cfg, found) if found else {}),
            },
            partition_uris=partition_uris,
            store_labels_uri=store.uri(LABELS),
            labels_as_of=labels_as_of,
            profile_json=profile.to_json(),
        )
        if found is not None:
            search.log_trials(client, experiment_id, run_id, found)
            client.log_metric(run_id, "search_seconds", found.seconds)
            client.log_metric(run_id, f"search_best_cv_{found.scoring}", found.best_score)
        # Performance estimation before labels (driftloop.model.estimate), JSON beside the profile.
        client.log_text(run_id, estimator.to_json(), estimate.ESTIMATOR_ARTIFACT)
        timings["log_run_seconds"] = time.perf_counter() - t

        t = time.perf_counter()
        info, needed = log_and_register_model(cfg, run_id, model, split.train[features].head(5))
        version = str(info.registered_model_version)
        model_io.record_checksum(cfg.tracking_uri(), cfg.model_name, version)
        model_io.record_trusted_types(cfg.tracking_uri(), cfg.model_name, version, needed)
        timings["log_model_seconds"] = time.perf_counter() - t

        registry.set_challenger(cfg, version)
        timings["total_seconds"] = time.perf_counter() - t0
        client.log_metric(run_id, "train_seconds", timings["total_seconds"])
        client.set_terminated(run_id, "FINISHED")
    except BaseException as err:
        mark_failed_run(client, cfg.model_name, run_id, version, err)
        raise
    log.info(
        "trained %s v%s on %d rows (%s..%s): %s",
        cfg.model_name,
        version,
        len(split.train),
        partitions[0],
        partitions[-1],
        {k: round(v, 4) for k, v in metrics.items()},
    )
    return TrainResult(
        run_id=run_id,
        experiment_id=experiment_id,
        model_name=cfg.model_name,
        model_version=version,
        model_uri=f"models:/{cfg.model_name}/{version}",
        partition_date=end.isoformat(),
        algorithm=algo.value,
        metrics=metrics,
        partitions=[d.isoformat() for d in partitions],
        holdout_partitions=[d.isoformat() for d in split.holdout_partitions],
        n_train=len(split.train),
        n_holdout=len(split.holdout),
        timings={k: round(v, 3) for k, v in timings.items()},
    )


def _search_params(cfg: PipelineConfig, found: search.SearchResult) -> dict[str, Any]:
    """What a run records of its search: the settings, the trials run, and the winner."""
    settings = cfg.training.search
    assert settings is not None  # a result exists only when the search is configured
    return {
        "search.method": settings.method,
        "search.n_trials": settings.n_trials,
        "search.trials_run": len(found.trials),
        "search.time_budget_seconds": settings.time_budget_seconds,
        **{f"search.best.{k}": v for k, v in sorted(found.best_params.items())},
    }


__all__ = ["TrainResult", "train_model"]
