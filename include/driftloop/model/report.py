"""What a training run logs to MLflow: parameters, metrics, dataset inputs, holdout spec, reference
profile, diagnostic plots, and the model itself (registered in the project's skops format).

:func:`driftloop.model.train.train_model` decides *what* to train; this module records it. Every
call names its run explicitly (a client and a run id).
"""

from __future__ import annotations

import functools
import time
import warnings
from datetime import date
from typing import TYPE_CHECKING, Any

from driftloop.core.logs import stderr_to_log
from driftloop.core.metrics import BINARY, DECISION_THRESHOLD, MULTICLASS, REGRESSION
from driftloop.core.partition import Partition
from driftloop.data.windows import frame_digest
from driftloop.model.pipeline import binary_target, model_classes, target
from driftloop.tracking.mlflow import HOLDOUT_ARTIFACT, MODEL_NAME_IN_RUN, PROFILE_ARTIFACT

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient
    from sklearn.pipeline import Pipeline

    from driftloop.core.config import PipelineConfig

# Permutation importance on at most this many holdout rows keeps the plot cheap.
_IMPORTANCE_ROWS = 1000


def log_training_run(
    client: MlflowClient,
    run_id: str,
    cfg: PipelineConfig,
    *,
    model: Pipeline,
    split: Any,
    holdout_output: np.ndarray,
    metrics: dict[str, float],
    params: dict[str, Any],
    partition_uris: list[str],
    store_labels_uri: str,
    profile_json: str,
    labels_as_of: date | None = None,
) -> None:
    """Params, metrics, dataset inputs, holdout spec, reference profile and plots of one run.

    The holdout spec keeps ``labels_as_of`` so the gate re-reads the same labelled rows.
    """
    from mlflow.entities import Metric, Param

    ds = cfg.dataset
    now_ms = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, now_ms, 0) for k, v in metrics.items()]
        + [
            Metric("n_train", float(len(split.train)), now_ms, 0),
            Metric("n_holdout", float(len(split.holdout)), now_ms, 0),
            *(Metric(k, v, now_ms, 0) for k, v in _holdout_summary(split.holdout, cfg).items()),
        ],
        params=[Param(k, str(v)) for k, v in params.items()],
    )

    columns = [ds.id_column, *ds.feature_names, ds.target]
    digests = {}
    inputs = []
    for part, days, context in (
        (split.train, split.train_partitions, "training"),
        (split.holdout, split.holdout_partitions, "holdout"),
    ):
        day_set = {Partition.of(d) for d in days}
        digests[context] = frame_digest(part, columns)
        dataset = _dataset(
            part[columns],
            source=partitions_source(
                [u for u in partition_uris if Partition.from_key(u) in day_set]
            ),
            targets=ds.target,
            name=f"{cfg.name}-{context}",
            digest=digests[context],
        )
        inputs.append(_dataset_input(dataset, context))
    client.log_inputs(run_id, datasets=inputs)

    holdout_spec = {
        "partitions": [d.isoformat() for d in split.holdout_partitions],
        "n_rows": len(split.holdout),
        "digest": digests["holdout"],
        "digest_columns": columns,
        "labels": store_labels_uri,
        "labels_as_of": labels_as_of.isoformat() if labels_as_of else None,
    }
    client.log_dict(run_id, holdout_spec, HOLDOUT_ARTIFACT)
    client.log_text(run_id, profile_json, PROFILE_ARTIFACT)
    for name, fig in holdout_figures(model, split.holdout, holdout_output, cfg).items():
        client.log_figure(run_id, fig, f"plots/{name}.png")
        _close(fig)


def _holdout_summary(holdout: pd.DataFrame, cfg: PipelineConfig) -> dict[str, float]:
    """A one-line description of the holdout's target: positive rate, class shares, or mean."""
    task = cfg.dataset.task
    if task == BINARY:
        return {"holdout_positive_rate": float(binary_target(holdout, cfg).mean())}
    if task == MULTICLASS:
        from driftloop.core.metrics import class_metric_name

        shares = holdout[cfg.dataset.target].astype(str).value_counts(normalize=True)
        return {class_metric_name("holdout_share_", c): float(v) for c, v in shares.items()}
    return {"holdout_target_mean": float(target(holdout, cfg).mean())}


# Rows a dataset's schema is inferred from (plus one row with a missing value per column that has any).
_SCHEMA_SAMPLE_ROWS = 1000


def schema_sample(frame: pd.DataFrame, rows: int = _SCHEMA_SAMPLE_ROWS) -> pd.DataFrame:
    """Rows of ``frame`` from which MLflow infers the schema it would infer from all of them.

    MLflow's inference looks at every element of object columns (seconds a million rows); the
    types come from any rows, and a column's ``required`` flag from whether any value is missing.
    So: evenly spaced rows, plus the first missing value of each column that has one.
    """
    import numpy as np

    picks = set(range(0, len(frame), max(1, len(frame) // rows)))
    missing = frame.isna()
    for name in frame.columns[missing.any().to_numpy()]:
        picks.add(int(np.argmax(missing[name].to_numpy())))
    return frame.iloc[sorted(picks)]


def _dataset(frame: pd.DataFrame, **kwargs: Any) -> Any:
    """An MLflow pandas dataset of ``frame`` whose schema is inferred on :func:`schema_sample`
    (its profile, row and element counts, and the given digest still describe the whole frame)."""
    from mlflow.data.pandas_dataset import PandasDataset
    from mlflow.types.utils import _infer_schema

    dataset = PandasDataset(frame, **kwargs)
    with warnings.catch_warnings():
        # A 0/1 target is an integer column on purpose; MLflow's hint about NaN-able integers
        # concerns model inputs, not this dataset record.
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        # ``schema`` is a cached property: filled here, MLflow never infers it over every row.
        dataset.__dict__["schema"] = _infer_schema(schema_sample(frame))
    return dataset


def _dataset_input(dataset: Any, context: str) -> Any:
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    return DatasetInput(
        dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)]
    )


def log_and_register_model(
    cfg: PipelineConfig, run_id: str, model: Pipeline, example: pd.DataFrame
) -> tuple[Any, list[str]]:
    """Log and register the fitted pipeline (skops format, with the types it needs).

    A model the project could not load back (types outside the project's list and the config's
    ``training.trusted_types``) is refused before anything is registered. Returns MLflow's model
    info (``registered_model_version``...) and the types the model needs (to record on the version).
    """
    import importlib.metadata as md

    import mlflow
    from mlflow.models import infer_signature

    from driftloop.model.model_io import SKOPS, check_registrable

    needed = check_registrable(model, cfg)
    # The signature names what scoring writes: P(positive), the class probabilities, or the value.
    if cfg.dataset.task == BINARY:
        output = model.predict_proba(example)[:, 1]
    elif cfg.dataset.task == MULTICLASS:
        import pandas as pd

        output = pd.DataFrame(model.predict_proba(example), columns=model_classes(model))
    else:
        output = model.predict(example)
    signature = infer_signature(example, output)
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
        info = mlflow.sklearn.log_model(
            model,
            name=MODEL_NAME_IN_RUN,
            run_id=run_id,
            signature=signature,
            input_example=example,
            pip_requirements=requirements,
            serialization_format=SKOPS,
            skops_trusted_types=needed,
            registered_model_name=cfg.model_name,
            await_registration_for=0,
        )
    return info, needed


# Permutation importance scores the drop of the task's headline metric (scikit-learn scorer names).
_IMPORTANCE_SCORING = {
    BINARY: ("roc_auc", "drop in ROC AUC when permuted"),
    MULTICLASS: ("f1_macro", "drop in macro F1 when permuted"),
    REGRESSION: ("neg_root_mean_squared_error", "rise in RMSE when permuted"),
}


def task_scorer(task: str) -> str:
    """The scikit-learn scorer of a task's headline metric (importance and search both use it)."""
    return _IMPORTANCE_SCORING[task][0]


def holdout_figures(
    model: Pipeline, holdout: pd.DataFrame, output: np.ndarray, cfg: PipelineConfig
) -> dict[str, Any]:
    """Diagnostic plots on the holdout, by task, plus permutation importance.

    binary: calibration, ROC, confusion matrix at the threshold; multiclass: confusion matrix
    (counts and row-normalised recall); regression: predicted vs actual and residuals.
    """
    import matplotlib

    matplotlib.use("Agg")
    task = cfg.dataset.task
    if task == BINARY:
        figs = _binary_figures(binary_target(holdout, cfg), output)
    elif task == MULTICLASS:
        figs = _multiclass_figures(target(holdout, cfg), output, model_classes(model))
    else:
        figs = _regression_figures(target(holdout, cfg), output)
    figs["feature_importance"] = _importance_figure(model, holdout, cfg)
    return figs


def _multiclass_figures(y: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict[str, Any]:
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import ConfusionMatrixDisplay

    predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    labels = sorted(set(classes) | {str(v) for v in y})
    figs: dict[str, Any] = {}
    for name, normalize, title in (
        ("confusion_matrix", None, "Confusion matrix (holdout)"),
        ("confusion_matrix_recall", "true", "Confusion matrix, share of each true class"),
    ):
        fig, ax = plt.subplots(figsize=(5, 4.5))
        ConfusionMatrixDisplay.from_predictions(
            y.astype(str), predicted.astype(str), labels=labels, normalize=normalize, ax=ax
        )
        ax.set_title(title)
        figs[name] = fig
    return figs


def _regression_figures(y: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    figs: dict[str, Any] = {}
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(y, predicted, s=4, alpha=0.4)
    lo, hi = float(min(y.min(), predicted.min())), float(max(y.max(), predicted.max()))
    ax.plot([lo, hi], [lo, hi], linestyle="--", color="grey", label="perfect")
    ax.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual (holdout)")
    ax.legend()
    figs["predicted_vs_actual"] = fig

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(predicted, y - predicted, s=4, alpha=0.4)
    ax.axhline(0, linestyle="--", color="grey")
    ax.set(xlabel="predicted", ylabel="actual - predicted", title="Residuals (holdout)")
    figs["residuals"] = fig
    return figs


def _binary_figures(y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

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
    return figs


def _importance_figure(model: Pipeline, holdout: pd.DataFrame, cfg: PipelineConfig) -> Any:
    import matplotlib.pyplot as plt
    from sklearn.inspection import permutation_importance

    sample = holdout.sample(
        n=min(len(holdout), _IMPORTANCE_ROWS), random_state=cfg.training.random_state
    )
    features = cfg.dataset.feature_names
    scoring, label = _IMPORTANCE_SCORING[cfg.dataset.task]
    imp = permutation_importance(
        model,
        sample[features],
        target(sample, cfg),
        scoring=scoring,
        n_repeats=2,
        random_state=cfg.training.random_state,
    )
    order = imp.importances_mean.argsort()
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(features) + 1.5))
    ax.barh(
        [features[i] for i in order], imp.importances_mean[order], xerr=imp.importances_std[order]
    )
    ax.set(xlabel=label, title="Permutation importance (holdout)")
    fig.tight_layout()
    return fig


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
    "holdout_figures",
    "log_and_register_model",
    "log_training_run",
    "partitions_source",
    "schema_sample",
    "task_scorer",
]
