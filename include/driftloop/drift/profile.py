"""Reference profiles: the champion's training data (and scores) in a few kilobytes of JSON.

Numeric features keep a quantile sketch (the fine grid for Wasserstein) and coarse drift bins; categoricals
their category shares; both count missing values. Built in one streaming pass over frames or Arrow batches.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from driftloop.drift import columns

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig

PROFILE_VERSION = 1
SKETCH_LEVELS = 100  # reference quantile sketch: percentiles 0..100
MISSING = "__missing__"
UNSEEN = "__unseen__"
SCORE = "score"


# -- profiles ------------------------------------------------------------------------------------
@dataclass
class NumericProfile:
    """Reference summary of one numeric column.

    ``edges`` are the inner edges of the drift bins (right-closed: bin i holds
    ``edges[i-1] < x <= edges[i]``, the outer bins are open-ended). ``grid`` is the finer grid (the
    deduplicated percentiles, a superset of ``edges``) used for the Wasserstein approximation, with
    ``grid_counts`` laid out the same way (len(grid) + 1 bins).
    """

    name: str
    edges: list[float]
    counts: list[int]
    grid: list[float]
    grid_counts: list[int]
    missing: int
    quantiles: list[float]
    scale: float
    type: str = "numeric"

    @property
    def n(self) -> int:
        """Non-missing reference rows."""
        return int(sum(self.counts))

    def bin_labels(self) -> list[str]:
        e = self.edges
        if not e:
            return ["all", MISSING]
        labels = [f"≤{e[0]:.4g}"]
        labels += [f"({a:.4g}, {b:.4g}]" for a, b in itertools.pairwise(e)]
        return [*labels, f">{e[-1]:.4g}", MISSING]


@dataclass
class CategoricalProfile:
    """Reference frequencies of one categorical column (plus unseen and missing buckets)."""

    name: str
    categories: list[str]
    counts: list[int]
    missing: int
    type: str = "categorical"

    def bin_labels(self) -> list[str]:
        return [*self.categories, UNSEEN, MISSING]


FeatureProfile = NumericProfile | CategoricalProfile


@dataclass
class Profile:
    """The reference profile of a model's training data: what drift is measured against."""

    n_rows: int
    features: list[FeatureProfile]
    score: NumericProfile | None = None
    version: int = PROFILE_VERSION
    # Multiclass: one profile per class-probability column (``proba_<class>``), in class order.
    class_scores: list[NumericProfile] = field(default_factory=list)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def feature_types(self) -> dict[str, str]:
        return {f.name: f.type for f in self.features}

    def feature(self, name: str) -> FeatureProfile:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "n_rows": self.n_rows,
            "features": [asdict(f) for f in self.features],
            "score": asdict(self.score) if self.score is not None else None,
            **(
                {"class_scores": [asdict(c) for c in self.class_scores]}
                if self.class_scores
                else {}
            ),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        version = int(data.get("version", 0))
        if version != PROFILE_VERSION:
            raise ValueError(
                f"reference profile version {version} is not supported (expected {PROFILE_VERSION})"
            )
        feats: list[FeatureProfile] = []
        for f in data["features"]:
            kind = f.get("type")
            if kind == "numeric":
                feats.append(NumericProfile(**f))
            elif kind == "categorical":
                feats.append(CategoricalProfile(**f))
            else:
                raise ValueError(f"reference profile: feature {f.get('name')!r} has type {kind!r}")
        score = NumericProfile(**data["score"]) if data.get("score") else None
        class_scores = [NumericProfile(**c) for c in data.get("class_scores") or []]
        return cls(
            n_rows=int(data["n_rows"]),
            features=feats,
            score=score,
            version=version,
            class_scores=class_scores,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Profile:
        return cls.from_dict(json.loads(text))


# -- building a profile ----------------------------------------------------------------------------
def _numeric_profile(name: str, values: np.ndarray, bins: int) -> NumericProfile:
    # One sort serves the quantiles and all bin counts (searching edges in sorted values).
    ordered = np.sort(values[~np.isnan(values)])
    missing = int(values.size - ordered.size)
    finite = ordered[np.isfinite(ordered)]  # a view: ±inf sit at the ends of a sorted array
    if finite.size == 0:
        n = int(ordered.size)
        return NumericProfile(name, [], [n], [], [n], missing, [], 1.0)
    quantiles = _sorted_quantiles(finite, np.linspace(0, 1, SKETCH_LEVELS + 1))
    edges = np.unique(_sorted_quantiles(finite, np.arange(1, bins) / bins))
    grid = np.unique(np.concatenate([quantiles, edges]))
    iqr = float(
        _sorted_quantiles(finite, np.array([0.75]))[0]
        - _sorted_quantiles(finite, np.array([0.25]))[0]
    )
    scale = iqr if iqr > 0 else float(np.std(finite)) or 1.0
    return NumericProfile(
        name=name,
        edges=[float(x) for x in edges],
        counts=columns.sorted_bincount(ordered, edges).tolist(),
        grid=[float(x) for x in grid],
        grid_counts=columns.sorted_bincount(ordered, grid).tolist(),
        missing=missing,
        quantiles=[float(x) for x in quantiles],
        scale=scale,
    )


def _sorted_quantiles(ordered: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """numpy's default ("linear") quantiles of an already sorted array, without re-partitioning."""
    pos = levels * (ordered.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, ordered.size - 1)
    return ordered[lo] + (pos - lo) * (ordered[hi] - ordered[lo])


def build_profile(
    data: Any,
    cfg: PipelineConfig,
    scores: Any | None = None,
    class_scores: Mapping[str, Any] | None = None,
    score_name: str = SCORE,
) -> Profile:
    """Profile the reference (training) data of the config's features, and optionally its scores.

    ``data`` is a DataFrame, a pyarrow RecordBatch/Table, or an iterable of those. Numeric columns
    are gathered to compute exact quantiles (8 bytes per value and feature); categoricals are
    counted chunk by chunk. ``scores`` (e.g. the model's holdout scores, or its predicted values)
    become the reference of prediction drift; for a multiclass model ``class_scores`` maps each
    class-probability column name to its holdout values instead. ``score_name`` names the score
    profile after the predictions column it describes (e.g. ``prediction`` for a regression).
    """
    ds = cfg.dataset
    bins = cfg.drift.bins
    numeric: dict[str, list[np.ndarray]] = {n: [] for n in ds.numeric}
    cats: dict[str, dict[str, int]] = {n: {} for n in ds.categorical}
    missing: dict[str, int] = dict.fromkeys(ds.categorical, 0)
    n_rows = 0
    for chunk in columns.chunks(data):
        n_rows += columns.n_rows(chunk)
        for name in ds.numeric:
            numeric[name].append(columns.numeric_values(columns.column(chunk, name)))
        for name in ds.categorical:
            counts, miss = columns.category_counts(columns.column(chunk, name))
            acc = cats[name]
            for k, v in counts.items():
                acc[k] = acc.get(k, 0) + v
            missing[name] += miss
    features: list[FeatureProfile] = []
    for feat in ds.features:
        if feat.name in numeric:
            parts = numeric.pop(feat.name)  # free each column once profiled
            values = np.concatenate(parts) if parts else np.empty(0)
            del parts
            features.append(_numeric_profile(feat.name, values, bins))
        else:
            seen = cats[feat.name]
            order = [c for c in (feat.categories or []) if c is not None]
            order += sorted(c for c in seen if c not in set(order))
            features.append(
                CategoricalProfile(
                    feat.name, order, [seen.get(c, 0) for c in order], missing[feat.name]
                )
            )
    score = None
    if scores is not None:
        score = _numeric_profile(score_name, _concat_scores(scores), bins)
    per_class = [
        _numeric_profile(name, _concat_scores(values), bins)
        for name, values in (class_scores or {}).items()
    ]
    return Profile(n_rows=n_rows, features=features, score=score, class_scores=per_class)


def _concat_scores(scores: Any) -> np.ndarray:
    import pandas as pd
    import pyarrow as pa

    if isinstance(scores, np.ndarray | pd.Series | pa.Array | pa.ChunkedArray | list):
        return columns.numeric_array(np.asarray(scores) if isinstance(scores, list) else scores)
    parts = [columns.numeric_array(s) for s in scores]
    return np.concatenate(parts) if parts else np.empty(0)
