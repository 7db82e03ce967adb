"""A real Airflow: the trigger forms of ``train`` and ``promote`` work with their defaults.

A fresh deployment with a few ingested days: ``train`` triggered with exactly the defaults its form
shows trains and promotes a first champion; ``promote`` with only ``action=rollback`` changed needs
no version. The task logs are then read from disk as a person would: the INFO lines say what
happened, and no library warning or mislabelled MLflow line is in the way.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.airflow_server import AirflowServer, log_text, seed_days

pytestmark = pytest.mark.timeout(300)

START = date(2026, 3, 1)
DAYS = 8  # labels arrive 3 days late: 5 labelled days, 4 needed (3 holdout + 1)
ROWS = 300  # 1,500 labelled rows >= training.min_train_rows (1,000)


def _defaults(server: AirflowServer, dag_id: str) -> dict[str, Any]:
    """The values the trigger form starts with, from the DAG's params as the API serves them."""
    params = server.api("GET", f"dags/{dag_id}/details")["params"]
    for name, spec in params.items():
        schema = spec["schema"]
        assert schema.get("title") and spec.get("description"), f"{dag_id}.{name}: no title/desc"
    return {name: spec["value"] for name, spec in params.items()}


def _trigger(server: AirflowServer, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    """POST a run; on a 500 (seen once under CI load: the standalone's SQLite busy while the
    dag-processor wrote), use the run if it was created after all, else post again."""
    for attempt in range(3):
        before = {r["dag_run_id"] for r in server.api("GET", f"dags/{dag_id}/dagRuns")["dag_runs"]}
        try:
            body = {"logical_date": None, "conf": conf}
            return dict(server.api("POST", f"dags/{dag_id}/dagRuns", json=body))
        except requests.HTTPError as err:
            if err.response is None or err.response.status_code < 500 or attempt == 2:
                raise
            print(f"POST dagRuns of {dag_id}: {err}; retrying")
            time.sleep(3)
            runs = server.api("GET", f"dags/{dag_id}/dagRuns")["dag_runs"]
            created = [r for r in runs if r["dag_run_id"] not in before]
            if created:
                return dict(created[0])
    raise AssertionError("unreachable")


def _run(server: AirflowServer, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    run = _trigger(server, dag_id, conf)

    def finished() -> dict[str, Any] | None:
        state = server.api("GET", f"dags/{dag_id}/dagRuns/{run['dag_run_id']}")
        return state if state["state"] in ("success", "failed") else None

    return server.wait_for(finished, 120, f"{dag_id} run to finish", every=1)


def test_forms_work_with_their_defaults_and_logs_say_what_happened(tmp_path: Path) -> None:
    from driftloop.core.config import load_config
    from driftloop.model import registry

    t0 = time.monotonic()
    timings: dict[str, float] = {}
    server = AirflowServer(
        tmp_path,
        {
            "DRIFTLOOP__MLFLOW__TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
            # The level `make airflow` runs with (localenv's default); the test session itself
            # sets WARNING for its in-process runs, and the harness would pass that on.
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        },
    )
    cfg = load_config(environ={k: v for k, v in server.env.items() if k.startswith("DRIFTLOOP")})
    try:
        newest_labelled = seed_days(cfg, START, DAYS, ROWS)
        timings["seeded"] = time.monotonic() - t0
        server.start()
        timings["ready"] = time.monotonic() - t0
        for dag_id in ("churn__train", "churn__promote"):
            server.unpause(dag_id)

        # train, exactly as the form starts: every param at its default.
        defaults = _defaults(server, "churn__train")
        assert defaults["date"] is None and defaults["auto_promote"] == "as_configured"
        run = _run(server, "churn__train", defaults)
        timings["train"] = time.monotonic() - t0
        assert run["state"] == "success", server.dump_logs()
        assert registry.aliases(cfg) == {"champion": "1"}
        tags = registry.get_version(cfg, "1").tags
        assert tags["driftloop.decision"] == "promoted to champion by gate (auto-promote)"

        log = server.task_log("churn__train", run["dag_run_id"], "train_model")
        print(f"--- train_model log ({len(log)} lines) ---\n{log_text(log)}")
        text = log_text(log)
        assert f"window end: {newest_labelled}, the newest day with labels" in text
        assert "registered churn-model v1" in text and "MLflow run: http" in text
        assert "training gradient_boosting on the 21-day window" in text
        # MLflow's lines at their own level; no library warnings, nothing on stderr.
        mlflow_lines = {e["event"]: e["level"] for e in log if e.get("logger") == "mlflow"}
        assert mlflow_lines.get("Successfully registered model 'churn-model'.") == "info"
        assert not [e for e in log if e.get("logger") in ("py.warnings", "task.stderr")], text
        assert not [e for e in log if e.get("level") not in ("info", "debug")], text
        assert len(log) < 40, text
        gate_log = log_text(server.task_log("churn__train", run["dag_run_id"], "route"))
        assert "v1 passed the gate; auto-promote is on: promoting" in gate_log
        outcome = log_text(server.task_log("churn__train", run["dag_run_id"], "record_outcome"))
        assert "v1 is the champion" in outcome

        # An invalid date is refused before a run exists.
        bad = requests.post(
            f"{server.base_url}/api/v2/dags/churn__train/dagRuns",
            headers={"Authorization": f"Bearer {server.token()}"},
            json={"logical_date": None, "conf": {**defaults, "date": "2026-02-30"}},
            timeout=15,
        )
        assert bad.status_code == 400, bad.text

        # promote with the form's defaults and no version: a one-line error from the first task.
        promote_defaults = _defaults(server, "churn__promote")
        assert promote_defaults["version"] is None and promote_defaults["reason"]
        run = _run(server, "churn__promote", promote_defaults)
        assert run["state"] == "failed"
        text = log_text(server.task_log("churn__promote", run["dag_run_id"], "apply"))
        assert (
            "AirflowFailException: version: action=promote needs the registered version" in text
        ), text
        tries = server.api(
            "GET", f"dags/churn__promote/dagRuns/{run['dag_run_id']}/taskInstances/apply"
        )
        assert tries["try_number"] == 1  # not retried: a retry cannot add a version

        # A second training on the same data ties with the champion: it stays a challenger. Then
        # promote it by hand, and roll back with only the action changed from the defaults.
        run = _run(server, "churn__train", defaults)
        assert run["state"] == "success"
        assert registry.aliases(cfg) == {"champion": "1", "challenger": "2"}
        route = log_text(server.task_log("churn__train", run["dag_run_id"], "route"))
        assert "v2 stays a challenger: the gate rejected it" in route
        run = _run(server, "churn__promote", {**promote_defaults, "version": "2"})
        assert run["state"] == "success"
        assert registry.aliases(cfg) == {"champion": "2", "previous_champion": "1"}
        run = _run(server, "churn__promote", {**promote_defaults, "action": "rollback"})
        timings["promote"] = time.monotonic() - t0
        assert run["state"] == "success"
        assert registry.aliases(cfg) == {"champion": "1", "previous_champion": "2"}
        record = registry.read_records(cfg)
        rollback = [r for r in record if r["action"] == "rollback-from-v2"]
        assert rollback and rollback[0]["reason"] == promote_defaults["reason"]
        text = log_text(server.task_log("churn__promote", run["dag_run_id"], "apply"))
        assert "rollback by admin: champion v1 (previous champion: v2)" in text, text

        # No task log of the whole session carries a library warning or raw stderr output.
        noisy = server.noisy_task_logs()
        assert not noisy, noisy
    except BaseException:
        print(server.dump_logs())
        raise
    finally:
        server.stop()
        timings["total"] = time.monotonic() - t0
        print("live forms timings (s):", {k: round(v, 1) for k, v in timings.items()})
