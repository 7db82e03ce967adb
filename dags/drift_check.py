"""<pipeline>__drift_check: the daily check of the champion, and the retrain policy.

Wiring only: the pipelines come from ``driftloop.airflow.factory``, the task bodies from
``driftloop.airflow.tasks.drift_check``, the sensor from ``driftloop.airflow.sensors`` and the
documentation shown in the UI from ``driftloop.airflow.docs``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from driftloop.airflow import docs
from driftloop.airflow.factory import pipelines
from driftloop.airflow.params import DEFAULT_ARGS, poke_interval
from driftloop.airflow.sensors import ScoredSensor
from driftloop.airflow.tasks import drift_check as t

for p in pipelines("drift_check"):

    @dag(
        dag_id=p.dag_id,
        schedule=p.interval,
        start_date=p.start_date,
        catchup=p.catchup,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        render_template_as_native_obj=True,
        tags=p.tags("monitoring"),
        doc_md=p.doc(docs.DRIFT_CHECK),
    )
    def drift_check() -> None:
        ready = ScoredSensor(
            task_id="wait_for_scoring",
            deferrable=True,
            poke_interval=poke_interval(),
            timeout=timedelta(hours=48).total_seconds(),
            soft_fail=True,  # a day that never landed is skipped here; ingest reports it as failed
        )
        summary = task(outlets=[p.assets.drift_report])(t.check)(ready.output)
        # A challenger in shadow: compared on the labelled partitions, then promoted or rejected.
        shadow = task(multiple_outputs=False)(t.review_shadow)(ready.output)
        # A win waiting for a person: its approval is asked in a promote run (not waited for).
        task.short_circuit(t.should_request_approval)(shadow) >> t.request_approval(
            p.dag_id_of("promote")
        )
        task.short_circuit(t.should_retrain)(summary) >> t.trigger_train(p.dag_id_of("train"))

    drift_check()
