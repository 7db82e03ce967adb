"""Data drift: reference profiles of the training data and streaming drift statistics.

A :class:`Profile` summarises the champion's training frame (and, optionally, its scores) in a few
kilobytes of JSON, logged with the model. Current data is streamed chunk by chunk into an
:class:`Accumulator` that counts rows into the profile's bins (linear time, memory independent of the
number of rows); :func:`detect` then compares the two.

Statistics, per feature (all are effect sizes, so they do not grow with the sample size the way
p-values of KS/chi-square tests do):

* **PSI** over the drift bins plus a "missing" bin (and an "unseen category" bin for categoricals),
  with proportions floored at ``EPSILON`` so empty bins stay finite.
* **Jensen-Shannon distance** (base 2, in [0, 1]) over the same bins; bounded and symmetric.
* **Normalised Wasserstein-1** (numeric only): W1 = ∫|Q_ref(u) - Q_cur(u)| du divided by the
  reference IQR (std, then 1, when the IQR is 0). It is computed from binned counts, not raw values:
  both distributions are counted on a fine grid (the reference percentiles), each quantile function
  is the piecewise-linear inverse of its binned CDF (mass spread uniformly within a bin; the open
  outer bins stretched to the observed minimum/maximum) and the integral uses the midpoint rule on
  ``_W_LEVELS`` levels. The error is at most about one grid-cell width (a percentile of the
  reference) and applies equally to both sides, so identical distributions give ≈ 0.

Drift rule (a feature is *drifted*): at least two of its statistics exceed their thresholds; for a
categorical feature (no Wasserstein) that means PSI **and** JS. PSI is the working standard but is
unbounded and sensitive to sparse bins, Wasserstein sees *how far* mass moved (beyond the reference
range, where bins cannot resolve it), JS is a bounded tie-breaker; requiring two of them keeps single
noisy statistics from raising alarms. At the defaults the binding thresholds sit far above the
sampling noise of a few thousand rows (PSI noise ≈ bins/n ≈ 0.002 at n = 6,000 against 0.2).

Dataset drift: the share of drifted features reaches ``drift.drift_share``, or any feature marked
``critical`` in the config drifted. Fewer current rows than ``drift.min_samples`` gives the status
``insufficient_data`` (never "no drift"). Prediction drift is the PSI of the score distribution against
the reference score profile.

This module imports no Airflow or MLflow: it runs anywhere numpy, pandas and pyarrow do.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from driftloop.core.jsonable import jsonable as _jsonable

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig

PROFILE_VERSION = 1
EPSILON = 1e-4  # floor of a bin proportion in PSI
SKETCH_LEVELS = 100  # reference quantile sketch: percentiles 0..100
_W_LEVELS = 1000  # midpoint-rule levels of the Wasserstein integral
MISSING = "__missing__"
UNSEEN = "__unseen__"
SCORE = "score"

Status = Literal["drift", "no_drift", "insufficient_data"]


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
        return cls(n_rows=int(data["n_rows"]), features=feats, score=score, version=version)

    @classmethod
    def from_json(cls, text: str | bytes) -> Profile:
        return cls.from_dict(json.loads(text))


# -- column access (pandas or arrow) ---------------------------------------------------------------
def _chunks(data: Any) -> Iterable[Any]:
    """One frame/batch/table, or an iterable of them."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(data, pd.DataFrame | pa.RecordBatch | pa.Table):
        return [data]
    return data


def _n_rows(chunk: Any) -> int:
    return int(chunk.num_rows) if hasattr(chunk, "num_rows") else len(chunk)


def _column(chunk: Any, name: str) -> Any:
    try:
        return chunk[name] if not hasattr(chunk, "schema") else chunk.column(name)
    except KeyError:
        raise KeyError(f"column {name!r} is missing from the data") from None


def _numeric_values(col: Any) -> np.ndarray:
    """float64 values with NaN for missing (zero-copy where the source allows it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray | pa.Array):
        if not pa.types.is_floating(col.type) or col.type != pa.float64():
            col = pc.cast(col, pa.float64())
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        return col.to_numpy(zero_copy_only=False)
    return (
        np.asarray(col, dtype=np.float64)
        if not hasattr(col, "to_numpy")
        else col.to_numpy(dtype=np.float64, na_value=np.nan)
    )


def _numeric_array(values: Any) -> np.ndarray:
    if hasattr(values, "num_rows") or hasattr(values, "columns"):
        raise TypeError("expected a 1-d array of values, got a table")
    return _numeric_values(values)


def _category_counts(col: Any) -> tuple[dict[str, int], int]:
    """Counts per category (as strings) and the number of missing values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(col, pa.ChunkedArray | pa.Array):
        col = pa.array(col, from_pandas=True)
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    missing = col.null_count
    vc = pc.value_counts(col)
    values = vc.field("values").to_pylist()
    counts = vc.field("counts").to_pylist()
    return {v: int(c) for v, c in zip(values, counts, strict=True) if v is not None}, int(missing)


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
        counts=_sorted_bincount(ordered, edges).tolist(),
        grid=[float(x) for x in grid],
        grid_counts=_sorted_bincount(ordered, grid).tolist(),
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


def _sorted_bincount(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Same as :func:`_bincount` for sorted values: O(bins · log n) instead of O(n · log bins)."""
    below = np.searchsorted(ordered, edges, side="right")  # rows <= each edge
    return np.diff(np.concatenate([[0], below, [ordered.size]])).astype(np.int64)


def _bincount(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of non-NaN ``values`` in the right-closed bins of ``edges`` (len(edges) + 1 bins)."""
    idx = np.searchsorted(edges, values, side="left")
    return np.bincount(idx, minlength=len(edges) + 1).astype(np.int64)


def build_profile(data: Any, cfg: PipelineConfig, scores: Any | None = None) -> Profile:
    """Profile the reference (training) data of the config's features, and optionally its scores.

    ``data`` is a DataFrame, a pyarrow RecordBatch/Table, or an iterable of those. Numeric columns
    are gathered to compute exact quantiles (8 bytes per value and feature); categoricals are
    counted chunk by chunk. ``scores`` (e.g. the model's holdout scores) become the reference of
    prediction drift.
    """
    ds = cfg.dataset
    bins = cfg.drift.bins
    numeric: dict[str, list[np.ndarray]] = {n: [] for n in ds.numeric}
    cats: dict[str, dict[str, int]] = {n: {} for n in ds.categorical}
    missing: dict[str, int] = dict.fromkeys(ds.categorical, 0)
    n_rows = 0
    for chunk in _chunks(data):
        n_rows += _n_rows(chunk)
        for name in ds.numeric:
            numeric[name].append(_numeric_values(_column(chunk, name)))
        for name in ds.categorical:
            counts, miss = _category_counts(_column(chunk, name))
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
        score = _numeric_profile(SCORE, _concat_scores(scores), bins)
    return Profile(n_rows=n_rows, features=features, score=score)


def _concat_scores(scores: Any) -> np.ndarray:
    import pandas as pd
    import pyarrow as pa

    if isinstance(scores, np.ndarray | pd.Series | pa.Array | pa.ChunkedArray | list):
        return _numeric_array(np.asarray(scores) if isinstance(scores, list) else scores)
    parts = [_numeric_array(s) for s in scores]
    return np.concatenate(parts) if parts else np.empty(0)


# -- streaming the current data --------------------------------------------------------------------
@dataclass
class _NumericState:
    grid: np.ndarray
    counts: np.ndarray
    missing: int = 0
    lo: float = math.inf
    hi: float = -math.inf

    def update(self, values: np.ndarray) -> None:
        nan = np.isnan(values)
        n_nan = int(nan.sum())
        if n_nan:
            self.missing += n_nan
            values = values[~nan]
        if values.size == 0:
            return
        self.counts += _bincount(values, self.grid)
        lo, hi = float(values.min()), float(values.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):  # ±inf count in the tails, not the range
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                return
            lo, hi = float(finite.min()), float(finite.max())
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)


@dataclass
class _CategoricalState:
    counts: dict[str, int] = field(default_factory=dict)
    missing: int = 0


class Accumulator:
    """Counts current data into a profile's bins, chunk by chunk (flat memory, linear time)."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.n_rows = 0
        self._num: dict[str, _NumericState] = {}
        self._cat: dict[str, _CategoricalState] = {}
        for f in profile.features:
            if isinstance(f, NumericProfile):
                self._num[f.name] = _NumericState(
                    np.asarray(f.grid, dtype=np.float64), np.zeros(len(f.grid) + 1, np.int64)
                )
            else:
                self._cat[f.name] = _CategoricalState()
        self._score: _NumericState | None = None
        if profile.score is not None:
            g = np.asarray(profile.score.grid, dtype=np.float64)
            self._score = _NumericState(g, np.zeros(len(g) + 1, np.int64))

    def update(self, chunk: Any) -> Accumulator:
        """Add one DataFrame / RecordBatch / Table of current rows (extra columns are ignored)."""
        self.n_rows += _n_rows(chunk)
        for name, state in self._num.items():
            state.update(_numeric_values(_column(chunk, name)))
        for name, cstate in self._cat.items():
            counts, miss = _category_counts(_column(chunk, name))
            for k, v in counts.items():
                cstate.counts[k] = cstate.counts.get(k, 0) + v
            cstate.missing += miss
        return self

    def update_all(self, data: Any) -> Accumulator:
        for chunk in _chunks(data):
            self.update(chunk)
        return self

    def update_scores(self, scores: Any) -> Accumulator:
        """Add model scores of the current rows (for prediction drift)."""
        if self._score is None:
            raise ValueError("the reference profile has no score profile: prediction drift is off")
        self._score.update(_numeric_array(scores))
        return self

    @property
    def n_scores(self) -> int:
        return 0 if self._score is None else int(self._score.counts.sum() + self._score.missing)

    def _feature_state(self, name: str) -> _NumericState | _CategoricalState:
        return self._num[name] if name in self._num else self._cat[name]


# -- statistics ------------------------------------------------------------------------------------
def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts, dtype=np.float64)


def psi(ref: np.ndarray, cur: np.ndarray, eps: float = EPSILON) -> float:
    """Population stability index of two count (or share) vectors over the same bins."""
    p, q = (
        np.maximum(_shares(np.asarray(ref, float)), eps),
        np.maximum(_shares(np.asarray(cur, float)), eps),
    )
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(ref: np.ndarray, cur: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two count vectors over the same bins."""
    p, q = _shares(np.asarray(ref, float)), _shares(np.asarray(cur, float))
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return float(math.sqrt(max(0.0, (kl(p) + kl(q)) / 2)))


def _quantile_fn(
    grid: np.ndarray, counts: np.ndarray, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints (cdf, x) of the piecewise-linear quantile function of binned counts."""
    cdf = np.cumsum(counts[:-1]) / counts.sum()
    lo = min(lo, grid[0]) if math.isfinite(lo) else grid[0]
    hi = max(hi, grid[-1]) if math.isfinite(hi) else grid[-1]
    return np.concatenate([[0.0], cdf, [1.0]]), np.concatenate([[lo], grid, [hi]])


def wasserstein_binned(
    grid: np.ndarray,
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    ref_range: tuple[float, float],
    cur_range: tuple[float, float],
) -> float:
    """Approximate W1 between two distributions counted on the same grid (see module docstring)."""
    if len(grid) == 0 or ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return 0.0
    u = (np.arange(_W_LEVELS) + 0.5) / _W_LEVELS
    fr, xr = _quantile_fn(grid, ref_counts, *ref_range)
    fc, xc = _quantile_fn(grid, cur_counts, *cur_range)
    return float(np.mean(np.abs(np.interp(u, fr, xr) - np.interp(u, fc, xc))))


# -- results -----------------------------------------------------------------------------------------
@dataclass
class FeatureDrift:
    """Drift statistics of one feature, with the distributions behind them (for the report)."""

    name: str
    type: str
    psi: float
    js: float
    wasserstein: float | None
    drifted: bool
    critical: bool
    n_current: int
    missing_share_reference: float
    missing_share_current: float
    bins: list[str]
    reference: list[float]
    current: list[float]
    exceeded: list[str] = field(default_factory=list)


@dataclass
class PredictionDrift:
    psi: float
    js: float
    wasserstein: float
    threshold: float
    drifted: bool
    n_current: int
    bins: list[str]
    reference: list[float]
    current: list[float]


@dataclass
class DriftResult:
    """The drift verdict of one window of current data against a reference profile."""

    status: Status
    n_reference: int
    n_current: int
    min_samples: int
    features: list[FeatureDrift]
    drifted: list[str]
    critical_drifted: list[str]
    drift_share: float
    dataset_drift: bool
    prediction: PredictionDrift | None
    thresholds: dict[str, float]
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    def feature(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)


RULE = (
    "a feature drifts when at least two of PSI, JS distance and normalised Wasserstein exceed their "
    "thresholds (PSI and JS for categoricals); the dataset drifts when the share of drifted features "
    "reaches drift_share or a critical feature drifted"
)


def _numeric_drift(f: NumericProfile, st: _NumericState) -> tuple[np.ndarray, np.ndarray, float]:
    """Coarse (ref, cur) count vectors incl. the missing bin, and the normalised Wasserstein."""
    grid = np.asarray(f.grid, dtype=np.float64)
    edges = np.asarray(f.edges, dtype=np.float64)
    # Every coarse edge is a grid point, so fine bins fold into coarse bins exactly.
    fine_to_coarse = np.append(np.searchsorted(edges, grid, side="left"), len(edges))
    cur = np.bincount(fine_to_coarse, weights=st.counts, minlength=len(edges) + 1)
    ref_vec = np.append(np.asarray(f.counts, float), f.missing)
    cur_vec = np.append(cur, st.missing)
    ref_range = (f.quantiles[0], f.quantiles[-1]) if f.quantiles else (math.inf, -math.inf)
    w = wasserstein_binned(
        grid, np.asarray(f.grid_counts, float), st.counts.astype(float), ref_range, (st.lo, st.hi)
    )
    return ref_vec, cur_vec, w / f.scale


def _categorical_vectors(
    f: CategoricalProfile, st: _CategoricalState
) -> tuple[np.ndarray, np.ndarray]:
    known = set(f.categories)
    unseen = sum(v for k, v in st.counts.items() if k not in known)
    ref_vec = np.asarray([*f.counts, 0, f.missing], float)
    cur_vec = np.asarray([*(st.counts.get(c, 0) for c in f.categories), unseen, st.missing], float)
    return ref_vec, cur_vec


def detect(profile: Profile, current: Accumulator, cfg: PipelineConfig) -> DriftResult:
    """Compare streamed current data with the reference profile under the config's thresholds."""
    d = cfg.drift
    critical = {f.name for f in cfg.dataset.features if f.critical}
    results: list[FeatureDrift] = []
    for f in profile.features:
        st = current._feature_state(f.name)
        if isinstance(f, NumericProfile):
            assert isinstance(st, _NumericState)
            ref_vec, cur_vec, w = _numeric_drift(f, st)
        else:
            assert isinstance(st, _CategoricalState)
            ref_vec, cur_vec = _categorical_vectors(f, st)
            w = None
        p, j = psi(ref_vec, cur_vec), js_distance(ref_vec, cur_vec)
        exceeded = [
            name
            for name, value, limit in (
                ("psi", p, d.psi_threshold),
                ("js", j, d.js_threshold),
                ("wasserstein", w, d.wasserstein_threshold),
            )
            if value is not None and value > limit
        ]
        enough = current.n_rows >= d.min_samples
        results.append(
            FeatureDrift(
                name=f.name,
                type=f.type,
                psi=p,
                js=j,
                wasserstein=w,
                drifted=enough and len(exceeded) >= 2,
                critical=f.name in critical,
                n_current=int(cur_vec.sum()),
                missing_share_reference=float(ref_vec[-1] / max(ref_vec.sum(), 1)),
                missing_share_current=float(cur_vec[-1] / max(cur_vec.sum(), 1)),
                bins=f.bin_labels(),
                reference=_shares(ref_vec).round(6).tolist(),
                current=_shares(cur_vec).round(6).tolist(),
                exceeded=exceeded,
            )
        )
    drifted = [r.name for r in results if r.drifted]
    crit = [n for n in drifted if n in critical]
    share = len(drifted) / len(results) if results else 0.0
    insufficient = current.n_rows < d.min_samples
    dataset_drift = not insufficient and (share >= d.drift_share or bool(crit))
    status: Status = (
        "insufficient_data" if insufficient else ("drift" if dataset_drift else "no_drift")
    )
    return DriftResult(
        status=status,
        n_reference=profile.n_rows,
        n_current=current.n_rows,
        min_samples=d.min_samples,
        features=results,
        drifted=drifted,
        critical_drifted=crit,
        drift_share=share,
        dataset_drift=dataset_drift,
        prediction=_prediction_drift(profile, current, cfg),
        thresholds={
            "psi": d.psi_threshold,
            "js": d.js_threshold,
            "wasserstein": d.wasserstein_threshold,
            "drift_share": d.drift_share,
            "prediction_psi": d.prediction_psi_threshold,
        },
        rule=RULE,
    )


def _prediction_drift(
    profile: Profile, current: Accumulator, cfg: PipelineConfig
) -> PredictionDrift | None:
    ref, st = profile.score, current._score
    if ref is None or st is None or st.counts.sum() == 0:
        return None
    ref_vec, cur_vec, w = _numeric_drift(ref, st)
    p = psi(ref_vec, cur_vec)
    n = int(cur_vec.sum())
    return PredictionDrift(
        psi=p,
        js=js_distance(ref_vec, cur_vec),
        wasserstein=w,
        threshold=cfg.drift.prediction_psi_threshold,
        drifted=n >= cfg.drift.min_samples and p > cfg.drift.prediction_psi_threshold,
        n_current=n,
        bins=ref.bin_labels(),
        reference=_shares(ref_vec).round(6).tolist(),
        current=_shares(cur_vec).round(6).tolist(),
    )


def compare(
    profile: Profile, data: Any, cfg: PipelineConfig, scores: Any | None = None
) -> DriftResult:
    """Convenience: stream ``data`` (and optional ``scores``) and :func:`detect` drift."""
    acc = Accumulator(profile).update_all(data)
    if scores is not None and profile.score is not None:
        acc.update_scores(scores)
    return detect(profile, acc, cfg)
