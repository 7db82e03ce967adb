"""The model contract: what driftloop hands a model function and what it expects back.

A pipeline names its model either as a built-in family (``training.algorithm``) or as a team's own
function (``training.model: "package.module:function"``). Both are the same kind of thing: a
function taking a :class:`ModelSpec` and returning an *unfitted* scikit-learn-compatible estimator
(usually a ``sklearn.pipeline.Pipeline``)::

    def build(spec: ModelSpec) -> Estimator: ...

driftloop fits it on the feature columns of the training window (a pandas DataFrame, columns named
as in the config; categorical values are strings, missing values are NaN/None) and the target
(0/1 with 1 the positive label for binary, class strings for multiclass, floats for regression),
then scores with ``predict_proba`` (binary, multiclass) or ``predict`` (regression). Everything
downstream (holdout metrics, reference profile and drift, estimation, importance, gate, shadow,
scoring, monitoring) sees only that interface, so it treats a team's model like a built-in one.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from driftloop.core.config import ConfigError, FeatureType, PipelineConfig
from driftloop.core.metrics import MULTICLASS, REGRESSION
from driftloop.core.modules import config_folder, missing_module

MODEL_KEY = "training.model"


@dataclass(frozen=True)
class NumericFeature:
    """A numeric input column and the bounds the config declares for it (None: unbounded)."""

    name: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class CategoricalFeature:
    """A categorical input column (values are strings) and its declared categories, if any."""

    name: str
    categories: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ModelSpec:
    """Everything a model function may use to build its estimator; frozen, built from the config.

    Attributes:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        numeric: numeric features, in config order.
        categorical: categorical features, in config order.
        classes: multiclass: the configured labels (None: learnt from the window); binary: None
            (the target is 0/1, 1 the positive label); regression: None.
        random_state: ``training.random_state``: seed everything random with it.
        hyperparameters: ``training.hyperparameters`` merged with a run's overrides (a trigger
            form, ``--param``, or a search trial), read-only.
        feature_names: all input columns in config order (the DataFrame ``fit`` receives).
    """

    task: str
    numeric: tuple[NumericFeature, ...]
    categorical: tuple[CategoricalFeature, ...]
    classes: tuple[str, ...] | None
    random_state: int
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    feature_names: tuple[str, ...] = ()

    @property
    def numeric_names(self) -> list[str]:
        return [f.name for f in self.numeric]

    @property
    def categorical_names(self) -> list[str]:
        return [f.name for f in self.categorical]

    @property
    def is_classifier(self) -> bool:
        return self.task != REGRESSION


ModelFunction = Callable[[ModelSpec], Any]


def model_spec(cfg: PipelineConfig, hyperparameters: Mapping[str, Any] | None = None) -> ModelSpec:
    """The spec of ``cfg``'s model with ``hyperparameters`` (already merged by the caller)."""
    ds = cfg.dataset
    return ModelSpec(
        task=ds.task,
        numeric=tuple(
            NumericFeature(f.name, f.min, f.max)
            for f in ds.features
            if f.type is FeatureType.NUMERIC
        ),
        categorical=tuple(
            CategoricalFeature(f.name, tuple(f.categories) if f.categories else None)
            for f in ds.features
            if f.type is FeatureType.CATEGORICAL
        ),
        classes=tuple(ds.classes) if ds.task == MULTICLASS and ds.classes else None,
        random_state=cfg.training.random_state,
        hyperparameters=MappingProxyType(dict(hyperparameters or {})),
        feature_names=tuple(ds.feature_names),
    )


class ModelContractError(ConfigError):
    """``training.model`` cannot be used; the one-line message names the key (exit 2)."""


def make_importable(cfg: PipelineConfig) -> None:
    """Put the config's folder on ``sys.path`` (last) so its model module, and the classes a saved
    model refers to, import in training, scoring and loading alike."""
    folder = config_folder(cfg.source)
    if folder is not None and str(folder) not in sys.path:
        sys.path.append(str(folder))


def model_function(cfg: PipelineConfig) -> ModelFunction:
    """Import ``training.model``'s function.

    Raises:
        ModelContractError: the module cannot be found or imported, or the name is not callable.
    """
    ref = cfg.training.model
    if ref is None:
        raise ModelContractError(f"{MODEL_KEY}: not set")
    missing = missing_module(ref, cfg.source)
    if missing:
        raise ModelContractError(f"{MODEL_KEY}: {ref!r}: {missing}")
    make_importable(cfg)
    module_name, _, name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # a team's module may fail in any way; name it on one line
        first = str(err).splitlines()[0] if str(err) else ""
        raise ModelContractError(
            f"{MODEL_KEY}: importing {module_name!r} failed: {type(err).__name__}: {first}"
        ) from err
    func = getattr(module, name, None)
    if not callable(func):
        raise ModelContractError(f"{MODEL_KEY}: {module_name!r} has no function {name!r}")
    return func


def build_estimator(func: ModelFunction, spec: ModelSpec, what: str = MODEL_KEY) -> Any:
    """Call a model function and check what it returns fits the task.

    The estimator needs ``fit`` and ``predict_proba`` (binary, multiclass) or ``predict``
    (regression), and ``get_params`` (scikit-learn's ``clone``, used by search and importance).

    Raises:
        ModelContractError: the call fails or the estimator lacks a method; one line naming ``what``.
    """
    try:
        estimator = func(spec)
    except Exception as err:  # the team's code: report its error on one line, keep the cause
        first = str(err).splitlines()[0] if str(err) else ""
        raise ModelContractError(
            f"{what}: calling it failed: {type(err).__name__}: {first}"
        ) from err
    needed = ["fit", "get_params", "predict_proba" if spec.is_classifier else "predict"]
    lacking = [m for m in needed if not callable(getattr(estimator, m, None))]
    if lacking:
        raise ModelContractError(
            f"{what}: returned {type(estimator).__name__}, which has no {', '.join(lacking)} "
            f"(task {spec.task} needs an unfitted scikit-learn estimator with {', '.join(needed)})"
        )
    return estimator


def check_contract(cfg: PipelineConfig) -> str | None:
    """The full check of ``training.model`` (import, call, methods); None if fine or not set.

    Used by ``driftloop pipelines`` to report a broken model beside the config errors.
    """
    if cfg.training.model is None:
        return None
    try:
        build_estimator(model_function(cfg), model_spec(cfg, cfg.training.hyperparameters))
    except ModelContractError as err:
        return str(err)
    return None


__all__ = [
    "MODEL_KEY",
    "CategoricalFeature",
    "ModelContractError",
    "ModelFunction",
    "ModelSpec",
    "NumericFeature",
    "build_estimator",
    "check_contract",
    "make_importable",
    "model_function",
    "model_spec",
]
