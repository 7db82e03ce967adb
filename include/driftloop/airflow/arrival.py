"""Event-driven arrival (``arrival.mode: queue``): the ``landed`` asset, its queue watcher, and the
task that reads which partitions the events name.

The watcher's trigger runs in the triggerer; each message becomes an event of the ``landed``
asset with the message in ``extra["payload"]``, which
:func:`driftloop.airflow.partition.event_partitions` parses. By ``arrival.scheme``:

- ``redis+list`` (default): :class:`RedisQueueTrigger`, a Redis list used as a queue. Producers
  ``LPUSH``; each message is taken once and kept until then, so nothing is lost while the
  triggerer restarts or when several days land at once.
- any scheme of Airflow's ``MessageQueueTrigger`` (common-messaging provider), which hands it to
  the provider that serves it: ``redis+pubsub`` (redis provider, installed), ``sqs`` or ``kafka``
  (their providers; the trigger's arguments go in ``arrival.params``). The redis provider's pub/sub
  trigger returns after one message and is started again, and pub/sub keeps nothing for a
  listener that is not there: messages published in between (a burst) are lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Unpack

from airflow.sdk import Asset, AssetWatcher, Context
from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from driftloop.airflow.assets import pipeline_assets
from driftloop.airflow.body import task_body
from driftloop.airflow.partition import triggered_partitions
from driftloop.core.config import PipelineConfig

__all__ = [
    "RedisQueueTrigger",
    "default_queue",
    "landed_asset",
    "landed_partitions",
    "trigger_kwargs",
]

DURABLE_SCHEME = "redis+list"

log = logging.getLogger(__name__)


def default_queue(pipeline: str) -> str:
    """The Redis list (or pub/sub channel) a pipeline's arrivals go to unless configured."""
    return f"driftloop.{pipeline}.landed"


class RedisQueueTrigger(BaseEventTrigger):
    """Takes the messages waiting in the Redis list ``key`` (``LPOP``, up to ``batch`` at a time)
    and yields them as one event, for as long as it runs; while the list is empty it looks again
    every ``poll_interval`` seconds.

    Messages wait in the list until taken, so none is lost while no triggerer runs. Messages
    taken together make one asset event, hence one run: Airflow 3.3 creates an asset-triggered
    run from the first queued event and leaves an event of the same asset recorded just after
    that to the next run (its run queue holds one row per asset and DAG), so one event per message
    of a burst would leave the last deliveries waiting for the next arrival. Redis calls are
    blocking and run in a thread, keeping the triggerer's event loop free.
    """

    def __init__(
        self,
        key: str,
        redis_conn_id: str = "redis_default",
        poll_interval: float = 1.0,
        batch: int = 100,
    ) -> None:
        super().__init__()
        self.key = key
        self.redis_conn_id = redis_conn_id
        self.poll_interval = poll_interval
        self.batch = batch

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "key": self.key,
                "redis_conn_id": self.redis_conn_id,
                "poll_interval": self.poll_interval,
                "batch": self.batch,
            },
        )

    def _connect(self) -> Any:
        from airflow.providers.redis.hooks.redis import RedisHook

        return RedisHook(redis_conn_id=self.redis_conn_id).get_conn()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        conn = await asyncio.to_thread(self._connect)
        while True:
            items = await asyncio.to_thread(conn.lpop, self.key, self.batch)
            if not items:
                await asyncio.sleep(self.poll_interval)
                continue
            data = [i.decode() if isinstance(i, bytes) else str(i) for i in items]
            yield TriggerEvent({"queue": self.key, "data": data})


def trigger_kwargs(cfg: PipelineConfig) -> dict[str, Any]:
    """Arguments of the queue trigger: the scheme's defaults from ``arrival``, then ``params``."""
    arrival = cfg.arrival
    name = arrival.queue or default_queue(cfg.name)
    base: dict[str, Any] = {}
    if arrival.scheme == DURABLE_SCHEME:
        base = {"key": name, "redis_conn_id": arrival.conn_id}
    elif arrival.scheme == "redis+pubsub":
        base = {"channels": [name], "redis_conn_id": arrival.conn_id}
    if arrival.scheme in (DURABLE_SCHEME, "redis+pubsub"):
        base["poll_interval"] = arrival.poll_interval
    return {**base, **arrival.params}


def _trigger(cfg: PipelineConfig) -> BaseEventTrigger:
    if cfg.arrival.scheme == DURABLE_SCHEME:
        return RedisQueueTrigger(**trigger_kwargs(cfg))
    # Imported only for these schemes: the module asks the providers manager for queue providers.
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    return MessageQueueTrigger(scheme=cfg.arrival.scheme, **trigger_kwargs(cfg))


def landed_asset(cfg: PipelineConfig) -> Asset:
    """The pipeline's ``landed`` asset; in queue mode with a watcher on the arrival queue."""
    plain = pipeline_assets(cfg.name).landed
    if cfg.arrival.mode != "queue":
        return plain
    watcher = AssetWatcher(name=f"{cfg.name}_arrival_queue", trigger=_trigger(cfg))
    return Asset(name=plain.name, uri=plain.uri, watchers=[watcher])


@task_body
def landed_partitions(**context: Unpack[Context]) -> list[str]:
    """The days this run ingests: ``conf["date"]`` of a manual run, else every partition the
    triggering ``landed`` events name. None (a message about another object): the run is skipped.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    conf = context["dag_run"].conf or {}
    if conf.get("date"):
        from driftloop.core.partition import Partition

        return [str(Partition.of(conf["date"]))]
    days = [str(p) for p in triggered_partitions(context)]
    if not days:
        raise AirflowSkipException("the arrival events name no landed partition")
    log.info("landed: %s", ", ".join(days))
    return days
