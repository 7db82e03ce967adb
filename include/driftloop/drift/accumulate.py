"""Streaming the current data into a profile's bins: linear time, memory independent of rows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    pass

from driftloop.drift import columns
from driftloop.drift.profile import CategoricalProfile, FeatureProfile, NumericProfile, Profile


# -- streaming the current data --------------------------------------------------------------------
@dataclass
class NumericState:
    grid: np.ndarray
    counts: np.ndarray
    missing: int = 0
    lo: float = math.inf
    hi: float = -math.inf
    binner: columns.Binner | None = field(default=None, repr=False, compare=False)

    def update(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        lo, hi = float(values.min()), float(values.max())
        if math.isnan(lo) or math.isnan(hi):  # min/max propagate NaN: mask only when there are any
            nan = np.isnan(values)
            self.missing += int(nan.sum())
            values = values[~nan]
            if values.size == 0:
                return
            lo, hi = float(values.min()), float(values.max())
        if self.binner is None:
            self.binner = columns.Binner(self.grid)
        self.counts += self.binner.count(values)
        if not (math.isfinite(lo) and math.isfinite(hi)):  # ±inf count in the tails, not the range
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                return
            lo, hi = float(finite.min()), float(finite.max())
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)

    def as_profile(self, binning: NumericProfile) -> NumericProfile:
        """These counts as a profile in ``binning``'s bins (its edges, grid and scale)."""
        edges = np.asarray(binning.edges, dtype=np.float64)
        grid = np.asarray(binning.grid, dtype=np.float64)
        # Every coarse edge is a grid point, so the fine counts fold into the coarse bins exactly.
        fine_to_coarse = np.append(np.searchsorted(edges, grid, side="left"), len(edges))
        coarse = np.bincount(fine_to_coarse, weights=self.counts, minlength=len(edges) + 1)
        seen = math.isfinite(self.lo) and math.isfinite(self.hi)
        return NumericProfile(
            name=binning.name,
            edges=list(binning.edges),
            counts=[int(c) for c in coarse],
            grid=list(binning.grid),
            grid_counts=[int(c) for c in self.counts],
            missing=self.missing,
            # Only the range is known (detect reads the ends); the bins carry the shape.
            quantiles=[self.lo, self.hi] if seen else [],
            scale=binning.scale,
        )


@dataclass
class CategoricalState:
    counts: dict[str, int] = field(default_factory=dict)
    missing: int = 0


class Accumulator:
    """Counts current data into a profile's bins, chunk by chunk (flat memory, linear time)."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.n_rows = 0
        self._num: dict[str, NumericState] = {}
        self._cat: dict[str, CategoricalState] = {}
        for f in profile.features:
            if isinstance(f, NumericProfile):
                self._num[f.name] = NumericState(
                    np.asarray(f.grid, dtype=np.float64), np.zeros(len(f.grid) + 1, np.int64)
                )
            else:
                self._cat[f.name] = CategoricalState()
        self._score: NumericState | None = None
        if profile.score is not None:
            g = np.asarray(profile.score.grid, dtype=np.float64)
            self._score = NumericState(g, np.zeros(len(g) + 1, np.int64))
        self._class_scores: dict[str, NumericState] = {
            c.name: NumericState(
                np.asarray(c.grid, dtype=np.float64), np.zeros(len(c.grid) + 1, np.int64)
            )
            for c in profile.class_scores
        }

    def update(self, chunk: Any) -> Accumulator:
        """Add one DataFrame / RecordBatch / Table of current rows (extra columns are ignored)."""
        self.n_rows += columns.n_rows(chunk)
        for name, state in self._num.items():
            state.update(columns.numeric_values(columns.column(chunk, name)))
        for name, cstate in self._cat.items():
            counts, miss = columns.category_counts(columns.column(chunk, name))
            for k, v in counts.items():
                cstate.counts[k] = cstate.counts.get(k, 0) + v
            cstate.missing += miss
        return self

    def update_all(self, data: Any) -> Accumulator:
        for chunk in columns.chunks(data):
            self.update(chunk)
        return self

    def update_scores(self, scores: Any) -> Accumulator:
        """Add model scores of the current rows (for prediction drift)."""
        if self._score is None:
            raise ValueError("the reference profile has no score profile: prediction drift is off")
        self._score.update(columns.numeric_array(scores))
        return self

    def update_class_scores(self, chunk: Any) -> Accumulator:
        """Add the class-probability columns of current predictions (multiclass prediction drift).

        ``chunk`` is a DataFrame / RecordBatch holding the profile's ``class_scores`` columns.
        """
        if not self._class_scores:
            raise ValueError("the reference profile has no class-probability profiles")
        for name, state in self._class_scores.items():
            state.update(columns.numeric_values(columns.column(chunk, name)))
        return self

    @property
    def n_scores(self) -> int:
        """Prediction values counted (scores, or rows of class probabilities)."""
        states = [self._score] if self._score is not None else list(self._class_scores.values())
        return max((int(s.counts.sum()) + s.missing for s in states), default=0)

    def as_profile(self) -> Profile:
        """The streamed rows as a reference profile in the bins of the profile they were counted in.

        How a seasonal reference (data of another period) is compared with current data in the
        champion's own binning: the same edges, grid and scales, other counts.
        """
        features: list[FeatureProfile] = []
        for f in self.profile.features:
            if isinstance(f, NumericProfile):
                features.append(self._num[f.name].as_profile(f))
                continue
            st = self._cat[f.name]
            order = [*f.categories, *sorted(c for c in st.counts if c not in set(f.categories))]
            features.append(
                CategoricalProfile(f.name, order, [st.counts.get(c, 0) for c in order], st.missing)
            )
        ref = self.profile
        return Profile(
            n_rows=self.n_rows,
            features=features,
            score=self._score.as_profile(ref.score) if self._score and ref.score else None,
            class_scores=[self._class_scores[c.name].as_profile(c) for c in ref.class_scores],
        )

    def class_score_state(self, name: str) -> NumericState:
        return self._class_scores[name]

    def feature_state(self, name: str) -> NumericState | CategoricalState:
        return self._num[name] if name in self._num else self._cat[name]
