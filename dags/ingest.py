"""
### ingest — land, type, validate

One run per logical day. `wait_for_landing` defers (no worker slot held) until
`landing/<day>/features.csv` exists in the storage root; `ingest_and_validate` parses it against the
dataset schema into `raw/date=<day>/`, validates it with the Great Expectations suite and publishes
`validated/date=<day>/` (asset event with `{"partition", "rows", "uri"}` in its extra), or writes
`quarantine/date=<day>/` (original bytes, `reason.json`, GX result) and **fails** with the reason.
Labels delivered the same day go to `labels/date=<label day>/`.

Trigger with `{"date": "YYYY-MM-DD"}` to (re)ingest a given day; reruns overwrite the partition.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule, dag, task

from driftloop.airflow.orchestration import (
    DEFAULT_ARGS,
    LABELS,
    VALIDATED,
    data_docs_link,
    poke_interval,
    publish_links,
    start_date,
)
from driftloop.airflow.sensors import LandingSensor

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


@dag(
    dag_id="ingest",
    schedule="@daily",
    start_date=start_date(),
    catchup=True,
    max_active_runs=3,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "data", "great-expectations"],
    doc_md=__doc__,
)
def ingest() -> None:
    landed = LandingSensor(
        task_id="wait_for_landing",
        deferrable=True,
        poke_interval=poke_interval(),
        timeout=timedelta(hours=36).total_seconds(),
    )

    @task(outlets=[VALIDATED, LABELS], retry_policy=NO_RETRY_ON_QUARANTINE)
    def ingest_and_validate(partition: str, **context: Any) -> dict[str, Any]:
        from driftloop.core.logs import quiet_libraries

        quiet_libraries()
        from driftloop.core.config import load_config
        from driftloop.data.ingest import DataQuarantined, ingest_partition

        cfg = load_config()
        result = ingest_partition(cfg, partition)
        publish_links(context, data_docs=data_docs_link(result.docs_url, cfg.data_docs_dir()))
        if result.status == "quarantined":
            raise DataQuarantined(f"{result.message} (quarantine: {result.quarantine_uri})")
        events = context["outlet_events"]
        events[VALIDATED].extra = {"partition": partition, "rows": result.rows, "uri": result.uri}
        events[LABELS].extra = {"partition": partition, "partitions": result.labels_ingested}
        return {
            "partition": partition,
            "uri": result.uri,
            "rows": result.rows,
            "labels": result.labels_ingested,
        }

    ingest_and_validate(landed.output)


ingest()
