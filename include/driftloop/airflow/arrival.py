"""Event-driven arrival (``arrival.mode: queue``): the ``landed`` asset, its queue watcher, and the
task that reads which partitions the events name.

The watcher is Airflow's ``MessageQueueTrigger`` (common-messaging provider), which hands the
``scheme`` to the provider that serves it: ``redis+pubsub`` (redis provider, installed and tested
here), ``sqs`` or ``kafka`` (their providers; the trigger's arguments go in ``arrival.params``).
The triggerer runs it; each message becomes an event of the ``landed`` asset with the message in
``extra["payload"]``, which :func:`driftloop.airflow.partition.event_partitions` parses.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Asset, AssetWatcher

from driftloop.airflow.assets import pipeline_assets
from driftloop.airflow.partition import triggered_partitions
from driftloop.core.config import PipelineConfig

__all__ = ["default_channel", "landed_asset", "landed_partitions", "trigger_kwargs"]

log = logging.getLogger(__name__)


def default_channel(pipeline: str) -> str:
    """The Redis pub/sub channel a pipeline's arrivals are announced on unless configured."""
    return f"driftloop.{pipeline}.landed"


def trigger_kwargs(cfg: PipelineConfig) -> dict[str, Any]:
    """Arguments of the queue trigger: the scheme's defaults from ``arrival``, then ``params``."""
    arrival = cfg.arrival
    base: dict[str, Any] = {}
    if arrival.scheme == "redis+pubsub":
        base = {
            "channels": [arrival.queue or default_channel(cfg.name)],
            "redis_conn_id": arrival.conn_id,
            "poll_interval": arrival.poll_interval,
        }
    return {**base, **arrival.params}


def landed_asset(cfg: PipelineConfig) -> Asset:
    """The pipeline's ``landed`` asset; in queue mode with a watcher on the arrival queue."""
    plain = pipeline_assets(cfg.name).landed
    if cfg.arrival.mode != "queue":
        return plain
    # Imported only in queue mode: the module asks the providers manager for the queue providers.
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    trigger = MessageQueueTrigger(scheme=cfg.arrival.scheme, **trigger_kwargs(cfg))
    watcher = AssetWatcher(name=f"{cfg.name}_arrival_queue", trigger=trigger)
    return Asset(name=plain.name, uri=plain.uri, watchers=[watcher])


def landed_partitions(**context: Any) -> list[str]:
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
