"""Task body of the ``ingest`` DAG: type, validate and publish (or quarantine) a landed partition."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Unpack

from driftloop.airflow import alerting
from driftloop.airflow.assets import pipeline_assets
from driftloop.airflow.body import task_body
from driftloop.airflow.factory import pipeline_config
from driftloop.airflow.links import data_docs_link, publish_links

if TYPE_CHECKING:
    from airflow.sdk import Context
    from pydantic import JsonValue

__all__ = ["ingest_and_validate"]


@task_body
def ingest_and_validate(partition: str, **context: Unpack[Context]) -> dict[str, Any]:
    """Ingest the landed ``partition``; emits ``validated`` and ``labels`` events, or fails.

    Quarantined data fails the task at once (``DataQuarantined``: a retry would quarantine it
    again), as does a config error; an outage (storage, disk) is retried (``task_body``). A day
    that failed at once for any other reason than its data is recorded as such, so the day's drift
    check stops waiting for it (it waits for predictions, a quarantine or a scoring record).
    """
    from driftloop.core.errors import DriftloopError
    from driftloop.data.ingest import DataQuarantined, ingest_partition
    from driftloop.monitor.daily_check import mark_ingest_failed

    cfg = pipeline_config(context)
    try:
        result = ingest_partition(cfg, partition)
    except DriftloopError as err:
        mark_ingest_failed(cfg, partition, err)
        raise
    publish_links(context, data_docs=data_docs_link(cfg.name, result.docs_url, cfg.data_docs_dir()))
    alerting.quarantined(cfg, result, context)
    if result.status == "quarantined":
        raise DataQuarantined(f"{result.message} (quarantine: {result.quarantine_uri})")
    events, assets = context["outlet_events"], pipeline_assets(cfg.name)
    events[assets.validated].extra = {
        "partition": partition,
        "rows": result.rows,
        "uri": result.uri,
    }
    labelled: list[JsonValue] = [*result.labels_ingested]
    events[assets.labels].extra = {"partition": partition, "partitions": labelled}
    return {
        "partition": partition,
        "uri": result.uri,
        "rows": result.rows,
        "labels": result.labels_ingested,
    }
