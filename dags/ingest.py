"""ingest: land, type, validate one logical day.

Wiring only: the task body is in ``driftloop.airflow.tasks.ingest``, the sensor in
``driftloop.airflow.sensors`` and the documentation shown in the UI in ``driftloop.airflow.docs``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from driftloop.airflow import docs
from driftloop.airflow.assets import LABELS, VALIDATED
from driftloop.airflow.params import DEFAULT_ARGS, poke_interval, start_date
from driftloop.airflow.sensors import LandingSensor
from driftloop.airflow.tasks import ingest as t


@dag(
    dag_id="ingest",
    schedule="@daily",
    start_date=start_date(),
    catchup=True,
    max_active_runs=3,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "data", "great-expectations"],
    doc_md=docs.INGEST,
)
def ingest() -> None:
    landed = LandingSensor(
        task_id="wait_for_landing",
        deferrable=True,
        poke_interval=poke_interval(),
        timeout=timedelta(hours=36).total_seconds(),
    )
    task(outlets=[VALIDATED, LABELS], retry_policy=t.NO_RETRY_ON_QUARANTINE)(t.ingest_and_validate)(
        landed.output
    )


ingest()
