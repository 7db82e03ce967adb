"""The built-in model families: implementations of the model contract (:mod:`.contract`).

Each takes a :class:`~driftloop.model.contract.ModelSpec` and returns an unfitted pipeline, exactly
like a team's own ``training.model`` function, so training, registration and scoring have one code
path. The scikit-learn families impute, scale and one-hot encode; LightGBM and XGBoost get the
categorical columns as integer codes and treat them as categories natively (no one-hot), with
missing and unseen categories as missing values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftloop.core.config import Algorithm
from driftloop.core.errors import EXIT_USAGE, DriftloopError
from driftloop.model.contract import ModelFunction, ModelSpec

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline


class InvalidParameter(DriftloopError, ValueError):
    """A run parameter cannot be used; the message names the parameter and what is wrong."""

    exit_code = EXIT_USAGE


def _one_hot(spec: ModelSpec) -> ColumnTransformer:
    """Median-impute and scale numbers; impute and one-hot encode categories."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                spec.numeric_names,
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                spec.categorical_names,
            ),
        ],
        verbose_feature_names_out=False,
    )


def category_codes(spec: ModelSpec) -> ColumnTransformer:
    """Numbers as they are (boosters handle NaN); categories as integer codes, NaN when missing or
    unseen. Output columns: the numeric features, then the categorical ones."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    codes = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
    )
    return ColumnTransformer(
        [
            ("numeric", "passthrough", spec.numeric_names),
            ("categorical", codes, spec.categorical_names),
        ],
        verbose_feature_names_out=False,
    )


def _pipeline(pre: Any, model: Any) -> Pipeline:
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", pre), ("model", model)])


def logistic_regression(spec: ModelSpec) -> Pipeline:
    """Logistic regression on one-hot features (a classifier only)."""
    from sklearn.linear_model import LogisticRegression

    if not spec.is_classifier:
        raise InvalidParameter(
            "algorithm: logistic_regression is a classifier; use linear (ridge) for regression"
        )
    return _pipeline(
        _one_hot(spec), LogisticRegression(random_state=spec.random_state, **spec.hyperparameters)
    )


def linear(spec: ModelSpec) -> Pipeline:
    """Logistic regression (classification) or ridge regression, on one-hot features."""
    from sklearn.linear_model import LogisticRegression, Ridge

    cls = LogisticRegression if spec.is_classifier else Ridge
    return _pipeline(_one_hot(spec), cls(random_state=spec.random_state, **spec.hyperparameters))


def gradient_boosting(spec: ModelSpec) -> Pipeline:
    """scikit-learn's histogram gradient boosting on one-hot features (the default family)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if spec.is_classifier else HistGradientBoostingRegressor
    return _pipeline(_one_hot(spec), cls(random_state=spec.random_state, **spec.hyperparameters))


def random_forest(spec: ModelSpec) -> Pipeline:
    """A random forest on one-hot features (one job: tasks share the worker's cores)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if spec.is_classifier else RandomForestRegressor
    return _pipeline(
        _one_hot(spec), cls(random_state=spec.random_state, n_jobs=1, **spec.hyperparameters)
    )


def lightgbm(spec: ModelSpec) -> Pipeline:
    """LightGBM on category codes; the trainer marks them categorical (:func:`fit_params`) and
    stops early on the training part's last days (:mod:`driftloop.model.fitting`)."""
    from lightgbm import LGBMClassifier, LGBMRegressor

    cls = LGBMClassifier if spec.is_classifier else LGBMRegressor
    params = {"verbose": -1, **spec.hyperparameters}
    return _pipeline(category_codes(spec), cls(random_state=spec.random_state, **params))


def xgboost(spec: ModelSpec) -> Pipeline:
    """XGBoost (hist) on category codes declared categorical through ``feature_types``."""
    from xgboost import XGBClassifier, XGBRegressor

    if spec.task == "multiclass":
        # XGBoost's scikit-learn API wants integer labels 0..k-1; driftloop's are class strings.
        raise InvalidParameter(
            "algorithm: xgboost takes binary or regression tasks here; use lightgbm for multiclass"
        )
    cls = XGBClassifier if spec.is_classifier else XGBRegressor
    types = ["q"] * len(spec.numeric) + ["c"] * len(spec.categorical)
    return _pipeline(
        category_codes(spec),
        cls(
            random_state=spec.random_state,
            feature_types=types,
            enable_categorical=True,
            **spec.hyperparameters,
        ),
    )


FAMILIES: dict[Algorithm, ModelFunction] = {
    Algorithm.LOGISTIC_REGRESSION: logistic_regression,
    Algorithm.LINEAR: linear,
    Algorithm.GRADIENT_BOOSTING: gradient_boosting,
    Algorithm.RANDOM_FOREST: random_forest,
    Algorithm.LIGHTGBM: lightgbm,
    Algorithm.XGBOOST: xgboost,
}


def fit_params(algorithm: Algorithm | str, spec: ModelSpec) -> dict[str, Any]:
    """Keyword arguments of ``Pipeline.fit`` a family needs: LightGBM is told which code columns
    are categories (its ``categorical_feature`` is a fit argument, not a parameter)."""
    if algorithm == Algorithm.LIGHTGBM and spec.categorical:
        first = len(spec.numeric)
        return {"model__categorical_feature": list(range(first, first + len(spec.categorical)))}
    return {}


__all__ = [
    "FAMILIES",
    "InvalidParameter",
    "category_codes",
    "fit_params",
    "gradient_boosting",
    "lightgbm",
    "linear",
    "logistic_regression",
    "random_forest",
    "xgboost",
]
