"""Alerts through the real DAGs (dag.test), a real SMTP server and real webhook receivers.

One history: a champion, then covariate-shifted days (one drift episode), a training that waits
for approval, a broken delivery and a day that never lands; a chat service answering 500 throughout.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from driftloop.data import synth
from driftloop.local.mailcatcher import MailCatcher
from driftloop.model import registry
from driftloop.model.train import train_model
from driftloop.monitor.alerts import sent_on
from driftloop.monitor.daily_check import mark_unscored
from tests.integration.test_model_dags import _states, _sweep_when_timed_out, _test_while
from tests.support.alerts import WebhookReceiver, alert_settings
from tests.support.data import START, logical, write_days

pytestmark = pytest.mark.integration

STABLE = 13  # stationary days; the champion is trained on the first ten
SHIFT = START + timedelta(days=STABLE)
BROKEN = START + timedelta(days=20)  # a delivery with too many nulls
NEVER = START + timedelta(days=21)  # nothing lands


def _body(msg: Any) -> str:
    part = msg.get_body(preferencelist=("html", "plain"))
    return str(part.get_content())


def test_one_alert_per_episode_approval_quarantine_and_late_day(
    airflow_db, cfg_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two drift days make one drift-alarm email and one chat message; the approval alert links
    the request; a quarantined and a late day are told once each; a 500 from a channel fails no
    task and is recorded as failed."""
    from airflow.dag_processing.dagbag import DagBag

    mail = MailCatcher(tmp_path / "mail").start()
    chat, broken = WebhookReceiver(), WebhookReceiver(status=500)
    monkeypatch.setenv("DRIFTLOOP_LANDING_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("DRIFTLOOP_POKE_SECONDS", "0.5")
    try:
        cfg = cfg_factory(
            **alert_settings(mail.port, monkeypatch, chat=chat, broken=broken),
            TRAINING__HYPERPARAMETERS="{max_iter: 20, max_depth: 3}",
            DRIFT__MIN_SAMPLES="500",
            RETRAIN__MIN_LABELLED_DAYS_AFTER_DRIFT="0",
            GATE__APPROVAL_TIMEOUT="2s",
            GATE__APPROVERS="[alice]",
        )
        from driftloop.core.storage import open_store

        store = open_store(cfg.storage)
        write_days(store, cfg, STABLE, rows=800, label_delay=0)
        champion = train_model(cfg, START + timedelta(days=9), reason="test champion")
        registry.promote(cfg, champion.model_version, reason="test", actor="pytest")
        shifted = synth.Scenario("covariate_shift", drift_start=SHIFT)
        write_days(store, cfg, 3, start=SHIFT, rows=800, scenario=shifted)
        mark_unscored(cfg, [(START + timedelta(days=i)).isoformat() for i in range(16)], "test")
        bag = DagBag()  # parsed with this config (approval timeout, approvers, sensor timeout)
        assert not bag.import_errors

        # Two drifted days: one episode, told once (the second day's retrain is suppressed).
        for day in (SHIFT + timedelta(days=1), SHIFT + timedelta(days=2)):
            dr = bag.dags["churn__drift_check"].test(logical_date=logical(day))
            assert str(dr.state) == "success", _states(dr)
        # The training the drift asked for, with a person to approve it (nobody answers). Its
        # challenger must pass the gate to be put to a person: with no champion, it does.
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=cfg.tracking_uri(), registry_uri=cfg.tracking_uri())
        client.delete_registered_model_alias(cfg.model_name, "champion")
        done: dict[str, Any] = {"cfg": cfg}
        day = (SHIFT + timedelta(days=1)).isoformat()
        dr = _test_while(
            bag.dags["churn__train"],
            _sweep_when_timed_out,
            ("churn__train", "approve_promotion", done),
            logical_date=logical(SHIFT + timedelta(days=1)),
            run_conf={"date": day, "reason": "feature drift", "auto_promote": "off"},
        )
        assert str(dr.state) == "success", _states(dr)
        # A broken delivery, and a day that never lands: both ingest runs fail, as they should.
        incident = synth.Scenario("data_quality", drift_start=BROKEN)
        synth.write_day(store, cfg, BROKEN, incident, seed=3, rows=400)
        for day_ in (BROKEN, NEVER):
            dr = bag.dags["churn__ingest"].test(logical_date=logical(day_))
            assert str(dr.state) == "failed"
    finally:
        mail.stop()
        chat.stop()
        broken.stop()

    subjects = [str(m["Subject"]) for m in mail.messages()]
    by_subject = {s: _body(m) for s, m in zip(subjects, mail.messages(), strict=True)}
    drift = [s for s in subjects if "drift alarm" in s]
    assert drift == [f"[driftloop] churn {SHIFT + timedelta(days=1)}: drift alarm started"]
    assert "monthly_charges" in by_subject[drift[0]]
    report = f"http://airflow.example:8080/driftloop/churn/reports/{day}/report.html"
    assert report in by_subject[drift[0]]
    assert [m["message"] for m in chat.received].count(chat.received[0]["message"]) == 1
    chat_drift = [m for m in chat.received if "drift alarm started" in m["message"]]
    assert len(chat_drift) == 1 and report in chat_drift[0]["message"]
    assert chat_drift[0]["title"] == drift[0]

    (approval,) = [s for s in subjects if "waiting for approval" in s]
    body = by_subject[approval]
    assert "Approvers: alice" in body
    assert "http://airflow.example:8080/dags/churn__train/runs/" in body
    assert "/tasks/approve_promotion/required_actions" in body
    (verdict,) = [s for s in subjects if "not promoted" in s]
    assert "approval timed out after 2s" in verdict

    (quarantine,) = [s for s in subjects if "quarantined" in s]
    assert quarantine == f"[driftloop] churn {BROKEN}: day quarantined"
    assert "Rows kept: 0" in by_subject[quarantine]
    assert f"quarantine/date={BROKEN}" in by_subject[quarantine]
    (late,) = [s for s in subjects if "not landed" in s]
    assert late == f"[driftloop] churn {NEVER}: day not landed by its deadline"
    assert "http://airflow.example:8080/dags/churn__ingest/runs/" in by_subject[late]
    assert not [s for s in subjects if "failed after its retries" in s]

    # The broken chat service got every alert too (and failed each time): recorded, not raised.
    assert len(broken.received) == 2 * len(chat.received)
    failed = [r for r in sent_on(store, SHIFT + timedelta(days=1)) if r.channel == "broken"]
    assert failed and not any(r.ok for r in failed)
    ok = {(r.kind, r.channel) for r in sent_on(store, NEVER) if r.ok}
    assert ok == {("late_data", "mail"), ("late_data", "chat")}
    # The monitoring view's "alerts sent" row of the drift day.
    from driftloop.monitor.timeline import build_timeline
    from driftloop.monitor.timeline_view import render_timeline

    timeline = build_timeline(store, cfg.name, cfg.model_name)
    (drift_day,) = [d for d in timeline.days if d.day == SHIFT + timedelta(days=1)]
    assert "drift -> mail" in drift_day.alerts and "drift -> broken (failed)" in drift_day.alerts
    assert [d.day for d in timeline.days][-1] == NEVER  # a day that never landed is listed
    assert "late_data -&gt; chat" in render_timeline(timeline, lambda d: "#")
    print("\n--- sample email ---\n" + str(mail.messages()[0]))
    print("--- sample chat message ---\n" + json.dumps(chat.received[0], indent=2))
