"""<pipeline>__ingest: land, type, validate one logical day; one DAG per pipeline config.

Wiring only: the pipelines come from ``driftloop.airflow.factory``, the task body from
``driftloop.airflow.tasks.ingest``, the sensor from ``driftloop.airflow.sensors`` and the
documentation shown in the UI from ``driftloop.airflow.docs``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from driftloop.airflow import docs
from driftloop.airflow.factory import pipelines
from driftloop.airflow.params import DEFAULT_ARGS, poke_interval
from driftloop.airflow.sensors import LandingSensor
from driftloop.airflow.tasks import ingest as t

for p in pipelines("ingest"):

    @dag(
        dag_id=p.dag_id,
        schedule=p.interval,
        start_date=p.start_date,
        catchup=p.catchup,
        max_active_runs=3,
        default_args=DEFAULT_ARGS,
        tags=p.tags("data", "great-expectations"),
        doc_md=p.doc(docs.INGEST),
    )
    def ingest() -> None:
        landed = LandingSensor(
            task_id="wait_for_landing",
            deferrable=True,
            poke_interval=poke_interval(),
            timeout=timedelta(hours=36).total_seconds(),
        )
        outlets = [p.assets.validated, p.assets.labels]
        task(outlets=outlets, retry_policy=t.NO_RETRY_ON_QUARANTINE)(t.ingest_and_validate)(
            landed.output
        )

    ingest()
