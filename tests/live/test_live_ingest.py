"""A real Airflow ingests a batch that lands while its sensor is deferred: nobody triggers anything."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.support.airflow_server import AirflowServer
from tests.support.web import external, loaded_urls

pytestmark = pytest.mark.timeout(400)


def test_scheduled_run_ingests_data_that_lands_after_the_sensor_deferred(tmp_path: Path) -> None:
    from driftloop.core.config import load_config
    from driftloop.core.storage import open_store
    from driftloop.data import synth

    t0 = time.monotonic()
    today = datetime.now(UTC).date()
    server = AirflowServer(tmp_path, {"DRIFTLOOP__SCHEDULE__START_DATE": today.isoformat()})
    timings: dict[str, float] = {}
    try:
        server.start()
        timings["ready"] = time.monotonic() - t0
        server.unpause("churn__ingest")

        def deferred_run() -> dict | None:
            runs = server.api("GET", "dags/churn__ingest/dagRuns")["dag_runs"]
            for run in runs:
                tis = server.api(
                    "GET", f"dags/churn__ingest/dagRuns/{run['dag_run_id']}/taskInstances"
                )
                states = {ti["task_id"]: ti["state"] for ti in tis["task_instances"]}
                if states.get("wait_for_landing") == "deferred":
                    return run
            return None

        run = server.wait_for(deferred_run, 120, "the landing sensor to defer", every=2)
        timings["deferred"] = time.monotonic() - t0
        day = datetime.fromisoformat(run["logical_date"]).date()
        assert run["run_type"] == "scheduled"

        cfg = load_config(
            environ={k: v for k, v in server.env.items() if k.startswith("DRIFTLOOP")}
        )
        store = open_store(cfg.storage)
        assert not store.exists(f"landing/{day.isoformat()}/features.csv")
        synth.write_day(store, cfg, day, synth.Scenario(), seed=5, rows=300)

        def finished() -> str | None:
            state = server.api("GET", f"dags/churn__ingest/dagRuns/{run['dag_run_id']}")["state"]
            return state if state in ("success", "failed") else None

        state = server.wait_for(finished, 120, "the run to finish", every=2)
        timings["finished"] = time.monotonic() - t0
        assert state == "success", server.dump_logs()
        assert store.exists(f"validated/date={day.isoformat()}/_SUCCESS")
        assert len(store.read_table("validated", day)) > 0

        events = server.api("GET", "assets/events", params={"source_dag_id": "churn__ingest"})
        extras = [e["extra"] for e in events["asset_events"] if e["extra"].get("rows")]
        assert {
            "partition": day.isoformat(),
            "rows": len(store.read_table("validated", day)),
            "uri": store.uri(f"validated/date={day.isoformat()}"),
        } in extras

        # The task's "Data docs" link resolves to a page the API server serves to logged-in users.
        links = server.api(
            "GET",
            f"dags/churn__ingest/dagRuns/{run['dag_run_id']}/taskInstances/ingest_and_validate/links",
        )["extra_links"]
        assert links["Data docs"].startswith("/driftloop/churn/data-docs/validations/"), links
        page = requests.get(
            server.base_url + links["Data docs"],
            headers={"Authorization": f"Bearer {server.token()}"},
            timeout=15,
        )
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert day.isoformat() in page.text
        # Offline: its scripts and styles come from the plugin, each one served.
        page_url = server.base_url + links["Data docs"]
        urls = loaded_urls(page.text)
        assert urls and not external(urls), external(urls)
        for url in {urljoin(page_url, u) for u in urls}:
            asset = requests.get(
                url, headers={"Authorization": f"Bearer {server.token()}"}, timeout=15
            )
            assert asset.status_code == 200, url
        anonymous = requests.get(server.base_url + links["Data docs"], timeout=15)
        assert anonymous.status_code in (401, 403)
        escape = requests.get(
            server.base_url + "/driftloop/churn/data-docs/..%2F..%2Fairflow%2Fairflow.cfg",
            headers={"Authorization": f"Bearer {server.token()}"},
            timeout=15,
        )
        assert escape.status_code == 404
    except BaseException:
        print(server.dump_logs())
        raise
    finally:
        server.stop()
        timings["total"] = time.monotonic() - t0
        print("live ingest timings (s):", {k: round(v, 1) for k, v in timings.items()})
