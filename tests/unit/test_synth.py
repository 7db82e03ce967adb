"""Demo data: deterministic per (seed, day, scenario), and each scenario does what it says."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from driftloop.core.config import load_config, project_root
from driftloop.core.storage import LocalStore
from driftloop.data import synth

DAY = date(2026, 1, 10)
DRIFT = date(2026, 1, 10)


@pytest.fixture(scope="module")
def cfg():
    return load_config(
        project_root() / "configs" / "churn.yaml", environ={"DRIFTLOOP_HOME": "/tmp/x"}
    )


def _landed(tmp_path, cfg, day: date, scenario: synth.Scenario, seed: int) -> bytes:
    store = LocalStore(tmp_path / f"s{seed}-{scenario.name}")
    synth.write_day(store, cfg, day, scenario, seed=seed, rows=300)
    return store.read_bytes(f"landing/{day.isoformat()}/features.csv")


def test_same_seed_and_day_give_identical_bytes(tmp_path, cfg) -> None:
    a = _landed(tmp_path / "a", cfg, DAY, synth.Scenario(), seed=1)
    b = _landed(tmp_path / "b", cfg, DAY, synth.Scenario(), seed=1)
    c = _landed(tmp_path / "c", cfg, DAY, synth.Scenario(), seed=2)
    assert a == b
    assert a != c


def test_labels_arrive_late_in_the_landing_folder_of_their_arrival_day(tmp_path, cfg) -> None:
    store = LocalStore(tmp_path)
    keys = synth.write_days(store, cfg, DAY, 5, synth.Scenario(), rows=200)
    delay = cfg.dataset.label_delay_days
    labels = [k for k in keys if "labels_" in k]
    assert labels == [
        f"landing/{(DAY + timedelta(days=i + delay)).isoformat()}/labels_{(DAY + timedelta(days=i)).isoformat()}.csv"
        for i in range(5 - delay)
    ]
    # features.csv is the last file of each day: the arrival signal
    assert keys[-1].endswith("features.csv")


def _day(cfg, day: date, scenario: synth.Scenario) -> synth.DayBatch:
    return synth.generate_day(cfg, day, scenario, seed=4, rows=3000)


def test_covariate_shift_moves_chosen_features_only_after_drift_start(cfg) -> None:
    shift = synth.Scenario("covariate_shift", drift_start=DRIFT)
    before, after = DRIFT - timedelta(days=1), DRIFT + timedelta(days=1)
    assert _day(cfg, before, shift).features.equals(_day(cfg, before, synth.Scenario()).features)
    drifted, base = _day(cfg, after, shift).features, _day(cfg, after, synth.Scenario()).features
    for name in synth.DEFAULT_SHIFTED:
        assert drifted[name].mean() > base[name].mean() + 1.5 * base[name].std()
    for name in ("age", "support_calls", "tenure_months"):
        pd.testing.assert_series_equal(drifted[name], base[name])


def test_concept_drift_changes_labels_not_features(cfg) -> None:
    concept = synth.Scenario("concept_drift", drift_start=DRIFT)
    drifted, base = _day(cfg, DRIFT, concept), _day(cfg, DRIFT, synth.Scenario())
    pd.testing.assert_frame_equal(drifted.features, base.features)
    tenure = base.features["tenure_months"]
    # Stationary: long tenure protects; under the drift, long-tenured customers churn more.
    corr_base = base.labels["churned"].corr(tenure)
    corr_drift = drifted.labels["churned"].corr(tenure)
    assert corr_base < 0 < corr_drift


def test_data_quality_produces_three_incident_days(tmp_path, cfg) -> None:
    scenario = synth.Scenario("data_quality", drift_start=DRIFT)
    frames = {}
    for i in range(-1, 4):
        day = DRIFT + timedelta(days=i)
        frames[i] = pd.read_csv(
            pd.io.common.BytesIO(_landed(tmp_path / str(i), cfg, day, scenario, 3))
        )
    assert frames[-1]["monthly_charges"].isna().mean() == 0
    assert frames[0]["monthly_charges"].isna().mean() > 0.3
    assert (frames[1]["tenure_months"].astype(str) == "unknown").any()
    assert "contract" not in frames[2].columns
    assert "contract" in frames[3].columns and frames[3]["monthly_charges"].notna().all()


def test_unknown_scenario_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        synth.Scenario("earthquake")
    with pytest.raises(ValueError, match="needs a drift_start"):
        synth.Scenario("covariate_shift")


def test_harmless_shift_moves_low_weight_features_within_range(cfg) -> None:
    start = date(2026, 3, 1)
    scen = synth.Scenario("harmless_shift", drift_start=start)
    before = synth.generate_day(cfg, start - timedelta(days=1), scen, seed=1).features
    after = synth.generate_day(cfg, start, scen, seed=1).features
    base = synth.generate_day(cfg, start, synth.Scenario(), seed=1).features
    for name in synth.HARMLESS_SHIFTED:
        assert after[name].mean() > before[name].mean() + 0.5 * before[name].std()
    assert after["age"].between(18, 90).all()
    pd.testing.assert_series_equal(after["monthly_charges"], base["monthly_charges"])


def test_harmful_shift_crowds_customers_where_churn_is_a_coin_toss(cfg) -> None:
    start = date(2026, 3, 1)
    scen = synth.Scenario("harmful_shift", drift_start=start)
    before = synth.generate_day(cfg, start - timedelta(days=1), scen, seed=1).features
    after = synth.generate_day(cfg, start, scen, seed=1)
    base = synth.generate_day(cfg, start, synth.Scenario(), seed=1)
    for name in synth.HARMFUL_SQUEEZE:
        assert after.features[name].std() < 0.4 * before[name].std(), name
    assert (after.features["contract"] == "month_to_month").mean() > 0.85
    pd.testing.assert_series_equal(after.features["age"], base.features["age"])
    # The same label relation, evaluated on the crowded population: churn probabilities near 0.5.
    target = cfg.dataset.target
    p = 1 / (1 + np.exp(-synth._churn_logit(after.features, concept_drift=False)))
    p_base = 1 / (1 + np.exp(-synth._churn_logit(base.features, concept_drift=False)))
    assert np.abs(p - 0.5).mean() < 0.7 * np.abs(p_base - 0.5).mean()
    assert abs(after.labels[target].mean() - p.mean()) < 0.04
