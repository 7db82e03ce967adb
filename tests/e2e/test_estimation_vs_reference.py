"""Regression performance estimated before labels, on real data: ours against the reference method.

Champions trained as driftloop trains them on real 2013 New York departures (arrival delay in
minutes, ``configs/examples/flights_arrival_delay.yaml``); each one's estimator, stored and loaded,
estimates the rmse and mae of the following days from their rows, beside NannyML's direct loss
estimation (reimplemented in ``bench/estimation.py``) on the same rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import estimation  # noqa: E402  (bench/ is not a package: its scripts are imported by path)

CHAMPIONS, HORIZON = 3, 14
# Seen here: ours 2.20 vs 2.20 minutes (mae), 3.61 vs 3.68 (rmse) on these 42 days; over 351 days
# of 2013 2.64 vs 2.65 and 4.44 vs 4.58 (bench/estimation.py; NannyML 0.13 itself: 2.67 and 4.63).
# The margin allows for a sample of days.
MARGIN = 1.05


def test_direct_loss_estimation_is_no_worse_than_the_reference_on_real_days() -> None:
    """Over several champions and weeks of real days, the mean absolute error of our daily rmse and
    mae estimates is at most the reference method's (with a 5% margin), and small beside the values."""
    import numpy as np

    cfg, frame, days = estimation.flight_days()
    rows = []
    for k in range(CHAMPIONS):
        start = cfg.training.window_days + k * 4 * HORIZON  # spread over the first months
        holdout, later = estimation.champion_case(cfg, frame, days, start, HORIZON)
        done, _ = estimation.daily_errors(cfg, holdout, later)
        rows += done
    assert len(rows) == CHAMPIONS * HORIZON
    error = estimation.summarise(rows)
    print(error)
    for metric in estimation.METRICS:
        assert error["ours"][metric] <= MARGIN * error["reference"][metric], (metric, error)
        # Days differ mostly by weather, which no feature shows: the estimate tracks the level.
        realised = float(np.mean([r[metric] for r in rows]))
        assert error["ours"][metric] < 0.3 * realised, (metric, error["ours"][metric], realised)
