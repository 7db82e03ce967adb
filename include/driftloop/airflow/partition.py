"""Which partition (logical day) an Airflow task instance works on; never "now"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftloop.core.arrival import partitions_in_message
from driftloop.core.partition import Partition, PartitionLike

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "event_partitions",
    "resolve_partition",
    "retrain_run_id",
    "triggered_partitions",
    "triggering_events",
]


def event_partitions(extra: dict[str, Any] | None) -> list[Partition]:
    """The partitions one asset event names.

    ``extra["partition"]`` for events the DAGs emit and those recorded through the REST API; for
    an event an ``AssetWatcher`` recorded from a queue message, the message in ``extra["payload"]``
    (see :mod:`driftloop.core.arrival`).
    """
    extra = extra or {}
    if extra.get("partition"):
        return [Partition.of(str(extra["partition"]))]
    if extra.get("from_trigger") and "payload" in extra:
        return partitions_in_message(extra["payload"])
    return []


def triggering_events(context: Context, asset_name: str | None = None) -> list[Any]:
    """The asset events that triggered the run (only those of ``asset_name``, if given)."""
    events = context.get("triggering_asset_events") or {}
    return [
        ev
        for evs in events.values()
        for ev in evs
        if asset_name is None or getattr(getattr(ev, "asset", None), "name", None) == asset_name
    ]


def triggered_partitions(context: Context, asset_name: str | None = None) -> list[Partition]:
    """All partitions named by the triggering asset events (a run may batch several), in order.

    With ``asset_name``, only the events of that asset count (a run scheduled on several assets).
    """
    return sorted(
        {
            p
            for ev in triggering_events(context, asset_name)
            for p in event_partitions(getattr(ev, "extra", None))
        }
    )


def resolve_partition(context: Context) -> Partition:
    """The partition a task instance works on.

    In order: ``conf["date"]`` of a manual/CLI trigger, the ``partition`` carried in the extra of the
    triggering asset event (the newest one if several were queued), then the run's logical date.
    """
    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    if conf.get("date"):
        return Partition.of(conf["date"])
    partitions = triggered_partitions(context)
    if partitions:
        return partitions[-1]
    logical = context.get("logical_date")
    if logical is None:
        raise ValueError(
            "cannot tell which partition to work on: no conf['date'], no asset event with a "
            "'partition' extra and no logical date"
        )
    return Partition.of(logical)


def retrain_run_id(day: PartitionLike) -> str:
    """Run id of the ``train`` run a day's drift check triggers: one per day, so never two."""
    return f"retrain__{Partition.of(day)}"
