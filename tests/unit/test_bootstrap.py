"""A fresh deployment's daily check: no champion, so it decides when to train the first model."""

from __future__ import annotations

from datetime import timedelta

import pytest

from driftloop.core.storage import DRIFT, LABELS, partition_prefix
from driftloop.data.windows import InsufficientData, training_frame, window_shortfall
from driftloop.monitor.daily_check import mark_unscored, run_daily_check
from tests.support.data import START, write_days


def test_no_champion_waits_for_labels_then_asks_for_the_first_model(cfg_factory) -> None:
    from driftloop.core.storage import open_store

    cfg = cfg_factory(RETRAIN__BOOTSTRAP_LABELLED_DAYS="5")
    store = open_store(cfg.storage)
    labelled = write_days(store, cfg, 9, rows=400, label_delay=3)
    assert len(labelled) == 6

    early = run_daily_check(cfg, labelled[3])  # 4 labelled days so far
    assert early.status == "no_champion" and not early.retrain
    assert "4/5 labelled days" in early.decision["reason"]
    assert "waiting for 1 more labelled day" in early.decision["reason"]
    assert early.trigger_conf is None

    day = START + timedelta(days=8)
    ready = run_daily_check(cfg, day)
    assert ready.retrain and ready.decision["bootstrap"]
    assert ready.trigger_conf == {
        "date": day.isoformat(),
        "reason": f"drift_check {day.isoformat()}: {ready.decision['reason']}",
        "report_uri": store.uri(partition_prefix(DRIFT, day)),
    }
    report = store.read_json(f"{partition_prefix(DRIFT, day)}/report.json")
    assert report["decision"]["retrain"] and report["trigger_conf"] == ready.trigger_conf
    assert (
        "No champion model yet"
        in store.read_bytes(f"{partition_prefix(DRIFT, day)}/report.html").decode()
    )


def test_policy_and_trainer_agree_on_the_window(cfg_factory) -> None:
    from driftloop.core.storage import open_store

    cfg = cfg_factory(RETRAIN__BOOTSTRAP_LABELLED_DAYS="5", TRAINING__MIN_TRAIN_ROWS="100000")
    store = open_store(cfg.storage)
    labelled = write_days(store, cfg, 9, rows=400, label_delay=3)
    day = START + timedelta(days=8)
    shortfall = window_shortfall(cfg, day)
    assert shortfall is not None and "min_train_rows is 100000" in shortfall.detail
    # Six labelled days of about 400 rows: what the window holds, and what is missing.
    rows = sum(len(store.read_table(LABELS, d)) for d in labelled)
    assert (shortfall.labelled_days, shortfall.labelled_rows) == (6, rows)
    assert shortfall.more_rows == 100_000 - rows and shortfall.more_days == 0
    outcome = run_daily_check(cfg, day)
    assert not outcome.retrain and outcome.decision["pending"]
    assert f"waiting for {100_000 - rows} more labelled rows" in outcome.decision["reason"]
    assert "min_train_rows is 100000" in outcome.decision["reason"]
    with pytest.raises(InsufficientData, match="min_train_rows is 100000"):
        training_frame(cfg, day)


def test_unscored_days_are_recorded_for_the_check(cfg) -> None:
    from driftloop.airflow.sensors import scored_keys
    from driftloop.core.storage import open_store

    store = open_store(cfg.storage)
    day = START.isoformat()
    assert not any(store.exists(k) for k in scored_keys(day))
    mark_unscored(cfg, [day], "no champion")
    assert any(store.exists(k) for k in scored_keys(day))
