"""Waiting for data: deferrable sensors for a partition's keys in the store, and their trigger.

A sensor succeeds at once if one of its keys is already in the store; otherwise it frees its worker
slot and defers to ``StoreKeysTrigger``, which polls the driftloop store (a local folder or
``s3://``) from the triggerer until one of the keys exists.

- ``LandingSensor``: ``landing/<partition>/features.csv`` or ``features.parquet`` (written last by
  the producer, so its presence means the whole delivery has arrived).
- ``ScoredSensor``: the partition has been through ingest and scoring: it was quarantined,
  predictions were written, or a scoring record says why not (the score DAG found no champion to
  score with, or the ingest failed for good: a config error is not waited for).

The trigger is serialised by import path (``driftloop.airflow.sensors.StoreKeysTrigger``): the triggerer
loads it from the installed package, never from dags/.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue
from airflow.triggers.base import BaseTrigger, TriggerEvent

from driftloop.airflow.partition import resolve_partition
from driftloop.core.partition import Partition, PartitionLike

__all__ = [
    "LandingSensor",
    "ScoredSensor",
    "StoreKeysTrigger",
    "landing_keys",
    "scored_keys",
]


def landing_keys(partition: PartitionLike) -> list[str]:
    """Keys of which any one signals that ``partition`` has landed: its features file, CSV or
    Parquet (a delivery holding both is refused by ingest, not here)."""
    from driftloop.core.storage import landing_features_keys

    return landing_features_keys(partition)


def scored_keys(partition: PartitionLike) -> list[str]:
    """Keys of which any one says ``partition`` is through ingest and scoring."""
    from driftloop.core.storage import (
        PREDICTIONS,
        QUARANTINE,
        SCORING,
        SUCCESS,
        partition_prefix,
    )

    return [
        f"{partition_prefix(z, partition)}/{SUCCESS}" for z in (PREDICTIONS, SCORING, QUARANTINE)
    ]


def _store(root: str, endpoint_url: str | None) -> Any:
    from driftloop.core.config import Storage
    from driftloop.core.storage import open_store

    return open_store(Storage(root=root, s3_endpoint_url=endpoint_url))


def _first_present(store: Any, keys: Sequence[str]) -> str | None:
    return next((k for k in keys if store.exists(k)), None)


class StoreKeysTrigger(BaseTrigger):
    """Fires once any of ``keys`` exists in the store at ``root``.

    Store calls are blocking (boto3, file system), so each poll runs in a thread and the
    triggerer's event loop stays free for the other triggers it hosts.
    """

    def __init__(
        self,
        root: str,
        partition: str,
        keys: Sequence[str],
        poke_interval: float = 30.0,
        endpoint_url: str | None = None,
        deadline: float | None = None,
    ) -> None:
        super().__init__()
        # Epoch seconds after which the trigger reports a timeout itself (the scheduler's deferral
        # timeout stays the backstop): the sensor then fails as timed out wherever it runs,
        # dag.test() included, and the day is reported as not landed.
        self.deadline = deadline
        self.root = root
        self.partition = partition
        self.keys = list(keys)
        self.poke_interval = poke_interval
        self.endpoint_url = endpoint_url

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "root": self.root,
                "partition": self.partition,
                "keys": self.keys,
                "poke_interval": self.poke_interval,
                "endpoint_url": self.endpoint_url,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        store = await asyncio.to_thread(_store, self.root, self.endpoint_url)
        while (found := await asyncio.to_thread(_first_present, store, self.keys)) is None:
            if self.deadline is not None and time.time() >= self.deadline:
                yield TriggerEvent({"partition": self.partition, "timeout": True})
                return
            self.log.info("waiting for %s", " or ".join(store.uri(k) for k in self.keys))
            await asyncio.sleep(self.poke_interval)
        yield TriggerEvent({"partition": self.partition, "uri": store.uri(found)})


class _PartitionKeysSensor(BaseSensorOperator):
    """Waits until one of the partition's keys (``keys_for``) exists; returns the partition as XCom.

    The partition is ``partition`` if given (templated), else resolved from the run: ``conf['date']``,
    the triggering asset event's ``partition`` extra, or the logical date. The store comes from the
    pipeline config at execution time (never at parse time).
    """

    template_fields: Sequence[str] = ("partition",)
    waiting_for = "data"

    def __init__(
        self,
        *,
        partition: str | None = None,
        deferrable: bool = True,
        poke_interval: float = 60.0,
        timeout: float = 12 * 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.partition = partition
        self.deferrable = deferrable

    def keys_for(self, partition: Partition) -> list[str]:
        raise NotImplementedError

    def _partition(self, context: Context) -> Partition:
        return Partition.of(self.partition) if self.partition else resolve_partition(context)

    def _storage(self, context: Context) -> tuple[str, str | None]:
        from driftloop.airflow.factory import pipeline_config

        storage = pipeline_config(context).storage
        return storage.root, storage.s3_endpoint_url

    def poke(self, context: Context) -> PokeReturnValue:
        partition = self._partition(context)
        store = _store(*self._storage(context))
        found = _first_present(store, self.keys_for(partition))
        if found:
            self.log.info("%s %s: %s", self.waiting_for, partition, store.uri(found))
        else:
            self.log.info("%s %s: not yet", self.waiting_for, partition)
        return PokeReturnValue(is_done=found is not None, xcom_value=str(partition))

    def execute(self, context: Context) -> str | None:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        root, endpoint_url = self._storage(context)
        partition = Partition.of(str(first.xcom_value))
        self.defer(
            trigger=StoreKeysTrigger(
                root=root,
                partition=str(partition),
                keys=self.keys_for(partition),
                poke_interval=self.poke_interval,
                endpoint_url=endpoint_url,
                deadline=time.time() + self.timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )
        return None  # not reached: defer() raises

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str:
        if event.get("timeout"):
            from airflow.sdk.exceptions import AirflowSensorTimeout

            raise AirflowSensorTimeout(
                f"{self.waiting_for} {event['partition']}: not there after {self.timeout:g}s"
            )
        self.log.info("%s %s: %s", self.waiting_for, event["partition"], event["uri"])
        return str(event["partition"])


class LandingSensor(_PartitionKeysSensor):
    """Waits until the run's partition has landed (``landing/<partition>/features.csv`` or
    ``features.parquet``)."""

    waiting_for = "landed"

    def keys_for(self, partition: Partition) -> list[str]:
        return landing_keys(partition)


class ScoredSensor(_PartitionKeysSensor):
    """Waits until the run's partition is through ingest and scoring (or quarantined)."""

    waiting_for = "ready to check"

    def keys_for(self, partition: Partition) -> list[str]:
        return scored_keys(partition)
