"""Training: fit a scikit-learn pipeline on a labelled window and log everything to MLflow.

One call = one MLflow run in the pipeline's experiment: parameters, holdout metrics, diagnostic
plots, the training data as an MLflow dataset input, the reference profile for drift monitoring, and
the model itself, registered as a new version of ``cfg.model_name`` and given the ``challenger``
alias. Promotion is a separate decision (:mod:`driftloop.model.registry`).

MLflow calls name the run explicitly (``MlflowClient`` with a run id) instead of relying on the
active run, so concurrent trainings in one process cannot log into each other's runs.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

# METRICS: the gate's metric table; the config validates guard metrics against it.
from driftloop.core.config import METRICS, Algorithm, PipelineConfig, project_root
from driftloop.core.errors import EXIT_USAGE, DriftloopError
from driftloop.core.logs import stderr_to_log
from driftloop.core.storage import LABELS, VALIDATED, as_date, open_store, partition_prefix
from driftloop.data.windows import (
    PARTITION_COLUMN,
    InsufficientData,
    frame_digest,
    time_split,
    training_frame,
    training_window,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

LOWER_IS_BETTER = frozenset({"log_loss", "brier"})
DECISION_THRESHOLD = 0.5
HOLDOUT_ARTIFACT = "holdout/holdout.json"
PROFILE_ARTIFACT = "reference/reference_profile.json"
MODEL_NAME_IN_RUN = "model"
# Permutation importance on at most this many holdout rows keeps the plot cheap.
_IMPORTANCE_ROWS = 1000

TAG_REASON = "driftloop.trigger_reason"
TAG_PARTITIONS = "driftloop.partitions"
TAG_PARTITION_DATE = "driftloop.partition_date"
TAG_REPORT_URI = "driftloop.report_uri"
TAG_DAG_ID = "airflow.dag_id"
TAG_DAG_RUN_ID = "airflow.run_id"
TAG_TASK_ID = "airflow.task_id"
TAG_GIT_COMMIT = "mlflow.source.git.commit"
# On a version whose training run failed after registering it (no checksum or challenger alias
# may have been set): never to be promoted; the value says why.
TAG_ORPHAN = "driftloop.orphan"

_DEFAULT_HYPERPARAMETERS: dict[Algorithm, dict[str, Any]] = {
    Algorithm.LOGISTIC_REGRESSION: {"C": 1.0, "max_iter": 1000},
    Algorithm.GRADIENT_BOOSTING: {"max_iter": 150, "learning_rate": 0.1, "max_depth": 6},
    Algorithm.RANDOM_FOREST: {"n_estimators": 200, "max_depth": 12, "min_samples_leaf": 5},
}


class InvalidParameter(DriftloopError, ValueError):
    """A run parameter cannot be used; the message names the parameter and what is wrong."""

    exit_code = EXIT_USAGE


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


def build_pipeline(
    cfg: PipelineConfig,
    algorithm: Algorithm | str | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> Pipeline:
    """Preprocessing (impute + scale / impute + one-hot) followed by the configured classifier.

    Hyperparameters are the algorithm's defaults, overridden by the config, overridden by the call;
    an unknown name raises scikit-learn's own error when the estimator is built.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    algo = Algorithm(algorithm or cfg.training.algorithm)
    params = resolved_hyperparameters(cfg, algo, hyperparameters)
    ds = cfg.dataset
    pre = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                ds.numeric,
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                ds.categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    seed = cfg.training.random_state
    estimators = {
        Algorithm.LOGISTIC_REGRESSION: lambda: LogisticRegression(random_state=seed, **params),
        Algorithm.GRADIENT_BOOSTING: lambda: HistGradientBoostingClassifier(
            random_state=seed, **params
        ),
        Algorithm.RANDOM_FOREST: lambda: RandomForestClassifier(
            random_state=seed, n_jobs=1, **params
        ),
    }
    return Pipeline([("preprocess", pre), ("model", estimators[algo]())])


def check_parameters(
    cfg: PipelineConfig,
    algorithm: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> tuple[Algorithm, dict[str, Any]]:
    """The algorithm and hyperparameters a training would use, checked before any data is read.

    Catches what a trigger form cannot: an unknown algorithm, hyperparameter names the estimator does
    not have (e.g. ``learning_rate`` for logistic regression) and values scikit-learn rejects.

    Raises:
        InvalidParameter: with a one-line message naming the parameter.
    """
    try:
        algo = Algorithm(algorithm or cfg.training.algorithm)
    except ValueError:
        known = ", ".join(a.value for a in Algorithm)
        raise InvalidParameter(f"algorithm: {algorithm!r} is not one of {known}") from None
    overrides = dict(hyperparameters or {})
    params = resolved_hyperparameters(cfg, algo, overrides)
    estimator = build_pipeline(cfg, algo, {}).named_steps["model"]
    known = set(estimator.get_params(deep=False))
    unknown = sorted(set(params) - known)
    if unknown:
        where = "hyperparameters" if set(unknown) & set(overrides) else "training.hyperparameters"
        raise InvalidParameter(
            f"{where}: {', '.join(map(repr, unknown))} not a parameter of {algo.value} "
            f"({type(estimator).__name__}); it has {', '.join(sorted(known))}"
        )
    estimator.set_params(**params)
    validate = getattr(estimator, "_validate_params", None)  # scikit-learn's own value checks
    if validate is not None:
        try:
            validate()
        except (TypeError, ValueError) as err:
            raise InvalidParameter(f"hyperparameters: {err}".splitlines()[0]) from None
    return algo, params


def resolved_hyperparameters(
    cfg: PipelineConfig, algorithm: Algorithm, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Defaults < config (only when it configures the same algorithm) < explicit overrides."""
    params = dict(_DEFAULT_HYPERPARAMETERS[algorithm])
    if algorithm == cfg.training.algorithm:
        params.update(cfg.training.hyperparameters)
    params.update(overrides or {})
    return params


def holdout_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """The gate's metric set, from labels and positive-class probabilities."""
    from sklearn import metrics as m

    labels = (scores >= DECISION_THRESHOLD).astype(int)
    return {
        "roc_auc": float(m.roc_auc_score(y_true, scores)),
        "pr_auc": float(m.average_precision_score(y_true, scores)),
        "f1": float(m.f1_score(y_true, labels, zero_division=0)),
        "precision": float(m.precision_score(y_true, labels, zero_division=0)),
        "recall": float(m.recall_score(y_true, labels, zero_division=0)),
        "log_loss": float(m.log_loss(y_true, scores, labels=[0, 1])),
        "brier": float(m.brier_score_loss(y_true, scores)),
    }


def positive_scores(model: Any, frame: pd.DataFrame, cfg: PipelineConfig) -> np.ndarray:
    """P(target == positive_label) for the rows of ``frame``."""
    proba = model.predict_proba(frame[cfg.dataset.feature_names])
    classes = list(model.classes_)
    return proba[:, classes.index(cfg.dataset.positive_label)]


def binary_target(frame: pd.DataFrame, cfg: PipelineConfig) -> np.ndarray:
    return (frame[cfg.dataset.target] == cfg.dataset.positive_label).to_numpy(int)


def git_commit() -> str:
    """The checked-out commit of the project, or "unknown" (e.g. in an image without .git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_root(),
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        log.info("git commit unknown: %s", err)
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def mlflow_client(cfg: PipelineConfig) -> MlflowClient:
    """A client on the pipeline's tracking/registry store; also points the fluent API at it.

    ``log_model`` and ``load_model`` use the process-wide tracking URI, so it is set here too; every
    task of a pipeline uses the same URI, so sharing it across threads is harmless.
    """
    import mlflow

    # Bounded retries against an MLflow server (MLflow reads these per request); an MLFLOW_* variable
    # set in the environment wins.
    for name, value in (
        ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", cfg.mlflow.max_retries),
        ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", cfg.mlflow.retry_backoff),
        ("MLFLOW_HTTP_REQUEST_TIMEOUT", cfg.mlflow.request_timeout),
    ):
        os.environ.setdefault(name, str(value))
    uri = cfg.tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if not uri.startswith("sqlite:///") or uri in _READY_STORES:
        return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    # MLflow creates a SQLite store's tables on first use; two processes doing that at once on a
    # fresh file fail ("table ... already exists", alembic version mismatch): one at a time, once
    # per process. (Postgres stores are created by the deployment before any task runs.)
    from pathlib import Path

    from driftloop.core.locking import file_lock

    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(db.with_name(f"{db.name}.schema.lock"), 300, f"the schema set-up of {db}"):
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)  # the tracking store's tables
        client.search_registered_models(max_results=1)  # the registry store's
    _READY_STORES.add(uri)
    return client


_READY_STORES: set[str] = set()  # SQLite stores whose schema this process has seen ready


def ensure_experiment(client: MlflowClient, cfg: PipelineConfig) -> str:
    """The experiment id, creating it with the configured artifact location (never ./mlruns)."""
    exp = client.get_experiment_by_name(cfg.experiment_name)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(cfg.experiment_name, artifact_location=cfg.artifact_location())


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

    Raises:
        InvalidParameter: an unknown algorithm or hyperparameter, or ``since`` after ``end``.
        InsufficientData: the window has too few labelled rows/days, or a split lacks a class.
    """

    from driftloop import drift
    from driftloop.model import model_io, registry

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
    frame, partitions = training_frame(cfg, end, window)
    split = time_split(frame, partitions, cfg.training.holdout_days)
    for part, name in ((split.train, "training"), (split.holdout, "holdout")):
        if binary_target(part, cfg).min() == binary_target(part, cfg).max():
            raise InsufficientData(f"the {name} part of the window ending {end} has one class only")
    timings["load_seconds"] = time.perf_counter() - t0

    t = time.perf_counter()
    model = build_pipeline(cfg, algo, params)
    features = cfg.dataset.feature_names
    model.fit(split.train[features], binary_target(split.train, cfg))
    timings["fit_seconds"] = time.perf_counter() - t

    t = time.perf_counter()
    holdout_scores = positive_scores(model, split.holdout, cfg)
    metrics = holdout_metrics(binary_target(split.holdout, cfg), holdout_scores)
    profile = drift.build_profile(split.train[features], cfg, scores=holdout_scores)
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
        "driftloop.algorithm": algo.value,
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
        _log_run(
            client,
            run_id,
            cfg,
            model=model,
            split=split,
            holdout_scores=holdout_scores,
            metrics=metrics,
            params={
                "algorithm": algo.value,
                "window_days": window,
                "window_end": end.isoformat(),
                "holdout_days": cfg.training.holdout_days,
                "decision_threshold": DECISION_THRESHOLD,
                "random_state": cfg.training.random_state,
                **{f"hp.{k}": v for k, v in sorted(params.items())},
            },
            partition_uris=partition_uris,
            store_labels_uri=store.uri(LABELS),
            profile_json=profile.to_json(),
        )
        timings["log_run_seconds"] = time.perf_counter() - t

        t = time.perf_counter()
        info = _log_model(cfg, run_id, model, split.train[features].head(5))
        version = str(info.registered_model_version)
        model_io.record_checksum(cfg.tracking_uri(), cfg.model_name, version)
        timings["log_model_seconds"] = time.perf_counter() - t

        registry.set_challenger(cfg, version)
        timings["total_seconds"] = time.perf_counter() - t0
        client.log_metric(run_id, "train_seconds", timings["total_seconds"])
        client.set_terminated(run_id, "FINISHED")
    except BaseException as err:
        _mark_failed(client, cfg, run_id, version, err)
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


def _mark_failed(
    client: MlflowClient, cfg: PipelineConfig, run_id: str, version: str | None, err: BaseException
) -> None:
    """Best effort after a failed training: run FAILED; a version registered by it tagged orphan.

    Never masks ``err`` (MLflow may be the thing that failed): problems here are only logged.
    """
    steps = [("mark the run FAILED", lambda: client.set_terminated(run_id, "FAILED"))]
    if version is not None:
        why = f"its training run {run_id} failed after registration: {type(err).__name__}: {err}"
        steps.append(
            (
                f"tag v{version} as an orphan",
                lambda: client.set_model_version_tag(
                    cfg.model_name, version, TAG_ORPHAN, why.splitlines()[0][:500]
                ),
            )
        )
    for what, step in steps:
        try:
            step()
        except Exception as problem:  # reported, and the training's own error is raised
            log.warning("could not %s: %s", what, problem)


def _log_run(
    client: MlflowClient,
    run_id: str,
    cfg: PipelineConfig,
    *,
    model: Pipeline,
    split: Any,
    holdout_scores: np.ndarray,
    metrics: dict[str, float],
    params: dict[str, Any],
    partition_uris: list[str],
    store_labels_uri: str,
    profile_json: str,
) -> None:
    """Params, metrics, dataset inputs, holdout spec, reference profile and plots of one run."""
    import mlflow
    from mlflow.entities import Metric, Param

    ds = cfg.dataset
    now_ms = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, now_ms, 0) for k, v in metrics.items()]
        + [
            Metric("n_train", float(len(split.train)), now_ms, 0),
            Metric("n_holdout", float(len(split.holdout)), now_ms, 0),
            Metric(
                "holdout_positive_rate", float(binary_target(split.holdout, cfg).mean()), now_ms, 0
            ),
        ],
        params=[Param(k, str(v)) for k, v in params.items()],
    )

    columns = [ds.id_column, *ds.feature_names, ds.target]
    inputs = []
    for part, days, context in (
        (split.train, split.train_partitions, "training"),
        (split.holdout, split.holdout_partitions, "holdout"),
    ):
        day_set = {d.isoformat() for d in days}
        with warnings.catch_warnings():
            # The 0/1 target is an integer column on purpose; MLflow's hint about NaN-able
            # integers concerns model inputs, not this dataset record. (The schema is inferred
            # lazily, when the dataset is turned into a run input: that call is inside too.)
            warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
            dataset = mlflow.data.from_pandas(
                part[columns],
                source=partitions_source([u for u in partition_uris if u[-10:] in day_set]),
                targets=ds.target,
                name=f"{cfg.name}-{context}",
                digest=frame_digest(part, columns),
            )
            inputs.append(_dataset_input(dataset, context))
    client.log_inputs(run_id, datasets=inputs)

    holdout_spec = {
        "partitions": [d.isoformat() for d in split.holdout_partitions],
        "n_rows": len(split.holdout),
        "digest": frame_digest(split.holdout, columns),
        "digest_columns": columns,
        "labels": store_labels_uri,
    }
    client.log_dict(run_id, holdout_spec, HOLDOUT_ARTIFACT)
    client.log_text(run_id, profile_json, PROFILE_ARTIFACT)
    for name, fig in _figures(model, split.holdout, holdout_scores, cfg).items():
        client.log_figure(run_id, fig, f"plots/{name}.png")
        _close(fig)


def _dataset_input(dataset: Any, context: str) -> Any:
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    return DatasetInput(
        dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)]
    )


def _log_model(cfg: PipelineConfig, run_id: str, model: Pipeline, example: pd.DataFrame) -> Any:
    """Log and register the fitted pipeline (skops format, with the project's trusted types).

    A model the project could not load back (types outside the project's list) is refused before
    anything is registered.
    """
    import importlib.metadata as md

    import mlflow
    from mlflow.models import infer_signature

    from driftloop.model.model_io import PROJECT_TRUSTED_TYPES, SKOPS, check_registrable

    check_registrable(model)
    signature = infer_signature(example, model.predict_proba(example)[:, 1])
    # An explicit requirement list: inferring one imports the model in a subprocess (seconds).
    requirements = [
        f"{pkg}=={md.version(pkg)}"
        for pkg in ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "skops")
    ]
    # log_model files the MLflow 3 "logged model" under the *active* experiment (the Default one,
    # with artifacts in ./mlruns, when no run is active) even when given a run_id: activate the run.
    # The active-run stack is thread-local in MLflow 3, so this does not leak into other threads.
    # Registration prints its progress to stderr (which Airflow records as ERROR): log it as INFO.
    with (
        mlflow.start_run(run_id=run_id, nested=mlflow.active_run() is not None),
        stderr_to_log("mlflow"),
    ):
        return mlflow.sklearn.log_model(
            model,
            name=MODEL_NAME_IN_RUN,
            run_id=run_id,
            signature=signature,
            input_example=example,
            pip_requirements=requirements,
            serialization_format=SKOPS,
            skops_trusted_types=list(PROJECT_TRUSTED_TYPES),
            registered_model_name=cfg.model_name,
            await_registration_for=0,
        )


def _figures(
    model: Pipeline, holdout: pd.DataFrame, scores: np.ndarray, cfg: PipelineConfig
) -> dict[str, Any]:
    """Calibration, ROC, confusion matrix and permutation importance on the holdout."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

    y = binary_target(holdout, cfg)
    figs: dict[str, Any] = {}

    fig, ax = plt.subplots(figsize=(5, 5))
    frac_pos, mean_pred = calibration_curve(y, scores, n_bins=10, strategy="quantile")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.plot(mean_pred, frac_pos, marker="o", label="model")
    ax.set(
        xlabel="mean predicted probability",
        ylabel="observed positive rate",
        title="Calibration (holdout)",
    )
    ax.legend()
    figs["calibration"] = fig

    fig, ax = plt.subplots(figsize=(5, 5))
    RocCurveDisplay.from_predictions(y, scores, ax=ax)
    ax.set_title("ROC (holdout)")
    figs["roc_curve"] = fig

    fig, ax = plt.subplots(figsize=(5, 4))
    ConfusionMatrixDisplay.from_predictions(y, (scores >= DECISION_THRESHOLD).astype(int), ax=ax)
    ax.set_title(f"Confusion matrix at {DECISION_THRESHOLD} (holdout)")
    figs["confusion_matrix"] = fig

    sample = holdout.sample(
        n=min(len(holdout), _IMPORTANCE_ROWS), random_state=cfg.training.random_state
    )
    features = cfg.dataset.feature_names
    imp = permutation_importance(
        model,
        sample[features],
        binary_target(sample, cfg),
        scoring="roc_auc",
        n_repeats=2,
        random_state=cfg.training.random_state,
    )
    order = imp.importances_mean.argsort()
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(features) + 1.5))
    ax.barh(
        [features[i] for i in order], imp.importances_mean[order], xerr=imp.importances_std[order]
    )
    ax.set(xlabel="drop in ROC AUC when permuted", title="Permutation importance (holdout)")
    fig.tight_layout()
    figs["feature_importance"] = fig
    return figs


def _close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


@functools.cache
def _partition_source_class() -> type:
    from mlflow.data.dataset_source import DatasetSource

    class _PartitionsSource(DatasetSource):
        """The storage partitions a dataset was read from (one URI per day)."""

        def __init__(self, uris: list[str]) -> None:
            self.uris = list(uris)

        @staticmethod
        def _get_source_type() -> str:
            return "driftloop_partitions"

        def load(self, **kwargs: Any) -> list[str]:
            return self.uris

        @staticmethod
        def _can_resolve(raw_source: Any) -> bool:
            return False

        @classmethod
        def _resolve(cls, raw_source: Any) -> _PartitionsSource:
            raise NotImplementedError

        def to_dict(self) -> dict[str, Any]:
            return {"uris": self.uris}

        @classmethod
        def from_dict(cls, source_dict: dict[Any, Any]) -> _PartitionsSource:
            return cls(source_dict.get("uris", []))

    return _PartitionsSource


def partitions_source(uris: list[str]) -> Any:
    """An MLflow dataset source listing partition URIs (built lazily: mlflow imports are heavy)."""
    return _partition_source_class()(uris)


__all__ = [
    "METRICS",
    "PARTITION_COLUMN",
    "TrainResult",
    "build_pipeline",
    "holdout_metrics",
    "train_model",
]
