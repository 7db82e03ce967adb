"""Arrival mode switched by configuration: the same dags/ parse into a queue-driven ingest.

Parsed in a fresh interpreter with ``DRIFTLOOP__ARRIVAL__MODE=queue`` (the mode is read at parse
time and DagBag caches modules), and serialised as the dag-processor stores it for the scheduler
and the triggerer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_INSPECT = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization

bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags["churn__ingest"]
ser = DagSerialization.to_dict(dag)["dag"]
print(json.dumps({
    "errors": list(bag.import_errors),
    "tasks": sorted(t.task_id for t in dag.tasks),
    "mapped": sorted(t.task_id for t in dag.tasks if t.is_mapped),
    "catchup": dag.catchup,
    "timetable": ser["timetable"],
}))
"""


def _inspect(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP__")}
    env["DRIFTLOOP__ARRIVAL__MODE"] = mode
    done = subprocess.run(
        [sys.executable, "-c", _INSPECT, str(REPO / "dags")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_queue_mode_ingests_what_the_landed_asset_watcher_reports() -> None:
    queue = _inspect("queue")
    assert queue["errors"] == []
    # No sensor: the partitions come from the triggering events, one mapped ingest each.
    assert queue["tasks"] == ["ingest_and_validate", "landed_partitions"]
    assert queue["mapped"] == ["ingest_and_validate"]
    assert queue["catchup"] is False
    text = json.dumps(queue["timetable"])
    assert "x-driftloop://churn/landed" in text
    assert "driftloop.airflow.arrival.RedisQueueTrigger" in text
    assert '"driftloop.churn.landed"' in text

    sensor = _inspect("sensor")
    assert sensor["errors"] == []
    assert sensor["tasks"] == ["ingest_and_validate", "wait_for_landing"]
    assert "RedisQueueTrigger" not in json.dumps(sensor["timetable"])
