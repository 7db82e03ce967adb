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
