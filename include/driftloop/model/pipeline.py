"""Estimators from the config: the scikit-learn pipeline, its hyperparameters and their checks.

Hyperparameters are the algorithm's defaults (:data:`DEFAULT_HYPERPARAMETERS`), overridden by the
config (when it configures the same algorithm), overridden by the call. A trigger form or the CLI
gives overrides as a JSON object plus a few named fields (``max_depth``, ``learning_rate``):
:func:`merge_hyperparameters` turns them into one dict, the same way for every caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from driftloop.core.config import Algorithm, PipelineConfig
from driftloop.core.errors import EXIT_USAGE, DriftloopError
from driftloop.core.metrics import BINARY, MULTICLASS, REGRESSION, metric_table

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline

# The configurable algorithms, by name (forms and the CLI offer these).
ALGORITHMS: tuple[str, ...] = tuple(a.value for a in Algorithm)

DEFAULT_HYPERPARAMETERS: dict[Algorithm, dict[str, Any]] = {
    Algorithm.LOGISTIC_REGRESSION: {"C": 1.0, "max_iter": 1000},
    Algorithm.GRADIENT_BOOSTING: {"max_iter": 150, "learning_rate": 0.1, "max_depth": 6},
    Algorithm.RANDOM_FOREST: {"n_estimators": 200, "max_depth": 12, "min_samples_leaf": 5},
    Algorithm.LINEAR: {"C": 1.0, "max_iter": 1000},
}
# Where a regressor's defaults differ from the classifier's (Ridge has no C nor max_iter to set).
REGRESSION_HYPERPARAMETERS: dict[Algorithm, dict[str, Any]] = {
    Algorithm.LINEAR: {"alpha": 1.0},
}


def algorithms_for(task: str) -> tuple[str, ...]:
    """The algorithm names a task can train (logistic regression is a classifier only)."""
    if task == REGRESSION:
        return tuple(a for a in ALGORITHMS if a != Algorithm.LOGISTIC_REGRESSION.value)
    return ALGORITHMS


def default_hyperparameters(algorithm: Algorithm, task: str = BINARY) -> dict[str, Any]:
    """The built-in hyperparameters of ``algorithm`` for ``task``."""
    if task == REGRESSION and algorithm in REGRESSION_HYPERPARAMETERS:
        return dict(REGRESSION_HYPERPARAMETERS[algorithm])
    return dict(DEFAULT_HYPERPARAMETERS[algorithm])


class InvalidParameter(DriftloopError, ValueError):
    """A run parameter cannot be used; the message names the parameter and what is wrong."""

    exit_code = EXIT_USAGE


def merge_hyperparameters(
    hyperparameters: Mapping[str, Any] | None = None,
    *,
    max_depth: int | None = None,
    learning_rate: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The overrides of one training request as one dict.

    ``hyperparameters`` (a JSON object from a form or ``--hyperparameters``; null values mean "not
    given" and are dropped), then ``extra`` (e.g. ``--param k=v`` pairs), then the named fields
    ``max_depth`` and ``learning_rate`` when given.
    """
    out = {k: v for k, v in (hyperparameters or {}).items() if v is not None}
    out.update(extra or {})
    out.update(
        {
            k: v
            for k, v in (("max_depth", max_depth), ("learning_rate", learning_rate))
            if v is not None
        }
    )
    return out


def resolved_hyperparameters(
    cfg: PipelineConfig, algorithm: Algorithm, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Defaults < config (only when it configures the same algorithm) < explicit overrides."""
    params = default_hyperparameters(algorithm, cfg.dataset.task)
    if algorithm == cfg.training.algorithm:
        params.update(cfg.training.hyperparameters)
    params.update(overrides or {})
    return params


def build_pipeline(
    cfg: PipelineConfig,
    algorithm: Algorithm | str | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> Pipeline:
    """Preprocessing (impute + scale / impute + one-hot) followed by the configured estimator.

    The estimator is a classifier for binary and multiclass tasks and a regressor for regression
    (gradient boosting and random forest as either; ``linear`` is a logistic regression or a ridge
    regression; ``logistic_regression`` is a classifier only). Hyperparameters are the algorithm's defaults, overridden by the config, overridden by the call;
    an unknown name raises scikit-learn's own error when the estimator is built.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
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
    if cfg.dataset.task == REGRESSION:
        if algo == Algorithm.LOGISTIC_REGRESSION:
            raise InvalidParameter(
                "algorithm: logistic_regression is a classifier; use linear (ridge) for regression"
            )
        estimators = {
            Algorithm.LINEAR: lambda: Ridge(random_state=seed, **params),
            Algorithm.GRADIENT_BOOSTING: lambda: HistGradientBoostingRegressor(
                random_state=seed, **params
            ),
            Algorithm.RANDOM_FOREST: lambda: RandomForestRegressor(
                random_state=seed, n_jobs=1, **params
            ),
        }
    else:
        estimators = {
            Algorithm.LOGISTIC_REGRESSION: lambda: LogisticRegression(random_state=seed, **params),
            Algorithm.LINEAR: lambda: LogisticRegression(random_state=seed, **params),
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
    allowed = algorithms_for(cfg.dataset.task)
    name = str(algorithm or cfg.training.algorithm)
    if name not in allowed:
        raise InvalidParameter(
            f"algorithm: {algorithm!r} is not one of {', '.join(allowed)} (task {cfg.dataset.task})"
        )
    algo = Algorithm(name)
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


def positive_scores(model: Any, frame: pd.DataFrame, cfg: PipelineConfig) -> np.ndarray:
    """P(target == positive_label) for the rows of ``frame``."""
    proba = model.predict_proba(frame[cfg.dataset.feature_names])
    classes = list(model.classes_)
    return proba[:, classes.index(cfg.dataset.positive_label)]


def binary_target(frame: pd.DataFrame, cfg: PipelineConfig) -> np.ndarray:
    """The target column as 0/1 (1: the positive label)."""
    return (frame[cfg.dataset.target] == cfg.dataset.positive_label).to_numpy(int)


def target(frame: pd.DataFrame, cfg: PipelineConfig) -> np.ndarray:
    """The target as the task's estimator learns it: 0/1, class strings, or floats."""
    import numpy as np

    task = cfg.dataset.task
    if task == BINARY:
        return binary_target(frame, cfg)
    if task == MULTICLASS:
        return np.asarray(frame[cfg.dataset.target].astype(str).to_numpy(), dtype=object)
    return frame[cfg.dataset.target].to_numpy(float)


def model_classes(model: Any) -> list[str]:
    """The classes of a fitted multiclass model, as strings, in its probability-column order."""
    return [str(c) for c in model.classes_]


def predict_output(model: Any, frame: pd.DataFrame, cfg: PipelineConfig) -> np.ndarray:
    """What the task's metrics are computed on: positive-class scores (binary), the probability
    matrix in :func:`model_classes` order (multiclass), or predicted values (regression)."""
    task = cfg.dataset.task
    if task == BINARY:
        return positive_scores(model, frame, cfg)
    x = frame[cfg.dataset.feature_names]
    if task == MULTICLASS:
        return model.predict_proba(x)
    return model.predict(x).astype(float)


def evaluate(model: Any, frame: pd.DataFrame, cfg: PipelineConfig) -> dict[str, float]:
    """The task's defined metrics of ``model`` on the labelled rows of ``frame``."""
    output = predict_output(model, frame, cfg)
    classes = model_classes(model) if cfg.dataset.task == MULTICLASS else None
    return metric_table(cfg.dataset.task).defined(target(frame, cfg), output, classes=classes)


__all__ = [
    "ALGORITHMS",
    "DEFAULT_HYPERPARAMETERS",
    "REGRESSION_HYPERPARAMETERS",
    "InvalidParameter",
    "algorithms_for",
    "binary_target",
    "build_pipeline",
    "check_parameters",
    "default_hyperparameters",
    "evaluate",
    "merge_hyperparameters",
    "model_classes",
    "positive_scores",
    "predict_output",
    "resolved_hyperparameters",
    "target",
]
