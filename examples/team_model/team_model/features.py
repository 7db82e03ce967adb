"""The team's own feature engineering: ratios of numeric columns.

A class of the team's own, so a saved model holds it: its pipeline config declares
``team_model.features.RatioFeatures`` in ``training.trusted_types``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class RatioFeatures(TransformerMixin, BaseEstimator):
    """Adds ``<a>_per_<b>`` = a / b for each ``(a, b)`` in ``pairs`` (NaN where b is 0 or missing).

    Keeps every input column, so the steps after it can select by name.
    """

    def __init__(self, pairs: tuple[tuple[str, str], ...] = ()) -> None:
        self.pairs = pairs

    def fit(self, x: pd.DataFrame, y: Any = None) -> RatioFeatures:
        missing = sorted({c for pair in self.pairs for c in pair} - set(x.columns))
        if missing:
            raise ValueError(f"RatioFeatures: columns not in the data: {missing}")
        self.n_features_in_ = x.shape[1]
        return self

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        out = x.copy()
        for a, b in self.pairs:
            den = pd.to_numeric(out[b], errors="coerce").astype(float).replace(0.0, np.nan)
            out[f"{a}_per_{b}"] = pd.to_numeric(out[a], errors="coerce").astype(float) / den
        return out

    def ratio_names(self) -> list[str]:
        return [f"{a}_per_{b}" for a, b in self.pairs]
