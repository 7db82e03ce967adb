"""The team's model function: driftloop calls ``build(spec)`` and fits what it returns.

ratios (the team's transformer) -> target-encoded categories + numbers -> LightGBM. driftloop stops
the boosting early on the last days of the training part (the last step is LightGBM).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sklearn.compose import ColumnTransformer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import TargetEncoder

from team_model.features import RatioFeatures

if TYPE_CHECKING:
    from driftloop.model.contract import ModelSpec

DEFAULTS: dict[str, Any] = {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31}


def build(spec: ModelSpec) -> Pipeline:
    """An unfitted pipeline for ``spec``; ``hyperparameters.ratios`` lists ``[a, b]`` pairs of
    numeric features, the rest are LightGBM's."""
    from lightgbm import LGBMClassifier, LGBMRegressor

    params = {**DEFAULTS, **spec.hyperparameters}
    ratios = RatioFeatures(pairs=tuple(tuple(p) for p in params.pop("ratios", ())))
    encode = ColumnTransformer(
        [
            ("numeric", "passthrough", [*spec.numeric_names, *ratios.ratio_names()]),
            (
                "categories",
                TargetEncoder(cv=KFold(5, shuffle=True, random_state=spec.random_state)),
                spec.categorical_names,
            ),
        ],
        verbose_feature_names_out=False,
    )
    booster = LGBMClassifier if spec.task != "regression" else LGBMRegressor
    return Pipeline(
        [
            ("ratios", ratios),
            ("encode", encode),
            ("model", booster(random_state=spec.random_state, verbose=-1, **params)),
        ]
    )
