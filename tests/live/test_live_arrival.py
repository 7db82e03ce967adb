"""Event-driven arrival under a real scheduler and triggerer (``arrival.mode: queue``).

One ``airflow standalone`` for the module, its ingest DAG switched to queue mode by configuration
only. A message on the arrival channel of the machine's Redis (an S3 object-created notification,
the body S3 would put on a queue) starts ingest of the day it names; so does the README's ``curl``
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

from tests.conftest import REPO, require_tcp
from tests.live.airflow_server import AirflowServer

pytestmark = [pytest.mark.live, pytest.mark.timeout(240)]

REDIS_HOST = os.environ.get("DRIFTLOOP_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("DRIFTLOOP_TEST_REDIS_PORT", "6379"))
DAG = "churn__ingest"


@pytest.fixture(scope="module")
def queue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowServer, str]]:
    """A standalone whose ingest listens on a channel of its own; yields it and the channel."""
    require_tcp(REDIS_HOST, REDIS_PORT, "Redis")
    channel = f"driftloop.test.{uuid.uuid4().hex[:10]}.landed"
    server = AirflowServer(
        tmp_path_factory.mktemp("arrival"),
        {
            "DRIFTLOOP__ARRIVAL__MODE": "queue",
            "DRIFTLOOP__ARRIVAL__QUEUE": channel,
            "AIRFLOW_CONN_REDIS_DEFAULT": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        },
    )
    t0 = time.monotonic()
    try:
        server.start()
        server.unpause(DAG)
        print(f"arrival server ready and {DAG} unpaused in {time.monotonic() - t0:.1f} s")
        yield server, channel
    except BaseException:
        print(server.dump_logs())
        raise
    finally:
        server.stop()


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
        for run in server.api("GET", f"dags/{DAG}/dagRuns")["dag_runs"]:
            if run["state"] not in ("success", "failed"):
                continue
            tis = server.api("GET", f"dags/{DAG}/dagRuns/{run['dag_run_id']}/taskInstances")
            days = {t["rendered_map_index"] for t in tis["task_instances"]}
            if day.isoformat() in days:
                return {**run, "tasks": tis["task_instances"]}
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


def test_a_queue_message_starts_ingest_of_the_partition_it_names(
    queue_server: tuple[AirflowServer, str],
) -> None:
    import redis

    server, channel = queue_server
    t0 = time.monotonic()
    day = date(2026, 3, 2)
    cfg = _land(server, day)
    # What S3 sends when the producer's last file lands (here through Redis pub/sub).
    notification = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "driftloop"},
                    "object": {"key": f"data/landing/{day}/features.csv", "size": 1},
                },
            }
        ]
    }
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    # Pub/sub keeps nothing for absent subscribers: publish until the watcher is listening, so the
    # message is delivered exactly once.
    server.wait_for(
        lambda: client.publish(channel, json.dumps(notification)) > 0,
        90,
        "the arrival watcher to subscribe",
        every=1,
    )
    published = time.monotonic() - t0
    _ingested(server, cfg, day)
    print(
        f"queue arrival: published after {published:.1f} s, ingested after {time.monotonic() - t0:.1f} s"
    )
    events = server.api("GET", "assets/events", params={"asset_id": _asset_id(server)})
    payloads = [e["extra"].get("payload") for e in events["asset_events"]]
    assert any(p and json.loads(p["data"]) == notification for p in payloads), payloads


def _asset_id(server: AirflowServer) -> int:
    assets = server.api("GET", "assets", params={"uri_pattern": "x-driftloop://churn/landed"})
    (asset,) = assets["assets"]
    return int(asset["id"])


def _readme_curl() -> str:
    """The README's command that records a ``landed`` event (between its marker comments)."""
    text = (REPO / "README.md").read_text()
    m = re.search(r"<!-- landed-event -->\s*```bash\n(.*?)```", text, re.S)
    assert m, "README: no landed-event curl block"
    return m.group(1)


def test_the_readme_curl_starts_ingest_of_its_partition(
    queue_server: tuple[AirflowServer, str],
) -> None:
    server, _ = queue_server
    t0 = time.monotonic()
    command = _readme_curl()
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
