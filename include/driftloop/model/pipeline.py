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
from driftloop.core.metrics import BINARY, MULTICLASS, REGRESSION, metric_table
from driftloop.model.contract import build_estimator, model_function, model_spec
from driftloop.model.families import FAMILIES, InvalidParameter, fit_params

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# The configurable algorithms, by name (forms and the CLI offer these).
ALGORITHMS: tuple[str, ...] = tuple(a.value for a in Algorithm)

DEFAULT_HYPERPARAMETERS: dict[Algorithm, dict[str, Any]] = {
    Algorithm.LOGISTIC_REGRESSION: {"C": 1.0, "max_iter": 1000},
    Algorithm.GRADIENT_BOOSTING: {"max_iter": 150, "learning_rate": 0.1, "max_depth": 6},
    Algorithm.RANDOM_FOREST: {"n_estimators": 200, "max_depth": 12, "min_samples_leaf": 5},
    Algorithm.LINEAR: {"C": 1.0, "max_iter": 1000},
    # Up to 500 rounds: early stopping on the training part's last days picks the number.
    Algorithm.LIGHTGBM: {"n_estimators": 500, "learning_rate": 0.1, "num_leaves": 31},
    Algorithm.XGBOOST: {"n_estimators": 500, "learning_rate": 0.1, "max_depth": 6},
}
# Where a regressor's defaults differ from the classifier's (Ridge has no C nor max_iter to set).
REGRESSION_HYPERPARAMETERS: dict[Algorithm, dict[str, Any]] = {
    Algorithm.LINEAR: {"alpha": 1.0},
}
# Families that cannot learn a task (their function raises InvalidParameter for it).
_NOT_FOR_TASK: dict[str, set[Algorithm]] = {
    REGRESSION: {Algorithm.LOGISTIC_REGRESSION},
    MULTICLASS: {Algorithm.XGBOOST},
}


class CustomModel(str):
    """A ``training.model`` reference used where an :class:`Algorithm` would be: its ``value`` is
    the reference, so logs, tags and results name the team's function."""

    __slots__ = ()

    @property
    def value(self) -> str:
        return str(self)


# The model of one training: a built-in family or the team's function.
ModelChoice = Algorithm | CustomModel


def algorithms_for(task: str) -> tuple[str, ...]:
    """The algorithm names a task can train (logistic regression is a classifier only; XGBoost's
    scikit-learn API takes no class strings, so no multiclass)."""
    excluded = {a.value for a in _NOT_FOR_TASK.get(task, set())}
    return tuple(a for a in ALGORITHMS if a not in excluded)


def default_hyperparameters(algorithm: Algorithm, task: str = BINARY) -> dict[str, Any]:
    """The built-in hyperparameters of ``algorithm`` for ``task``."""
    if task == REGRESSION and algorithm in REGRESSION_HYPERPARAMETERS:
        return dict(REGRESSION_HYPERPARAMETERS[algorithm])
    return dict(DEFAULT_HYPERPARAMETERS[algorithm])


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


def choose_model(cfg: PipelineConfig, algorithm: str | None = None) -> ModelChoice:
    """The model a training uses: an explicit ``algorithm`` (a form, ``--algorithm``), else
    ``training.model`` when set, else ``training.algorithm``.

    Raises:
        InvalidParameter: the algorithm is unknown or cannot learn the task.
    """
    if algorithm is None and cfg.training.model is not None:
        return CustomModel(cfg.training.model)
    allowed = algorithms_for(cfg.dataset.task)
    name = str(algorithm or cfg.training.algorithm)
    if name not in allowed:
        raise InvalidParameter(
            f"algorithm: {algorithm!r} is not one of {', '.join(allowed)} (task {cfg.dataset.task})"
        )
    return Algorithm(name)


def resolved_hyperparameters(
    cfg: PipelineConfig, algorithm: ModelChoice, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Defaults < config (only when it configures the same model) < explicit overrides.

    A team's function has no defaults here: it gets ``training.hyperparameters`` and overrides.
    """
    if isinstance(algorithm, CustomModel):
        params = dict(cfg.training.hyperparameters)
    else:
        params = default_hyperparameters(algorithm, cfg.dataset.task)
        if cfg.training.model is None and algorithm == cfg.training.algorithm:
            params.update(cfg.training.hyperparameters)
    params.update(overrides or {})
    return params


def build_pipeline(
    cfg: PipelineConfig,
    algorithm: Algorithm | str | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> Any:
    """The unfitted estimator of ``cfg`` through the model contract (:mod:`.contract`).

    Built-in families (:mod:`.families`): preprocessing then a classifier for binary and multiclass
    or a regressor for regression. Hyperparameters are the family's defaults, overridden by the
    config, overridden by the call; an unknown name raises scikit-learn's own error.

    Raises:
        InvalidParameter: the algorithm cannot learn the task.
        ModelContractError: ``training.model`` cannot be imported, called, or returns no estimator.
    """
    choice = _choice(cfg, algorithm)
    params = resolved_hyperparameters(cfg, choice, hyperparameters)
    return _build(cfg, choice, params)


def _choice(cfg: PipelineConfig, algorithm: Algorithm | str | None) -> ModelChoice:
    # build_pipeline trusts a given family name (tests build any); check_parameters vets it.
    if algorithm is None:
        return choose_model(cfg)
    if isinstance(algorithm, CustomModel):
        return algorithm
    return Algorithm(algorithm)


def _build(cfg: PipelineConfig, choice: ModelChoice, params: dict[str, Any]) -> Any:
    spec = model_spec(cfg, params)
    if isinstance(choice, CustomModel):
        return build_estimator(model_function(cfg), spec)
    return FAMILIES[choice](spec)


def pipeline_fit_params(cfg: PipelineConfig, choice: ModelChoice) -> dict[str, Any]:
    """``fit`` keyword arguments of a model (a built-in family's; none for a team's function)."""
    if isinstance(choice, CustomModel):
        return {}
    return fit_params(choice, model_spec(cfg))


def check_parameters(
    cfg: PipelineConfig,
    algorithm: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> tuple[ModelChoice, dict[str, Any]]:
    """The model and hyperparameters a training would use, checked before any data is read.

    Catches what a trigger form cannot: an unknown algorithm, hyperparameter names the estimator does
    not have (e.g. ``learning_rate`` for logistic regression) and values scikit-learn rejects. For
    ``training.model``, the full contract check: it imports, is called with the spec, and returns
    an estimator with the task's methods (the function itself judges its hyperparameters).

    Raises:
        InvalidParameter: with a one-line message naming the parameter.
        ModelContractError: ``training.model`` fails the contract (one line naming the key).
    """
    choice = choose_model(cfg, algorithm)
    overrides = dict(hyperparameters or {})
    params = resolved_hyperparameters(cfg, choice, overrides)
    if isinstance(choice, CustomModel):
        _build(cfg, choice, params)
        return choice, params
    estimator = _build(cfg, choice, {}).named_steps["model"]
    known = set(estimator.get_params(deep=False))
    unknown = sorted(set(params) - known)
    if unknown:
        where = "hyperparameters" if set(unknown) & set(overrides) else "training.hyperparameters"
        raise InvalidParameter(
            f"{where}: {', '.join(map(repr, unknown))} not a parameter of {choice.value} "
            f"({type(estimator).__name__}); it has {', '.join(sorted(known))}"
        )
    estimator.set_params(**params)
    # scikit-learn's own value checks (LightGBM and XGBoost inherit the method, not the table).
    validate = getattr(estimator, "_validate_params", None)
    if validate is not None and hasattr(estimator, "_parameter_constraints"):
        try:
            validate()
        except (TypeError, ValueError) as err:
            raise InvalidParameter(f"hyperparameters: {err}".splitlines()[0]) from None
    return choice, params


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
    "CustomModel",
    "InvalidParameter",
    "ModelChoice",
    "algorithms_for",
    "binary_target",
    "build_pipeline",
    "check_parameters",
    "choose_model",
    "default_hyperparameters",
    "evaluate",
    "merge_hyperparameters",
    "model_classes",
    "pipeline_fit_params",
    "positive_scores",
    "predict_output",
    "resolved_hyperparameters",
    "target",
]
