"""<pipeline>__ingest: land, type, validate one logical day; one DAG per pipeline config.

Wiring only: the pipelines come from ``driftloop.airflow.factory``, the task body from
``driftloop.airflow.tasks.ingest``, the sensor from ``driftloop.airflow.sensors`` and the
documentation shown in the UI from ``driftloop.airflow.docs``.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from driftloop.airflow import docs
from driftloop.airflow.arrival import landed_asset, landed_partitions
from driftloop.airflow.factory import pipelines
from driftloop.airflow.params import DEFAULT_ARGS, landing_timeout, poke_interval
from driftloop.airflow.sensors import LandingSensor
from driftloop.airflow.tasks import ingest as t

for p in pipelines("ingest"):

    @dag(
        dag_id=p.dag_id,
        # arrival.mode sensor: on the schedule, waiting for the day's data; queue: when a `landed`
        # event (the arrival queue's watcher, or a REST call) names the partition(s).
        schedule=[landed_asset(p.cfg)] if p.on_arrival_events else p.interval,
        start_date=p.start_date,
        catchup=p.catchup and not p.on_arrival_events,
        max_active_runs=3,
        default_args=DEFAULT_ARGS,
        tags=p.tags("data", "great-expectations"),
        doc_md=p.doc(docs.INGEST),
    )
    def ingest() -> None:
        outlets = [p.assets.validated, p.assets.labels]
        if p.on_arrival_events:
            task(outlets=outlets, map_index_template="{{ partition }}")(
                t.ingest_and_validate
            ).expand(partition=task(landed_partitions)())
            return
        landed = LandingSensor(
            task_id="wait_for_landing",
            deferrable=True,
            poke_interval=poke_interval(),
            timeout=landing_timeout(),
        )
        task(outlets=outlets)(t.ingest_and_validate)(landed.output)

    ingest()
