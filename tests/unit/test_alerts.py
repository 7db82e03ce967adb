"""Alert rules: an episode is told at its start, change, end and after the repeat interval only;
the config section routes kinds to channels; the message says pipeline, day, what, why, links."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from driftloop.core.alert_config import Alerts, EventKind
from driftloop.core.config import ConfigError, load_config, parse_config
from driftloop.monitor.alerts import Alert, episode_phase

pytestmark = pytest.mark.unit

D = date(2026, 3, 1)


def test_an_episode_is_told_at_start_change_repeat_and_end_only() -> None:
    """Fourteen days of drift with one change of signal make four alerts, and a rerun none."""
    state, told = None, []
    active = [True] * 14 + [False] * 3
    prints = ["feature_drift"] * 5 + ["feature_drift,prediction_drift"] * 9 + [""] * 3
    for i, (on, fp) in enumerate(zip(active, prints, strict=True)):
        phase, state = episode_phase(state, D + timedelta(days=i), on, fp, timedelta(days=7))
        if phase:
            told.append((i, phase))
    assert told == [(0, "started"), (5, "changed"), (12, "still open"), (14, "ended")]
    assert episode_phase(state, D + timedelta(days=14), False, "", None) == (None, state)
    # Without a repeat interval, an open, unchanged episode stays quiet however long it lasts.
    phase, state = episode_phase(None, D, True, "x", None)
    assert episode_phase(state, D + timedelta(days=90), True, "x", None)[0] is None


def test_routes_send_each_kind_to_its_channels_and_unknown_channels_are_refused() -> None:
    base = load_config().model_dump(mode="json", exclude={"source"})
    alerts = {
        "enabled": True,
        "channels": {
            "mail": {"type": "email", "to": ["oncall@example.com"]},
            "chat": {"type": "webhook", "url_env": "CHAT_URL"},
        },
        "routes": [{"channels": ["mail"]}, {"channels": ["chat"], "kinds": ["drift", "approval"]}],
        "repeat_after": "3d",
    }
    cfg = parse_config({**base, "alerts": alerts}).alerts
    assert cfg.channels_for(EventKind.DRIFT) == ["mail", "chat"]
    assert cfg.channels_for(EventKind.QUARANTINE) == ["mail"]
    assert cfg.repeat_after == timedelta(days=3) and cfg.active
    assert not Alerts().active  # off by default
    with pytest.raises(ConfigError, match="unknown channel"):
        parse_config({**base, "alerts": {**alerts, "routes": [{"channels": ["pager"]}]}})
    with pytest.raises(ConfigError, match="exactly one of conn_id or url_env"):
        parse_config({**base, "alerts": {**alerts, "channels": {"chat": {"type": "webhook"}}}})


def test_a_message_says_pipeline_day_what_why_and_links() -> None:
    a = Alert(
        EventKind.QUARANTINE,
        "churn",
        "2026-03-01",
        "day quarantined",
        "monthly_charges: 31% nulls (max 5%)",
        "quarantine/2026-03-01",
        {"Run": "http://a/dags/churn__ingest/runs/r"},
        ["Rows kept: 0"],
    )
    assert a.subject == "[driftloop] churn 2026-03-01: day quarantined"
    assert "Why: monthly_charges: 31% nulls (max 5%)" in a.text()
    assert "[Run](http://a/dags/churn__ingest/runs/r)" in a.markdown()
    assert "<a href='http://a/dags/churn__ingest/runs/r'>Run</a>" in a.html()


def test_digest_kinds_wait_for_one_message_and_nothing_is_sent_twice(tmp_path) -> None:
    """Kinds in alerts.digest are queued and sent as one message; a key already sent is skipped;
    a channel that raises is recorded as failed, not raised."""
    from driftloop.core.storage import LocalStore
    from driftloop.monitor.alerts import deliver, flush_digest, sent_on

    base = load_config().model_dump(mode="json", exclude={"source"})
    alerts = {
        "enabled": True,
        "channels": {
            "chat": {"type": "webhook", "url_env": "X"},
            "down": {"type": "webhook", "url_env": "Y"},
        },
        "routes": [{"channels": ["chat", "down"]}],
        "digest": ["retrain"],
    }
    cfg = parse_config({**base, "alerts": alerts})
    store, got = LocalStore(tmp_path), []

    def down(alert: Alert) -> None:
        raise ConnectionError("refused")

    senders = {"chat": got.append, "down": down}
    day = "2026-03-01"
    quiet = Alert(EventKind.RETRAIN, "churn", day, "retrain suppressed", "cooldown", "r/1")
    loud = Alert(EventKind.QUARANTINE, "churn", day, "day quarantined", "nulls", "q/1")
    deliver(cfg, store, [quiet, loud], senders)
    deliver(cfg, store, [quiet, loud], senders)  # a rerun of the task
    assert [a.what for a in got] == ["day quarantined"]
    flush_digest(cfg, store, "2026-03-02", senders)
    assert [a.what for a in got] == ["day quarantined", "daily digest: 1 event(s)"]
    assert "retrain suppressed: cooldown" in got[1].text()
    assert flush_digest(cfg, store, "2026-03-03", senders) == []  # the queue was emptied
    rec = {(r.kind, r.channel, r.ok) for r in sent_on(store, day)}
    assert rec == {("quarantine", "chat", True), ("quarantine", "down", False)}
