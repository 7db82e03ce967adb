"""Waiting for data: a deferrable sensor for a landed partition and the trigger it defers to.

``LandingSensor`` succeeds at once if ``landing/<partition>/features.csv`` is already there;
otherwise it frees its worker slot and defers to ``LandingTrigger``, which polls the driftloop store
(a local folder or ``s3://``) from the triggerer. ``features.csv`` is written last by the producer,
so its presence means the whole delivery has arrived.

The trigger is serialised by import path (``driftloop.sensors.LandingTrigger``): the triggerer loads
it from the installed package, never from dags/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.triggers.base import BaseTrigger, TriggerEvent

from driftloop.orchestration import resolve_partition

FEATURES_FILE = "features.csv"


def landing_key(partition: str) -> str:
    """The key whose arrival signals that ``partition`` has landed."""
    from driftloop.storage import landing_prefix

    return f"{landing_prefix(partition)}/{FEATURES_FILE}"


def _store(root: str, endpoint_url: str | None) -> Any:
    from driftloop.config import Storage
    from driftloop.storage import open_store

    return open_store(Storage(root=root, s3_endpoint_url=endpoint_url))


class LandingTrigger(BaseTrigger):
    """Fires once ``landing/<partition>/features.csv`` exists in the store at ``root``.

    Store calls are blocking (boto3, file system), so each poll runs in a thread and the
    triggerer's event loop stays free for the other triggers it hosts.
    """

    def __init__(
        self,
        root: str,
        partition: str,
        poke_interval: float = 30.0,
        endpoint_url: str | None = None,
    ) -> None:
        super().__init__()
        self.root = root
        self.partition = partition
        self.poke_interval = poke_interval
        self.endpoint_url = endpoint_url

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "root": self.root,
                "partition": self.partition,
                "poke_interval": self.poke_interval,
                "endpoint_url": self.endpoint_url,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        key = landing_key(self.partition)
        store = await asyncio.to_thread(_store, self.root, self.endpoint_url)
        while not await asyncio.to_thread(store.exists, key):
            self.log.info("waiting for %s", store.uri(key))
            await asyncio.sleep(self.poke_interval)
        yield TriggerEvent({"partition": self.partition, "uri": store.uri(key)})


class LandingSensor(BaseSensorOperator):
    """Waits until the run's partition has landed; returns the partition (ISO date) as XCom.

    The partition is ``partition`` if given (templated), else resolved from the run: ``conf['date']``,
    the triggering asset event's ``partition`` extra, or the logical date. The store comes from the
    pipeline config at execution time (never at parse time).
    """

    template_fields: Sequence[str] = ("partition",)

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

    def _partition(self, context: Any) -> str:
        return self.partition or resolve_partition(context)

    def _storage(self) -> tuple[str, str | None]:
        from driftloop.config import load_config

        storage = load_config().storage
        return storage.root, storage.s3_endpoint_url

    def poke(self, context: Any) -> PokeReturnValue:
        partition = self._partition(context)
        store = _store(*self._storage())
        arrived = store.exists(landing_key(partition))
        self.log.info(
            "%s: %s", store.uri(landing_key(partition)), "arrived" if arrived else "not yet"
        )
        return PokeReturnValue(is_done=arrived, xcom_value=partition)

    def execute(self, context: Any) -> str | None:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        root, endpoint_url = self._storage()
        self.defer(
            trigger=LandingTrigger(
                root=root,
                partition=str(first.xcom_value),
                poke_interval=self.poke_interval,
                endpoint_url=endpoint_url,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )
        return None  # not reached: defer() raises

    def execute_complete(self, context: Any, event: dict[str, Any]) -> str:
        self.log.info("landed: %s", event["uri"])
        return str(event["partition"])
