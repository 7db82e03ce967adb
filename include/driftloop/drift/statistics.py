"""Distances between two binned distributions: PSI, Jensen-Shannon, normalised Wasserstein-1."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    pass

EPSILON = 1e-4  # floor of a bin proportion in PSI
_W_LEVELS = 1000  # midpoint-rule levels of the Wasserstein integral


# -- statistics ------------------------------------------------------------------------------------
def shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts, dtype=np.float64)


def psi(ref: np.ndarray, cur: np.ndarray, eps: float = EPSILON) -> float:
    """Population stability index of two count (or share) vectors over the same bins."""
    p, q = (
        np.maximum(shares(np.asarray(ref, float)), eps),
        np.maximum(shares(np.asarray(cur, float)), eps),
    )
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(ref: np.ndarray, cur: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two count vectors over the same bins."""
    p, q = shares(np.asarray(ref, float)), shares(np.asarray(cur, float))
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
