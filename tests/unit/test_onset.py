"""Onsets of drift and of decay, read from what earlier days stored."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd

from driftloop.core.partition import PART_FILE
from driftloop.core.storage import DRIFT, LABELS, PREDICTIONS, parquet_bytes
from driftloop.monitor import onset
from driftloop.monitor.onset import decay_onset, drift_onset

DAY = date(2026, 3, 1)
HOLDOUT = {"roc_auc": 0.9}


def _day(back: int) -> date:
    return DAY - timedelta(days=back)


def _report(store, back: int, *, drift: bool = True, prediction: bool = False, version="2"):
    body = {
        "champion_version": version,
        "signals": {"feature_drift": drift, "prediction_drift": prediction},
    }
    store.write_partition(DRIFT, _day(back), {"report.json": json.dumps(body).encode()})


def test_no_drift_today_is_no_onset(store) -> None:
    _report(store, 1)
    assert drift_onset(store, DAY, "2", drifting_today=False) is None


def test_drift_without_history_starts_today(store) -> None:
    assert drift_onset(store, DAY, "2", drifting_today=True) == DAY


def test_drift_onset_is_the_first_day_of_the_current_streak(store) -> None:
    _report(store, 5)  # an earlier streak, broken by day -4
    _report(store, 4, drift=False)
    _report(store, 3)
    _report(store, 2, drift=False, prediction=True)  # prediction drift is an alarm too
    _report(store, 1)
    assert drift_onset(store, DAY, "2", drifting_today=True) == _day(3)


def test_a_day_without_a_report_breaks_the_streak(store) -> None:
    _report(store, 3)
    _report(store, 1)  # day -2 has no report (e.g. quarantined, never checked)
    assert drift_onset(store, DAY, "2", drifting_today=True) == _day(1)


def test_reports_about_another_champion_break_the_streak(store) -> None:
    _report(store, 2, version="1")
    _report(store, 1)
    assert drift_onset(store, DAY, "2", drifting_today=True) == _day(1)
    assert drift_onset(store, DAY, "1", drifting_today=True) == DAY


def test_drift_onset_looks_back_at_most_the_lookback(store, monkeypatch) -> None:
    monkeypatch.setattr(onset, "ONSET_LOOKBACK_DAYS", 3)
    for back in range(1, 7):
        _report(store, back)
    assert drift_onset(store, DAY, "2", drifting_today=True) == _day(3)


def _labelled(cfg, store, back: int, *, good: bool, version: str = "2", n: int = 400) -> None:
    """Predictions of ``version`` and labels of one day: good scores rank well, bad are noise."""
    rng = np.random.default_rng(back)
    y = (rng.random(n) < 0.3).astype(int)
    noise = rng.random(n)
    scores = np.clip(0.8 * y + 0.2 * noise, 0, 1) if good else noise
    ids = [f"c{back}-{i}" for i in range(n)]
    ds = cfg.dataset
    preds = pd.DataFrame(
        {
            ds.id_column: ids,
            "score": scores,
            "predicted_label": (scores >= 0.5).astype(int),
            "model_name": cfg.model_name,
            "model_version": version,
            "run_id": f"run{version}",
        }
    )
    labels = pd.DataFrame({ds.id_column: ids, ds.target: y})
    store.write_partition(PREDICTIONS, _day(back), {PART_FILE: parquet_bytes(preds)})
    store.write_partition(LABELS, _day(back), {PART_FILE: parquet_bytes(labels)})


def test_decay_onset_is_the_first_day_of_the_newest_decayed_run(cfg, store) -> None:
    _labelled(cfg, store, 6, good=False)  # an older decayed day, before a good one
    _labelled(cfg, store, 5, good=True)
    for back in (4, 3, 2):
        _labelled(cfg, store, back, good=False)
    # Days -1 and 0 have no labels yet: the newest labelled day is day -2.
    assert decay_onset(store, cfg, DAY, "2", HOLDOUT) == _day(4)


def test_no_decay_onset_when_the_newest_labelled_day_is_fine(cfg, store) -> None:
    _labelled(cfg, store, 3, good=False)
    _labelled(cfg, store, 2, good=True)
    assert decay_onset(store, cfg, DAY, "2", HOLDOUT) is None


def test_decay_onset_needs_the_primary_metric_and_the_champions_rows(cfg, store) -> None:
    _labelled(cfg, store, 3, good=False)
    _labelled(cfg, store, 2, good=False, version="1")  # another model's rows: no metric, a break
    assert decay_onset(store, cfg, DAY, "2", HOLDOUT) is None
    assert decay_onset(store, cfg, DAY, "2", {"f1": 0.9}) is None  # no holdout roc_auc


def test_a_labelled_day_without_predictions_breaks_the_decay_run(cfg, store) -> None:
    _labelled(cfg, store, 3, good=False)
    ds = cfg.dataset
    store.write_partition(
        LABELS,
        _day(2),
        {PART_FILE: parquet_bytes(pd.DataFrame({ds.id_column: ["x"], ds.target: [1]}))},
    )
    _labelled(cfg, store, 1, good=False)
    assert decay_onset(store, cfg, DAY, "2", HOLDOUT) == _day(1)


def test_decay_onset_looks_back_at_most_the_lookback(cfg, store, monkeypatch) -> None:
    monkeypatch.setattr(onset, "ONSET_LOOKBACK_DAYS", 3)
    for back in range(1, 6):
        _labelled(cfg, store, back, good=False)
    assert decay_onset(store, cfg, DAY, "2", HOLDOUT) == _day(3)
