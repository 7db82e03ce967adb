"""Task body of the ``ingest`` DAG: type, validate and publish (or quarantine) a landed partition."""

from __future__ import annotations

from typing import Any

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

from driftloop.airflow import alerting
from driftloop.airflow.assets import pipeline_assets
from driftloop.airflow.factory import pipeline_config
from driftloop.airflow.links import data_docs_link, publish_links

__all__ = ["NO_RETRY_ON_QUARANTINE", "ingest_and_validate"]

# Quarantined data stays quarantined on a retry: fail at once; anything else (e.g. storage
# unavailable) gets the usual retries.
NO_RETRY_ON_QUARANTINE = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception="driftloop.data.ingest.DataQuarantined",
            action=RetryAction.FAIL,
            reason="the partition is quarantined; fix the delivery and rerun",
        )
    ]
)


def ingest_and_validate(partition: str, **context: Any) -> dict[str, Any]:
    """Ingest the landed ``partition``; emits ``validated`` and ``labels`` events, or fails."""
    from driftloop.core.logs import quiet_libraries

    quiet_libraries()
    from driftloop.data.ingest import DataQuarantined, ingest_partition

    cfg = pipeline_config(context)
    result = ingest_partition(cfg, partition)
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
    events[assets.labels].extra = {"partition": partition, "partitions": result.labels_ingested}
    return {
        "partition": partition,
        "uri": result.uri,
        "rows": result.rows,
        "labels": result.labels_ingested,
    }
