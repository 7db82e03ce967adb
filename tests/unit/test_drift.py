"""Drift statistics: reference profiles, streaming accumulation, the drift rule."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from driftloop.core.config import PipelineConfig, load_config, parse_config
from driftloop.data import synth
from driftloop.drift import Accumulator, Profile, build_profile, detect
from driftloop.drift.profile import MISSING, UNSEEN
from driftloop.drift.statistics import js_distance, psi
from tests.support.drift import compare


def small_config(**drift: object) -> PipelineConfig:
    return parse_config(
        {
            "name": "t",
            "dataset": {
                "id_column": "id",
                "timestamp_column": "ts",
                "target": "y",
                "features": [
                    {"name": "x", "type": "numeric"},
                    {"name": "z", "type": "numeric"},
                    {"name": "k", "type": "numeric"},
                    {"name": "c", "type": "categorical", "categories": ["a", "b", "c"]},
                ],
            },
            "storage": {"root": "/tmp/unused"},
            "validation": {"suite": "t"},
            "drift": {"min_samples": 500, **drift},
        },
        environ={},
    )


def frame(n: int, seed: int, shift: float = 0.0, cat_p: tuple[float, ...] = (0.5, 0.3, 0.2)):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "z": rng.lognormal(0.0, 0.7, n),
            "k": rng.poisson(2.0, n).astype(float),
            "c": np.asarray(["a", "b", "c"], dtype=object)[rng.choice(3, n, p=list(cat_p))],
        }
    )


def test_identical_distributions_stay_near_zero_at_a_million_rows() -> None:
    cfg = small_config()
    profile = build_profile(frame(1_000_000, 1), cfg)
    result = compare(profile, frame(1_000_000, 2), cfg)
    assert result.status == "no_drift"
    assert result.drifted == []
    for f in result.features:
        # Effect sizes, not tests: a million rows of noise do not make them grow.
        assert f.psi < 1e-3, f
        assert f.js < 0.01, f
        assert f.wasserstein is None or f.wasserstein < 0.01, f


def test_shifted_numeric_and_categorical_are_detected() -> None:
    cfg = small_config()
    profile = build_profile(frame(20_000, 1), cfg)
    result = compare(profile, frame(5_000, 2, shift=1.0, cat_p=(0.1, 0.3, 0.6)), cfg)
    assert sorted(result.drifted) == ["c", "x"]
    x = result.feature("x")
    assert x.psi > 0.2 and x.js > 0.1 and x.wasserstein is not None
    assert x.wasserstein == pytest.approx(1.0 / 1.349, rel=0.1)  # 1 sd over the IQR of N(0, 1)
    assert result.status == "drift"  # 2 of 4 >= drift_share 0.3


def test_unseen_categories_and_missing_values_are_counted() -> None:
    cfg = small_config()
    profile = build_profile(frame(10_000, 1), cfg)
    cur = frame(2_000, 2)
    cur.loc[:199, "c"] = "never-seen"
    cur.loc[200:299, "c"] = None
    cur.loc[:399, "x"] = np.nan
    result = compare(profile, cur, cfg)
    c = result.feature("c")
    assert c.bins[-2:] == [UNSEEN, MISSING]
    assert c.current[-2:] == pytest.approx([0.10, 0.05])
    assert c.reference[-2:] == [0.0, 0.0]
    x = result.feature("x")
    assert x.bins[-1] == MISSING
    assert x.missing_share_current == pytest.approx(0.2)
    assert x.n_current == 2_000
    assert "x" in result.drifted and "c" in result.drifted


def test_too_few_rows_is_insufficient_data_not_no_drift() -> None:
    cfg = small_config(min_samples=1_000)
    profile = build_profile(frame(10_000, 1), cfg)
    result = compare(profile, frame(999, 2, shift=3.0), cfg)
    assert result.status == "insufficient_data"
    assert result.drifted == [] and not result.dataset_drift


def test_streaming_chunks_equals_one_frame() -> None:
    cfg = small_config()
    ref = frame(30_000, 1)
    cur = frame(7_000, 2, shift=0.3)
    batches = [
        pa.RecordBatch.from_pandas(cur.iloc[i : i + 1_000], preserve_index=False)
        for i in range(0, len(cur), 1_000)
    ]
    whole = compare(build_profile(ref, cfg), cur, cfg).to_dict()
    chunks = [ref.iloc[i : i + 4_096] for i in range(0, len(ref), 4_096)]
    streamed_profile = build_profile(chunks, cfg)
    assert streamed_profile.to_json() == build_profile(ref, cfg).to_json()
    streamed = detect(streamed_profile, Accumulator(streamed_profile).update_all(batches), cfg)
    assert streamed.to_dict() == whole


def test_profile_json_round_trip() -> None:
    cfg = small_config()
    scores = np.random.default_rng(0).beta(2, 5, 5_000)
    profile = build_profile(frame(5_000, 1), cfg, scores=scores)
    text = profile.to_json()
    again = Profile.from_json(text)
    assert again == profile
    assert again.to_json() == text
    assert again.feature_types == {
        "x": "numeric",
        "z": "numeric",
        "k": "numeric",
        "c": "categorical",
    }
    with pytest.raises(ValueError, match="version"):
        Profile.from_dict({**profile.to_dict(), "version": 99})


def test_prediction_drift() -> None:
    cfg = small_config()
    rng = np.random.default_rng(0)
    profile = build_profile(frame(5_000, 1), cfg, scores=rng.beta(2, 5, 5_000))
    same = compare(profile, frame(2_000, 2), cfg, scores=rng.beta(2, 5, 2_000))
    moved = compare(profile, frame(2_000, 2), cfg, scores=rng.beta(5, 2, 2_000))
    assert same.prediction is not None and not same.prediction.drifted
    assert moved.prediction is not None and moved.prediction.drifted
    assert moved.prediction.psi > cfg.drift.prediction_psi_threshold > same.prediction.psi


def test_statistics_bounds() -> None:
    a, b = np.array([10, 0, 0]), np.array([0, 0, 10])
    assert js_distance(a, b) == pytest.approx(1.0)
    assert js_distance(a, a) == 0.0
    assert psi(a, a) == pytest.approx(0.0)
    assert np.isfinite(psi(a, b))


# -- the demo feed -----------------------------------------------------------------------------------
START = date(2026, 1, 1)


def _days(scenario: synth.Scenario, first: int, n: int) -> list[pd.DataFrame]:
    cfg = load_config()
    return [
        synth.generate_day(cfg, START + timedelta(days=i), scenario, rows=2000).features
        for i in range(first, first + n)
    ]


@pytest.fixture(scope="module")
def demo_profile() -> Profile:
    return build_profile(_days(synth.Scenario(), 0, 21), load_config())


def test_no_false_alarm_on_stationary_demo_days(demo_profile: Profile) -> None:
    cfg = load_config()
    for end in range(23, 30):  # seven 3-day windows of the `none` scenario
        result = compare(demo_profile, _days(synth.Scenario(), end - 2, 3), cfg)
        assert result.status == "no_drift", (end, result.drifted)
        assert result.drifted == []
        assert max(f.psi for f in result.features) < 0.05


def test_covariate_shift_flags_exactly_the_shifted_features(demo_profile: Profile) -> None:
    cfg = load_config()
    scenario = synth.Scenario("covariate_shift", drift_start=START + timedelta(days=21))
    for first in (21, 22):  # windows that start on or after the drift start
        result = compare(demo_profile, _days(scenario, first, 3), cfg)
        assert sorted(result.drifted) == sorted(synth.DEFAULT_SHIFTED)


@pytest.mark.parametrize("seed", range(4))
def test_table_binning_matches_a_binary_search_on_every_value(seed: int) -> None:
    """The lookup-table binning gives searchsorted's bin for every value: edges, their neighbours,
    ±inf, values far outside the edges, ties of rounded data, an extreme edge stretching the range."""
    from driftloop.drift.columns import Binner

    rng = np.random.default_rng(seed)
    for _ in range(50):
        scale = rng.choice([1e-3, 1.0, 1e6])
        edges = np.unique(np.round(rng.normal(size=rng.integers(0, 120)) * scale, seed))
        if edges.size and rng.random() < 0.3:  # one extreme reference value at each end
            edges = np.unique(np.concatenate([edges, [edges[0] - 1e9, edges[-1] + 1e12]]))
        values = np.concatenate(
            [
                np.round(rng.lognormal(size=3000) * scale * rng.choice([-1, 1]), seed),
                np.round(rng.normal(size=3000) * scale * 3, seed),
                edges,
                np.nextafter(edges, np.inf),
                np.nextafter(edges, -np.inf),
                [np.inf, -np.inf, 0.0, -0.0],
            ]
        )
        expected = np.searchsorted(edges, values, side="left")
        assert np.array_equal(Binner(edges).index(values), expected)
        counts = np.bincount(expected, minlength=edges.size + 1)
        assert np.array_equal(Binner(edges).count(values), counts)
