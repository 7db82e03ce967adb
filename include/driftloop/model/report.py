"""What a training run logs to MLflow: parameters, metrics, dataset inputs, holdout spec, reference
profile, diagnostic plots, and the model itself (registered in the project's skops format).

:func:`driftloop.model.train.train_model` decides *what* to train; this module records it. Every
call names its run explicitly (a client and a run id).
"""

from __future__ import annotations

import functools
import time
import warnings
from typing import TYPE_CHECKING, Any

from driftloop.core.logs import stderr_to_log
from driftloop.core.metrics import DECISION_THRESHOLD
from driftloop.core.partition import Partition
from driftloop.data.windows import frame_digest
from driftloop.model.pipeline import binary_target
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
    holdout_scores: np.ndarray,
    metrics: dict[str, float],
    params: dict[str, Any],
    partition_uris: list[str],
    store_labels_uri: str,
    profile_json: str,
) -> None:
    """Params, metrics, dataset inputs, holdout spec, reference profile and plots of one run."""
    from mlflow.data.pandas_dataset import from_pandas
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
        day_set = {Partition.of(d) for d in days}
        with warnings.catch_warnings():
            # The 0/1 target is an integer column on purpose; MLflow's hint about NaN-able
            # integers concerns model inputs, not this dataset record. (The schema is inferred
            # lazily, when the dataset is turned into a run input: that call is inside too.)
            warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
            dataset = from_pandas(
                part[columns],
                source=partitions_source(
                    [u for u in partition_uris if Partition.from_key(u) in day_set]
                ),
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
    for name, fig in holdout_figures(model, split.holdout, holdout_scores, cfg).items():
        client.log_figure(run_id, fig, f"plots/{name}.png")
        _close(fig)


def _dataset_input(dataset: Any, context: str) -> Any:
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    return DatasetInput(
        dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)]
    )


def log_and_register_model(
    cfg: PipelineConfig, run_id: str, model: Pipeline, example: pd.DataFrame
) -> Any:
    """Log and register the fitted pipeline (skops format, with the project's trusted types).

    A model the project could not load back (types outside the project's list) is refused before
    anything is registered. Returns MLflow's model info (``registered_model_version``...).
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


def holdout_figures(
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


__all__ = ["holdout_figures", "log_and_register_model", "log_training_run", "partitions_source"]
