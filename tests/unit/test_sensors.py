"""The deferrable sensors: done at once when the keys exist, else they defer to StoreKeysTrigger."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from driftloop.airflow.sensors import (
    LandingSensor,
    ScoredSensor,
    StoreKeysTrigger,
    landing_keys,
    scored_keys,
)
from driftloop.core.storage import open_store

DAY = "2026-01-05"


@dataclass
class Run:
    conf: dict[str, Any] = field(default_factory=dict)


@dataclass
class Dag:
    dag_id: str = "churn__ingest"  # the sensor finds its pipeline from its DAG id


def _context(conf: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "dag": Dag(),
        "dag_run": Run(conf or {}),
        "logical_date": datetime(2026, 1, 5, tzinfo=UTC),
    }


def test_landing_sensor_defers_to_the_store_trigger_when_nothing_landed(cfg_factory) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    cfg = cfg_factory()
    sensor = LandingSensor(task_id="wait_for_landing", poke_interval=7.0, timeout=3600.0)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(_context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, StoreKeysTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(hours=1)
    path, kwargs = trigger.serialize()
    assert path == "driftloop.airflow.sensors.StoreKeysTrigger"  # loadable by the triggerer
    # The trigger knows the deadline itself (a late day fails as timed out, dag.test included).
    assert 3500 < kwargs.pop("deadline") - time.time() <= 3600
    assert kwargs == {
        "root": cfg.storage.root,
        "partition": DAY,
        "keys": landing_keys(DAY),
        "poke_interval": 7.0,
        "endpoint_url": cfg.storage.s3_endpoint_url,
    }
    assert kwargs["keys"] == [f"landing/{DAY}/features.csv", f"landing/{DAY}/features.parquet"]


def test_a_conf_date_picks_the_partition_the_sensor_waits_for(cfg_factory) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    cfg_factory()
    sensor = ScoredSensor(task_id="wait_for_scoring")
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(_context({"date": "2026-02-01"}))
    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["partition"] == "2026-02-01"
    assert kwargs["keys"] == scored_keys("2026-02-01")
    assert len(kwargs["keys"]) == 3  # predictions, no-champion record, quarantine


@pytest.mark.parametrize("name", ["features.csv", "features.parquet"])
def test_already_landed_returns_the_partition_without_deferring(cfg_factory, name: str) -> None:
    cfg = cfg_factory()
    open_store(cfg.storage).write_bytes(f"landing/{DAY}/{name}", b"id\n1\n")
    sensor = LandingSensor(task_id="wait_for_landing")
    assert sensor.execute(_context()) == DAY


def test_the_landing_trigger_fires_on_a_parquet_delivery(cfg_factory) -> None:
    cfg = cfg_factory()
    store = open_store(cfg.storage)
    store.write_bytes(f"landing/{DAY}/features.parquet", b"PAR1")
    trigger = StoreKeysTrigger(cfg.storage.root, DAY, landing_keys(DAY), poke_interval=0.01)

    async def first_event() -> Any:
        return await anext(aiter(trigger.run()))

    event = asyncio.run(asyncio.wait_for(first_event(), timeout=10))
    assert event.payload["uri"] == store.uri(f"landing/{DAY}/features.parquet")


def test_the_trigger_fires_once_a_key_exists(cfg_factory) -> None:
    cfg = cfg_factory()
    store = open_store(cfg.storage)
    key = scored_keys(DAY)[-1]
    store.write_bytes(key, b"")
    trigger = StoreKeysTrigger(cfg.storage.root, DAY, scored_keys(DAY), poke_interval=0.01)

    async def first_event() -> Any:
        return await anext(aiter(trigger.run()))

    event = asyncio.run(asyncio.wait_for(first_event(), timeout=10))
    assert event.payload == {"partition": DAY, "uri": store.uri(key)}
