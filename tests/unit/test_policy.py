"""Retrain policy: signals in, one decision with a readable reason out."""

from __future__ import annotations

from datetime import date, timedelta

from driftloop.core.config import load_config
from driftloop.data import synth
from driftloop.drift import build_profile
from driftloop.monitor.policy import Signals, decide
from tests.support.drift import compare

DAY = date(2026, 2, 3)
DRIFT = Signals(
    feature_drift=True,
    drifted_features=["monthly_charges", "days_since_last_login", "age"],
    drift_share=0.25,
    insufficient_labels=True,
)
DECAY = Signals(
    performance_decay=True,
    primary_metric="roc_auc",
    holdout_value=0.81,
    live_value=0.74,
    insufficient_labels=False,
)


def run(signals: Signals, active: bool = False, last: date | None = None, cooldown: int = 7):
    return decide(
        signals, DAY, training_active=active, last_training_date=last, cooldown_days=cooldown
    )


def test_feature_drift_triggers_with_reason() -> None:
    d = run(DRIFT)
    assert d.retrain
    assert d.reason == ("feature drift in monthly_charges, days_since_last_login, age (share 0.25)")
    assert d.signals["drift_share"] == 0.25


def test_performance_decay_reason() -> None:
    d = run(DECAY)
    assert d.retrain and d.reason == "performance decay: roc_auc 0.810 -> 0.740"


def test_no_signal_no_retrain() -> None:
    d = run(Signals(insufficient_labels=False))
    assert not d.retrain and d.reason == "no drift"


def test_cooldown_counts_partition_dates() -> None:
    inside = run(DRIFT, last=DAY - timedelta(days=6))
    assert not inside.retrain
    assert inside.reason.startswith("suppressed: cooldown until 2026-02-04")
    assert run(DRIFT, last=DAY - timedelta(days=7)).retrain  # the cooldown is over
    assert run(DRIFT, last=DAY - timedelta(days=1), cooldown=0).retrain


def test_active_training_locks() -> None:
    d = run(DECAY, active=True)
    assert not d.retrain and d.reason.startswith("suppressed: training already running")


def test_insufficient_data_does_not_trigger() -> None:
    d = run(Signals(insufficient_data=True, insufficient_labels=True))
    assert not d.retrain and d.reason == "insufficient data"
    # Too little current data for drift, but labels are enough to judge performance.
    d = run(Signals(insufficient_data=True, insufficient_labels=False))
    assert not d.retrain and d.reason == "no performance decay (too little data for drift)"


def test_drift_below_the_share_is_reported_but_does_not_trigger() -> None:
    d = run(Signals(drifted_features=["age"], drift_share=0.08, insufficient_labels=False))
    assert not d.retrain
    assert d.reason == "no retrain signal: drift in age is below the dataset share (share 0.08)"


def test_a_critical_feature_triggers_alone() -> None:
    # `contract` is critical in the demo config; a share above 1/12 makes criticality decide.
    cfg = load_config(environ={"DRIFTLOOP__DRIFT__DRIFT_SHARE": "0.3"})
    assert cfg.dataset.feature("contract").critical
    start = date(2026, 1, 1)
    profile = build_profile(
        [
            synth.generate_day(cfg, start + timedelta(days=i), synth.Scenario()).features
            for i in range(14)
        ],
        cfg,
    )
    scenario = synth.Scenario("covariate_shift", drift_start=start, features=("contract",))
    current = [
        synth.generate_day(cfg, start + timedelta(days=20 + i), scenario).features for i in range(3)
    ]
    result = compare(profile, current, cfg)
    assert result.drifted == ["contract"]
    assert result.drift_share < cfg.drift.drift_share  # one feature alone is below the share ...
    assert result.dataset_drift and result.critical_drifted == ["contract"]  # ... but critical
    signals = Signals(
        feature_drift=result.dataset_drift,
        drifted_features=result.drifted,
        critical_drifted=result.critical_drifted,
        drift_share=result.drift_share,
    )
    d = run(signals)
    assert d.retrain and d.reason == "feature drift in contract (share 0.08; critical: contract)"


def test_drift_waits_for_labels_of_the_new_data_then_trains_since_the_onset() -> None:
    onset = DAY - timedelta(days=4)
    waiting = decide(
        DRIFT, DAY, training_active=False, last_training_date=None, cooldown_days=7,
        drift_onset=onset, labelled_days_since_onset=2, min_labelled_days=7,
    )  # fmt: skip
    assert not waiting.retrain and waiting.pending
    assert waiting.reason.startswith("retrain pending: waiting for 5 more labelled days")
    assert f"drift onset {onset.isoformat()}" in waiting.reason
    assert "2/7 labelled days" in waiting.reason
    ready = decide(
        DRIFT, DAY, training_active=False, last_training_date=None, cooldown_days=7,
        drift_onset=onset, labelled_days_since_onset=7, min_labelled_days=7,
    )  # fmt: skip
    assert ready.retrain and ready.since == onset and not ready.pending
    assert ready.to_dict()["since"] == onset.isoformat()
    assert "training on data since" in ready.reason


def test_lock_and_cooldown_apply_before_the_label_wait() -> None:
    onset = DAY - timedelta(days=10)
    locked = decide(
        DRIFT, DAY, training_active=True, last_training_date=None, cooldown_days=7,
        drift_onset=onset, labelled_days_since_onset=9, min_labelled_days=7,
    )  # fmt: skip
    assert not locked.retrain and locked.reason.startswith("suppressed: training already running")
    cooling = decide(
        DRIFT, DAY, training_active=False, last_training_date=DAY - timedelta(days=1),
        cooldown_days=7, drift_onset=onset, labelled_days_since_onset=9, min_labelled_days=7,
    )  # fmt: skip
    assert not cooling.retrain and cooling.reason.startswith("suppressed: cooldown until")


# -- bootstrap: no champion yet -------------------------------------------------------------------
def boot(labelled: int, **kw):
    from driftloop.monitor.policy import decide_bootstrap

    args = dict(
        labelled_days=labelled,
        min_labelled_days=7,
        shortfall=None,
        training_active=False,
        last_training_date=None,
        cooldown_days=7,
    )
    return decide_bootstrap(DAY, **{**args, **kw})


def test_bootstrap_waits_for_enough_labelled_days_then_trains() -> None:
    waiting = boot(6)
    assert not waiting.retrain and waiting.pending and waiting.bootstrap
    assert "6/7 labelled days" in waiting.reason
    assert "waiting for 1 more labelled day (" in waiting.reason
    ready = boot(7)
    assert ready.retrain and ready.bootstrap and not ready.pending
    assert ready.reason.startswith("bootstrap: no champion yet")


def shortfall(days: int, rows: int, need_days: int = 4, need_rows: int = 500):
    from driftloop.data.windows import Shortfall

    detail = f"the window has {rows} labelled rows; training.min_train_rows is {need_rows}"
    return Shortfall(DAY, 30, days, need_days, rows, need_rows, detail)


def test_bootstrap_never_asks_for_a_window_the_trainer_refuses() -> None:
    d = boot(9, shortfall=shortfall(9, 455))
    assert not d.retrain and d.pending
    assert d.reason.startswith(
        "bootstrap pending: no champion yet, waiting for 45 more labelled rows"
    )
    assert "min_train_rows" in d.reason


def test_a_held_back_retrain_says_how_much_data_is_missing_in_numbers() -> None:
    from driftloop.monitor.policy import pending_for_data

    wanted = decide(
        DRIFT, DAY, training_active=False, last_training_date=None, cooldown_days=7,
    )  # fmt: skip
    assert wanted.retrain
    held = pending_for_data(wanted, shortfall(3, 410, need_days=5))
    assert not held.retrain and held.pending
    assert held.reason.startswith(
        "retrain pending: waiting for 2 more labelled days / 90 more labelled rows ("
    )
    assert wanted.reason in held.reason and "min_train_rows is 500" in held.reason
    one = pending_for_data(wanted, shortfall(4, 500, need_days=5))
    assert one.reason.startswith("retrain pending: waiting for 1 more labelled day (")


def test_bootstrap_respects_the_lock_and_the_cooldown() -> None:
    assert boot(9, training_active=True).reason.startswith("suppressed: training already running")
    rejected = boot(9, last_training_date=DAY - timedelta(days=2))
    assert not rejected.retrain
    assert "was not promoted" in rejected.reason and "2026-02-08" in rejected.reason
    assert boot(9, last_training_date=DAY - timedelta(days=7)).retrain


# -- the performance estimated before labels ---------------------------------------------------------
ESTIMATED_OK = Signals(
    **{
        **DRIFT.to_dict(),
        "estimate_available": True,
        "estimated_value": 0.80,
        "holdout_value": 0.81,
    }
)
ESTIMATED_DROP = Signals(
    **{**ESTIMATED_OK.to_dict(), "estimated_drop": True, "estimated_value": 0.70}
)


def run_estimated(signals: Signals, *, on_drift: bool = False, labelled: int = 0):
    onset = DAY - timedelta(days=5)
    return decide(
        signals,
        DAY,
        training_active=False,
        last_training_date=None,
        cooldown_days=7,
        drift_onset=onset,
        labelled_days_since_onset=labelled,
        min_labelled_days=7,
        min_labelled_days_estimated=4,
        on_drift_without_estimated_drop=on_drift,
    )


def test_drift_the_estimate_does_not_confirm_is_reported_not_acted_on() -> None:
    d = run_estimated(ESTIMATED_OK, labelled=7)
    assert not d.retrain and not d.pending
    assert d.fired == ["feature_drift"]
    assert "drift reported, not acted on" in d.reason and "estimated roc_auc (0.800" in d.reason
    assert run_estimated(ESTIMATED_OK, on_drift=True, labelled=7).retrain


def test_without_an_estimate_drift_still_retrains() -> None:
    d = run_estimated(DRIFT, labelled=7)
    assert d.retrain and d.fired == ["feature_drift"]


def test_an_estimated_drop_shortens_the_wait_for_labels() -> None:
    waiting = run_estimated(ESTIMATED_DROP, labelled=3)
    assert waiting.pending and "3/4 labelled days" in waiting.reason
    assert waiting.fired == ["feature_drift", "estimated_drop"]
    assert "estimated drop: roc_auc 0.810 -> 0.700" in waiting.reason
    d = run_estimated(ESTIMATED_DROP, labelled=4)
    assert d.retrain and d.since == DAY - timedelta(days=5)
    # The same day without the estimate still waits for the full drift wait.
    assert run_estimated(DRIFT, labelled=4).pending


def test_an_estimated_drop_alone_is_a_signal() -> None:
    alone = Signals(
        estimate_available=True, estimated_drop=True, estimated_value=0.7, holdout_value=0.81
    )
    d = decide(alone, DAY, training_active=False, last_training_date=None, cooldown_days=7)
    assert d.retrain and d.fired == ["estimated_drop"]


def test_realised_decay_is_acted_on_whatever_the_estimate_says() -> None:
    decayed = Signals(**{**ESTIMATED_OK.to_dict(), "performance_decay": True, "live_value": 0.7})
    d = run_estimated(decayed, labelled=7)
    assert d.retrain and d.fired == ["feature_drift", "performance_decay"]
