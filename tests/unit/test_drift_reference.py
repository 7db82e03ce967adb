"""The drift reference: the champion's training data, or the same period one cycle earlier.

Seasonal data by construction: usage-like features run 60% higher in winter than in the summer the
champion was trained on. Against the champion's profile every winter alarms; against last winter it
does not, while a real change (this winter far above last winter) still does.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from driftloop.core.storage import VALIDATED, open_store, parquet_bytes
from driftloop.data import synth
from driftloop.drift import build_profile
from driftloop.monitor import monitoring
from driftloop.monitor.report import render_html
from tests.support.data import validated_frame

SEASONAL = ["monthly_charges", "avg_session_minutes", "data_usage_gb", "support_calls"]
SUMMER = date(2026, 7, 1)
WINTER = date(2026, 12, 29)


def season(cfg, start: date, days: int, factor: float, seed: int) -> list[pd.DataFrame]:
    """``days`` validated partitions from ``start`` whose seasonal features are scaled by ``factor``."""
    store = open_store(cfg.storage)
    frames = []
    for i in range(days):
        day = start + timedelta(days=i)
        df = validated_frame(cfg, synth.generate_day(cfg, day, synth.Scenario(), seed + i, 600))
        for name in SEASONAL:
            df[name] = df[name] * factor
        store.write_partition(VALIDATED, day, {"part-0.parquet": parquet_bytes(df)})
        frames.append(df)
    return frames


def check(cfg, day: date, profile):
    return monitoring.check(cfg, day, profile, {}, None, training_end=SUMMER + timedelta(days=9))


def test_seasonal_reference_silences_the_season_but_not_a_real_change(cfg_factory) -> None:
    overrides = {"DRIFT__WINDOW_DAYS": "3", "DRIFT__MIN_SAMPLES": "500"}
    champion_window = cfg_factory(**overrides)
    seasonal = cfg_factory(**overrides, DRIFT__REFERENCE="same_period_last_cycle")
    assert seasonal.drift.reference_cycle_days == 365  # a year, unless configured
    profile = build_profile(pd.concat(season(seasonal, SUMMER, 10, 1.0, seed=1)), seasonal)
    last_winter = sum(map(len, season(seasonal, WINTER - timedelta(days=365), 3, 1.6, seed=100)))
    season(seasonal, WINTER, 3, 1.6, seed=200)  # this winter: the same season
    day = WINTER + timedelta(days=2)

    against_champion = check(champion_window, day, profile)
    assert against_champion.drift.status == "drift"
    assert set(SEASONAL) <= set(against_champion.drift.drifted)
    assert against_champion.reference["kind"] == "champion_window"

    against_last_year = check(seasonal, day, profile)
    assert against_last_year.drift.status == "no_drift", against_last_year.drift.drifted
    ref = against_last_year.reference
    assert (ref["kind"], ref["configured"], ref["fallback"]) == (
        "same_period_last_cycle",
        "same_period_last_cycle",
        False,
    )
    assert ref["days"] == ["2025-12-29", "2025-12-30", "2025-12-31"] and ref["rows"] == last_winter
    # The champion's bins: same edges, other counts.
    assert against_last_year.drift.n_reference == last_winter
    feature = against_last_year.drift.feature("data_usage_gb")
    assert feature.bins == against_champion.drift.feature("data_usage_gb").bins
    body = against_last_year.to_dict()
    assert body["reference"]["kind"] == "same_period_last_cycle"

    # A real change: next winter's usage far above this winter's still alarms.
    season(seasonal, WINTER + timedelta(days=365), 3, 2.6, seed=300)
    shifted = check(seasonal, day + timedelta(days=365), profile)
    assert shifted.reference["kind"] == "same_period_last_cycle"
    assert shifted.reference["days"] == ["2026-12-29", "2026-12-30", "2026-12-31"]
    assert shifted.drift.status == "drift" and set(SEASONAL) <= set(shifted.drift.drifted)


def test_without_data_a_cycle_earlier_it_falls_back_and_says_so(cfg_factory) -> None:
    cfg = cfg_factory(
        DRIFT__WINDOW_DAYS="3",
        DRIFT__MIN_SAMPLES="500",
        DRIFT__REFERENCE="same_period_last_cycle",
        DRIFT__REFERENCE_CYCLE_DAYS="364",
    )
    profile = build_profile(pd.concat(season(cfg, SUMMER, 10, 1.0, seed=1)), cfg)
    season(cfg, WINTER, 3, 1.6, seed=200)
    report = check(cfg, WINTER + timedelta(days=2), profile)
    ref = report.reference
    assert ref["fallback"] and ref["kind"] == "champion_window" and ref["cycle_days"] == 364
    assert ref["rows"] == 0 and "fallback to the champion's training data" in ref["note"]
    assert "2025-12-30 to 2026-01-01" in ref["note"]
    assert report.drift.status == "drift"  # measured against the champion, as the note says
    body = report.to_dict()
    body.update(decision={"retrain": False, "reason": "-"}, trigger_conf=None)
    assert "fallback to the champion&#x27;s training data" in render_html(body)
