"""Alerts under a real scheduler, nothing clicked (issue 26's "Done when").

The loop of ``test_live_loop`` with alerts on: a real SMTP server and two real webhook receivers
(one answering 500) on loopback. A covariate shift makes one drift episode; its retrain waits for
an approval; one delivery is broken (quarantined) and the last day never lands. The only hand
at work is the approver's: each "waiting for approval" alert is answered through the request its
link names (the first model's, then the retrain's), as a person following the link would.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest

from driftloop.local.mailcatcher import MailCatcher
from tests.live.airflow_server import AirflowServer, free_port
from tests.loop_checks import ROWS, LoopRun, wait_settled
from tests.support.alerts import WebhookReceiver, alert_settings

pytestmark = [pytest.mark.live, pytest.mark.timeout(2400)]


def test_a_drift_episode_an_approval_a_bad_day_and_a_late_day_are_each_told_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftloop.core.storage import QUARANTINE, VALIDATED
    from driftloop.data import synth

    loop = LoopRun("live alerts")
    *fed, never = loop.days
    broken = fed[3]  # before the shift: the bootstrap still has its labelled days
    mail = MailCatcher(tmp_path / "mail").start()
    chat, failing = WebhookReceiver(), WebhookReceiver(status=500)
    settings = {
        f"DRIFTLOOP__{k}": v
        for k, v in alert_settings(mail.port, monkeypatch, chat=chat, failing=failing).items()
    }
    env = {
        **loop.env,
        **settings,
        "AIRFLOW_CONN_SMTP_ALERTS": os.environ["AIRFLOW_CONN_SMTP_ALERTS"],
        "ALERTS_TEST_CHAT_URL": chat.url,
        "ALERTS_TEST_FAILING_URL": failing.url,
        "DRIFTLOOP__GATE__AUTO_PROMOTE": "false",
        "DRIFTLOOP__GATE__APPROVERS": "[admin]",
        # Long enough for the fed days (landed one by one while every sensor waits), then the
        # never-landing day is reported.
        "DRIFTLOOP_LANDING_TIMEOUT_SECONDS": "600",
        "DRIFTLOOP__MLFLOW__TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        # Own log-server ports: another live Airflow may run on this machine.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }
    server = _PatientServer(tmp_path, env)
    try:
        with loop.deployed(server, monkeypatch):
            store, cfg = loop.store, loop.cfg
            stop = threading.Event()
            answered: list[str] = []
            approver = threading.Thread(
                target=_approve_from_alerts, args=(server, mail, answered, stop), daemon=True
            )
            approver.start()
            shifted = synth.Scenario("covariate_shift", loop.shift)
            for day in fed:
                scenario = synth.Scenario("data_quality", day) if day == broken else shifted
                synth.write_day(store, cfg, day, scenario, seed=3, rows=ROWS, first_day=fed[0])
                zone = QUARANTINE if day == broken else VALIDATED
                server.wait_for(
                    lambda d=day, z=zone: store.partition_exists(z, d), 600, f"{day} ingested"
                )
            wait_settled(server, store, fed[-1])
            server.wait_for(
                lambda: any("not landed" in str(m["Subject"]) for m in mail.messages()),
                900,
                f"the late-data alert of {never}",
            )
            stop.set()
            subjects = [str(m["Subject"]) for m in mail.messages()]
            bodies = {
                str(m["Subject"]): str(m.get_body(("html",)).get_content()) for m in mail.messages()
            }
    finally:
        mail.stop()
        chat.stop()
        failing.stop()

    drift = [s for s in subjects if "drift alarm started" in s]
    assert len(drift) == 1, subjects
    assert len([m for m in chat.received if "drift alarm started" in m["message"]]) == 1
    approvals = [s for s in subjects if "waiting for approval" in s]
    assert len(approvals) == len(answered) == 2, (approvals, answered)  # first model, retrain
    assert all("Approvers: admin" in bodies[s] for s in approvals)
    assert [s for s in subjects if "day quarantined" in s] == [
        f"[driftloop] churn {broken}: day quarantined"
    ]
    assert [s for s in subjects if "not landed" in s] == [
        f"[driftloop] churn {never}: day not landed by its deadline"
    ]
    assert failing.received  # the 500s were tried ...
    runs = server.api("GET", "dags/~/dagRuns", params={"limit": 200})["dag_runs"]
    failed = {(r["dag_id"], r["logical_date"][:10]) for r in runs if r["state"] == "failed"}
    # ... and failed no task: only the two ingest runs that had to fail did.
    assert failed == {
        ("churn__ingest", broken.isoformat()),
        ("churn__ingest", never.isoformat()),
    }, failed
    assert never - timedelta(days=1) == fed[-1]


class _PatientServer(AirflowServer):
    """Waits longer for the api-server: this test shares its machine with other live stacks."""

    def start(self, ready_timeout: float = 300.0) -> AirflowServer:
        return super().start(ready_timeout)


_LINK = re.compile(
    r"/dags/(?P<dag>[^/]+)/runs/(?P<run>[^/]+)/tasks/(?P<task>[^/]+)/required_actions"
)


def _approve_from_alerts(
    server: AirflowServer, mail: MailCatcher, answered: list[str], stop: threading.Event
) -> None:
    """Approve each request a "waiting for approval" email links to, through the REST API."""
    while not stop.wait(2.0):
        for msg in mail.messages():
            if "waiting for approval" not in str(msg["Subject"]):
                continue
            body = str(msg.get_body(("html",)).get_content())
            m = _LINK.search(body)
            assert m, body
            run = unquote(m["run"])
            if run in answered:
                continue
            path = f"dags/{m['dag']}/dagRuns/{run}/taskInstances/{m['task']}/-1/hitlDetails"
            server.api("PATCH", path, json={"chosen_options": ["Approve"]})
            answered.append(run)
