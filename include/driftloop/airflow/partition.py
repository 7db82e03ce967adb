"""Which partition (logical day) an Airflow task instance works on; never "now"."""

from __future__ import annotations

from typing import Any

from driftloop.core.partition import Partition, PartitionLike

__all__ = ["resolve_partition", "retrain_run_id", "triggered_partitions", "triggering_events"]


def triggering_events(context: Any, asset_name: str | None = None) -> list[Any]:
    """The asset events that triggered the run (only those of ``asset_name``, if given)."""
    events = context.get("triggering_asset_events") or {}
    return [
        ev
        for evs in events.values()
        for ev in evs
        if asset_name is None or getattr(getattr(ev, "asset", None), "name", None) == asset_name
    ]


def triggered_partitions(context: Any, asset_name: str | None = None) -> list[Partition]:
    """All partitions named by the triggering asset events (a run may batch several), in order.

    With ``asset_name``, only the events of that asset count (a run scheduled on several assets).
    """
    return sorted(
        {
            Partition.of(str(ev.extra["partition"]))
            for ev in triggering_events(context, asset_name)
            if (getattr(ev, "extra", None) or {}).get("partition")
        }
    )


def resolve_partition(context: Any) -> Partition:
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
