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

The drift rule and the dataset verdict: :mod:`driftloop.drift.detect`.

This package imports no Airflow or MLflow: it runs anywhere numpy, pandas and pyarrow do.
"""

from driftloop.drift.accumulate import Accumulator
from driftloop.drift.detect import (
    DriftResult,
    FeatureDrift,
    PredictionDrift,
    detect,
)
from driftloop.drift.profile import Profile, build_profile

__all__ = [
    "Accumulator",
    "DriftResult",
    "FeatureDrift",
    "PredictionDrift",
    "Profile",
    "build_profile",
    "detect",
]
