"""The Airflow UI in a real browser, as a person uses it: log in, trigger ``train`` from its form
with the defaults, answer the approval the run asks for, and see the outcome.

A real ``airflow standalone`` on a fresh home with eight ingested days; promotion needs a person
(``gate.auto_promote: false``). Then a few more days are ingested and checked, and the pipeline's
monitoring view is opened from a DAG's page. Screenshots of every screen go to the test's tmp folder
(its path is printed), never into the repository.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from driftloop.local.stack import Service, free_port, mlflow_ready, wait_until
from tests.support.airflow_server import AirflowServer, seed_days

pytestmark = pytest.mark.timeout(600)


class Screens:
    """Numbered full-page screenshots of one test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.n = 0
        print(f"screenshots: {folder}")

    def __call__(self, page: Any, name: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def mlflow_ui(home: Path, tracking_uri: str, port: int) -> Iterator[str]:
    """The MLflow UI over the test's tracking store (where the task links point); yields its URL.

    Started before Airflow, so its schema migration of the SQLite store is done before any task
    opens the store.
    """
    url = f"http://127.0.0.1:{port}"
    mlflow = str(Path(sys.executable).parent / "mlflow")
    argv = [mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    argv += ["--backend-store-uri", tracking_uri]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    service = Service("mlflow", argv, env, home / "mlflow-ui.log")
    service.start(port=port, url=url)
    try:
        wait_until(lambda: mlflow_ready(url), 120, "the MLflow UI")
        yield url
    finally:
        service.stop()


def _task_state(server: AirflowServer, run_id: str, task_id: str) -> str | None:
    return server.api("GET", f"dags/churn__train/dagRuns/{run_id}/taskInstances/{task_id}")["state"]


def test_trigger_from_the_form_and_approve_from_required_actions(
    tmp_path: Path, browser: Any
) -> None:
    from driftloop.core.config import load_config
    from driftloop.model import registry

    tracking_uri, mlflow_port = f"sqlite:///{tmp_path / 'mlflow.db'}", free_port()
    server = AirflowServer(
        tmp_path,
        {
            "DRIFTLOOP__MLFLOW__TRACKING_URI": tracking_uri,
            "DRIFTLOOP__GATE__AUTO_PROMOTE": "false",
            "DRIFTLOOP_MLFLOW_UI_URL": f"http://127.0.0.1:{mlflow_port}",
        },
    )
    cfg = load_config(environ={k: v for k, v in server.env.items() if k.startswith("DRIFTLOOP")})
    shot = Screens(tmp_path / "screenshots")
    seed_days(cfg)
    with mlflow_ui(tmp_path, tracking_uri, mlflow_port) as mlflow_url, server:
        server.unpause("churn__train")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        base = server.base_url

        # Log in with the admin password of this deployment.
        page.goto(f"{base}/")
        page.wait_for_url("**/auth/login**")
        shot(page, "login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", server.password())
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/")

        # The train DAG's trigger form: every field titled and explained; trigger with defaults.
        page.goto(f"{base}/dags/churn__train")
        page.get_by_role("button", name="Trigger Dag").click()
        dialog = page.get_by_role("dialog")
        form = dialog.inner_text()
        for field in ("Window end", "Reason", "Algorithm", "Hyperparameters", "Auto-promote"):
            assert field in form, form
        assert "Empty: the newest day that has labels." in form
        shot(page, "trigger-form")
        dialog.get_by_role("button", name="Trigger").click()
        page.wait_for_url("**/dags/churn__train/runs/**")
        run_id = page.url.rsplit("/runs/", 1)[1].split("/")[0]
        shot(page, "run")

        # The run trains, passes the gate, and waits for a person.
        server.wait_for(
            lambda: (
                _task_state(server, run_id, "approve_promotion") == "awaiting_input"
                or _task_state(server, run_id, "train_model") == "failed"
            ),
            360,
            "the approval request",
            every=2,
        )
        assert _task_state(server, run_id, "approve_promotion") == "awaiting_input", (
            server.dump_logs()
        )
        page.goto(f"{base}/required_actions")
        page.get_by_text("Promote 1 to champion?").click()
        page.wait_for_url("**/tasks/approve_promotion/required_actions")
        page.get_by_role("button", name="Approve").wait_for()
        evidence = page.locator("body").inner_text()
        # Rendered Markdown: the verdict in bold, a table of the holdout metrics with each rule.
        assert "The gate passed (first_model)" in evidence and "**" not in evidence, evidence
        assert page.get_by_role("table").get_by_text("primary; floor 0.65: pass").count() == 1
        assert "Why this training:" in evidence and "Trained on:" in evidence, evidence
        shot(page, "approval")
        page.get_by_role("button", name="Approve").click()

        def finished() -> str | None:
            state = server.api("GET", f"dags/churn__train/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else None

        assert server.wait_for(finished, 120, "the run to finish", every=2) == "success"
        assert registry.aliases(cfg) == {"champion": "1"}
        page.goto(f"{base}/required_actions")
        page.get_by_text("Promote 1 to champion?").wait_for()
        time.sleep(1)  # the table refreshes its response columns
        listing = page.locator("body").inner_text()
        assert "admin" in listing, listing  # responded by
        shot(page, "answered")

        _follow_the_task_links(server, page, run_id, mlflow_url, shot)
        _see_the_monitoring_view(page, base, cfg, shot)


def _follow_the_task_links(
    server: AirflowServer, page: Any, run_id: str, mlflow_url: str, shot: Screens
) -> None:
    """The links the plugin gives the train run's task instances (as the UI reads them, from the
    REST API) open the MLflow pages they name: the training run and the registered version."""
    targets = {
        ("train_model", "MLflow run"): "roc_auc",
        ("gate", "Registry decision"): "champion",
    }
    for (task_id, name), expected in targets.items():
        path = f"dags/churn__train/dagRuns/{run_id}/taskInstances/{task_id}/links"
        href = server.api("GET", path)["extra_links"].get(name) or ""
        assert href.startswith(f"{mlflow_url}/#/"), (task_id, name, href)
        page.goto(href)
        page.get_by_text(expected).first.wait_for(timeout=60_000)
        shot(page, f"mlflow-{task_id}")


def _check_more_days(cfg: Any) -> list[date]:
    """Ingest and check three more days as the loop would (drift from the second one), and
    quarantine a fourth; returns the checked days."""
    from driftloop.core.storage import open_store
    from driftloop.data import synth
    from driftloop.data.ingest import ingest_partition
    from driftloop.monitor.daily_check import run_daily_check

    store = open_store(cfg.storage)
    first, start = date(2026, 3, 1), date(2026, 3, 9)
    drift = synth.Scenario("covariate_shift", start + timedelta(days=1))
    days = [start + timedelta(days=i) for i in range(3)]
    for day in days:
        synth.write_day(store, cfg, day, drift, seed=3, rows=600, first_day=first)
        assert ingest_partition(cfg, day, store).status == "validated"
        run_daily_check(cfg, day, store=store)
    bad = start + timedelta(days=3)
    synth.write_day(store, cfg, bad, drift, seed=3, rows=100, first_day=first)  # too few rows
    assert ingest_partition(cfg, bad, store).status == "quarantined"
    return days


def _see_the_monitoring_view(page: Any, base: str, cfg: Any, shot: Screens) -> None:
    """The pipeline's monitoring view, opened from a DAG's page and from the navigation."""
    from driftloop.core.storage import DRIFT, open_store, partition_prefix

    days = _check_more_days(cfg)
    store = open_store(cfg.storage)
    reasons = {
        d: store.read_json(f"{partition_prefix(DRIFT, d)}/report.json")["decision"]["reason"]
        for d in days
    }
    page.goto(f"{base}/dags/churn__drift_check")
    page.get_by_role("link", name="Monitoring", exact=True).click()
    page.wait_for_url("**/dags/churn__drift_check/plugin/driftloop-monitor")
    view = page.frame_locator("iframe")
    view.get_by_text("churn: monitoring").wait_for()
    # v1's band, the markers of its training and promotion (on the day it was trained through).
    assert view.locator("g.band[data-version='1']").count() == 1
    trained = view.locator("g.marker-trained[data-version='1']")
    promoted = view.locator("g.marker-promoted[data-version='1']")
    assert trained.count() == 1 and promoted.count() == 1
    assert promoted.get_attribute("data-day") == "2026-03-05"
    assert view.get_by_text("promoted v1").first.is_visible()
    # The decision log: each checked day, newest first, with the reason of its report.
    log = view.locator("tr[data-day]")
    assert log.count() == 3
    for i, d in enumerate(reversed(days)):
        row = log.nth(i)
        assert row.get_attribute("data-day") == d.isoformat()
        assert reasons[d].replace(" -> ", " → ") in row.inner_text()  # arrows drawn as one
    assert view.locator("rect.rows-quarantined").count() == 1  # the day with too few rows
    shot(page, "monitoring-in-dag")
    # A day's report link opens that report.
    log.first.get_by_role("link", name="report").click()
    view.get_by_text(f"Drift report {days[-1]}").wait_for()
    # The navigation's entry lists the pipelines; the whole view, as one page.
    page.goto(f"{base}/plugin/driftloop-pipelines")
    page.frame_locator("iframe").get_by_role("link", name="churn").click()
    page.frame_locator("iframe").get_by_text("churn: monitoring").wait_for()
    page.goto(f"{base}/driftloop/churn/monitor")
    shot(page, "monitoring")
