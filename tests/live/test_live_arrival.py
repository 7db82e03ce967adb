"""Event-driven arrival under a real scheduler and triggerer (``arrival.mode: queue``).

One ``airflow standalone`` for the module, its ingest DAG switched to queue mode by configuration
only. Messages on the arrival queue (a Redis list on the machine's Redis: an S3 object-created
notification, the body S3 would put on a queue, and an object key) start ingest of the days they
name, none lost when they come at once; so does the documented ``curl`` (examples/landed_event.sh)
that records a ``landed`` asset event through the REST API. Nobody triggers a DAG run, and the
ingest DAG has no sensor in this mode: the validated partition of that day is the outcome checked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import requests

from tests.support import REPO
from tests.support.airflow_server import AirflowServer
from tests.support.services import REDIS_HOST, REDIS_PORT, require_tcp

pytestmark = pytest.mark.timeout(240)

DAG = "churn__ingest"


@pytest.fixture(scope="module")
def queue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowServer, str]]:
    """A standalone whose ingest reads a queue of its own; yields it and the queue's name."""
    require_tcp(REDIS_HOST, REDIS_PORT, "Redis")
    queue = f"driftloop.test.{uuid.uuid4().hex[:10]}.landed"
    server = AirflowServer(
        tmp_path_factory.mktemp("arrival"),
        {
            # Only ingest runs (unpaused below): no catch-up of the daily checks, no scoring.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "DRIFTLOOP__ARRIVAL__MODE": "queue",
            "DRIFTLOOP__ARRIVAL__QUEUE": queue,
            "AIRFLOW_CONN_REDIS_DEFAULT": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        },
    )
    t0 = time.monotonic()
    try:
        server.start()
        server.unpause(DAG)
        print(f"arrival server ready and {DAG} unpaused in {time.monotonic() - t0:.1f} s")
        yield server, queue
    except BaseException:
        print(server.dump_logs())
        raise
    finally:
        server.stop()
        import redis

        redis.Redis(host=REDIS_HOST, port=REDIS_PORT).delete(queue)


def _land(server: AirflowServer, day: date) -> Any:
    """Write ``day``'s demo delivery into the server's landing zone; returns the config."""
    from driftloop.core.config import load_config
    from driftloop.core.storage import open_store
    from driftloop.data import synth

    cfg = load_config(environ={k: v for k, v in server.env.items() if k.startswith("DRIFTLOOP")})
    synth.write_day(open_store(cfg.storage), cfg, day, synth.Scenario(), seed=5, rows=300)
    return cfg


def _ingested(server: AirflowServer, cfg: Any, day: date, timeout: float = 150) -> dict[str, Any]:
    """Wait for the one run that ingests ``day``; check how it started and what it wrote."""
    from driftloop.core.storage import open_store

    def run_of_day() -> dict[str, Any] | None:
        # One listing per poll; a slow answer from a loaded machine is just another poll.
        try:
            tis = server.api(
                "GET",
                f"dags/{DAG}/dagRuns/~/taskInstances",
                params={"task_id": "ingest_and_validate", "limit": 100},
            )["task_instances"]
            (ti,) = [t for t in tis if t["rendered_map_index"] == day.isoformat()] or [None]
            if ti is None or ti["state"] not in ("success", "failed"):
                return None
            run = server.api("GET", f"dags/{DAG}/dagRuns/{ti['dag_run_id']}")
            if run["state"] not in ("success", "failed"):
                return None
            path = f"dags/{DAG}/dagRuns/{ti['dag_run_id']}/taskInstances"
            return {**run, "tasks": server.api("GET", path)["task_instances"]}
        except requests.RequestException:
            return None

    run = server.wait_for(run_of_day, timeout, f"a run ingesting {day}", every=2)
    assert run["state"] == "success", server.dump_logs()
    # Started by the asset event, not by a schedule, a trigger or a sensor.
    assert run["run_type"] == "asset_triggered"
    assert {t["task_id"] for t in run["tasks"]} == {"landed_partitions", "ingest_and_validate"}
    store = open_store(cfg.storage)
    assert store.exists(f"validated/date={day.isoformat()}/_SUCCESS")
    rows = len(store.read_table("validated", day))
    assert rows > 0
    events = server.api("GET", "assets/events", params={"source_dag_id": DAG})["asset_events"]
    assert {
        "partition": day.isoformat(),
        "rows": rows,
        "uri": store.uri(f"validated/date={day}"),
    } in [e["extra"] for e in events]
    return run


def _notification(key: str) -> dict[str, Any]:
    """What S3 sends to a queue when an object is created."""
    return {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "driftloop"}, "object": {"key": key, "size": 1}},
            }
        ]
    }


def test_queue_messages_start_ingest_of_the_partitions_they_name(
    queue_server: tuple[AirflowServer, str],
) -> None:
    import redis

    server, queue = queue_server
    t0 = time.monotonic()
    days = [date(2026, 3, 2), date(2026, 3, 4)]
    for day in days:
        cfg = _land(server, day)
    # Two deliveries announced at once (a burst): an S3 notification and a bare object key.
    messages = [
        json.dumps(_notification(f"data/landing/{days[0]}/features.csv")),
        f"s3://driftloop/data/landing/{days[1]}/features.csv",
    ]
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT).rpush(queue, *messages)
    for day in days:
        _ingested(server, cfg, day)
    print(f"queue arrival: both days ingested {time.monotonic() - t0:.1f} s after the messages")
    events = server.api("GET", "assets/events", params={"asset_id": _asset_id(server)})
    payloads = [e["extra"].get("payload") for e in events["asset_events"]]
    # Taken together from the queue: one event, one run for both days.
    assert [p["data"] for p in payloads if p] == [messages], payloads


def _asset_id(server: AirflowServer) -> int:
    assets = server.api("GET", "assets", params={"uri_pattern": "x-driftloop://churn/landed"})
    (asset,) = assets["assets"]
    return int(asset["id"])


def _documented_curl() -> str:
    """The documented command that records a ``landed`` event (included in docs/operations)."""
    return (REPO / "examples" / "landed_event.sh").read_text()


def test_the_documented_curl_starts_ingest_of_its_partition(
    queue_server: tuple[AirflowServer, str],
) -> None:
    server, _ = queue_server
    t0 = time.monotonic()
    command = _documented_curl()
    body = json.loads(re.search(r"-d '(.*?)'", command, re.S).group(1))  # type: ignore[union-attr]
    assert set(body) == {"asset_id", "extra"} and set(body["extra"]) == {"partition"}
    day = date.fromisoformat(body["extra"]["partition"])
    cfg = _land(server, day)
    # The command as written; only the example asset id becomes this server's.
    command = command.replace(f'"asset_id": {body["asset_id"]}', f'"asset_id": {_asset_id(server)}')
    done = subprocess.run(
        ["bash", "-c", command],
        env={**os.environ, "AIRFLOW_URL": server.base_url, "TOKEN": server.token()},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    recorded = json.loads(done.stdout)
    assert recorded["extra"]["partition"] == day.isoformat()
    _ingested(server, cfg, day)
    print(f"REST arrival: ingested after {time.monotonic() - t0:.1f} s")
