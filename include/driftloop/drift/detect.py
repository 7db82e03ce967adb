"""The drift verdict of a window of current data against a reference profile.

Drift rule (a feature is *drifted*): at least two of its statistics exceed their thresholds; for a
categorical feature (no Wasserstein) that means PSI **and** JS. PSI is the working standard but is
unbounded and sensitive to sparse bins, Wasserstein sees *how far* mass moved (beyond the reference
range, where bins cannot resolve it), JS is a bounded tie-breaker; requiring two of them keeps single
noisy statistics from raising alarms. At the defaults the binding thresholds sit far above the
sampling noise of a few thousand rows (PSI noise ≈ bins/n ≈ 0.002 at n = 6,000 against 0.2).

Dataset drift: the share of drifted features reaches ``drift.drift_share``, or any feature marked
``critical`` in the config drifted. Fewer current rows than ``drift.min_samples`` gives the status
``insufficient_data`` (never "no drift"). Prediction drift is the PSI of the score distribution against
the reference score profile (binary: the positive score; regression: the predicted value); for a
multiclass model it is the PSI of each class probability, and the class that moved most speaks for
the model (``column`` names it, ``per_column_psi`` holds them all).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from driftloop.core.jsonable import jsonable
from driftloop.drift.accumulate import Accumulator, CategoricalState, NumericState
from driftloop.drift.profile import CategoricalProfile, NumericProfile, Profile
from driftloop.drift.statistics import js_distance, psi, shares, wasserstein_binned

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig

Status = Literal["drift", "no_drift", "insufficient_data"]


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
    # The prediction column measured ("score", or the most-moved "proba_<class>" of a multiclass
    # model) and, for a multiclass model, the PSI of every class-probability column.
    column: str = "score"
    per_column_psi: dict[str, float] = field(default_factory=dict)


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
        return jsonable(asdict(self))

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


def _numeric_drift(f: NumericProfile, st: NumericState) -> tuple[np.ndarray, np.ndarray, float]:
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
    f: CategoricalProfile, st: CategoricalState
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
        st = current.feature_state(f.name)
        if isinstance(f, NumericProfile):
            assert isinstance(st, NumericState)
            ref_vec, cur_vec, w = _numeric_drift(f, st)
        else:
            assert isinstance(st, CategoricalState)
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
                reference=shares(ref_vec).round(6).tolist(),
                current=shares(cur_vec).round(6).tolist(),
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
    if profile.class_scores:
        found = [
            d
            for c in profile.class_scores
            if (d := _score_drift(c, current.class_score_state(c.name), cfg)) is not None
        ]
        if not found:
            return None
        worst = max(found, key=lambda d: d.psi)
        worst.per_column_psi = {d.column: d.psi for d in found}
        return worst
    return _score_drift(profile.score, current._score, cfg)


def _score_drift(
    ref: NumericProfile | None, st: NumericState | None, cfg: PipelineConfig
) -> PredictionDrift | None:
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
        reference=shares(ref_vec).round(6).tolist(),
        current=shares(cur_vec).round(6).tolist(),
        column=ref.name,
    )
