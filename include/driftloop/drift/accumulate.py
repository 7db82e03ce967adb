"""Streaming the current data into a profile's bins: linear time, memory independent of rows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    pass

from driftloop.drift import columns
from driftloop.drift.profile import NumericProfile, Profile


# -- streaming the current data --------------------------------------------------------------------
@dataclass
class NumericState:
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
        self.counts += columns.bincount(values, self.grid)
        lo, hi = float(values.min()), float(values.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):  # ±inf count in the tails, not the range
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                return
            lo, hi = float(finite.min()), float(finite.max())
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)


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

    def class_score_state(self, name: str) -> NumericState:
        return self._class_scores[name]

    def feature_state(self, name: str) -> NumericState | CategoricalState:
        return self._num[name] if name in self._num else self._cat[name]
