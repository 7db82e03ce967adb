"""drift_check: the daily check of the champion, and the retrain policy.

Wiring only: the task bodies are in ``driftloop.airflow.tasks.drift_check``, the sensor in
``driftloop.airflow.sensors`` and the documentation shown in the UI in ``driftloop.airflow.docs``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from driftloop.airflow import docs
from driftloop.airflow.assets import DRIFT_REPORT
from driftloop.airflow.params import DEFAULT_ARGS, poke_interval, start_date
from driftloop.airflow.sensors import ScoredSensor
from driftloop.airflow.tasks import drift_check as t


@dag(
    dag_id="drift_check",
    schedule="@daily",
    start_date=start_date(),
    catchup=True,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    render_template_as_native_obj=True,
    tags=["driftloop", "monitoring"],
    doc_md=docs.DRIFT_CHECK,
)
def drift_check() -> None:
    ready = ScoredSensor(
        task_id="wait_for_scoring",
        deferrable=True,
        poke_interval=poke_interval(),
        timeout=timedelta(hours=48).total_seconds(),
        soft_fail=True,  # a day that never landed is skipped here; ingest reports it as failed
    )
    summary = task(outlets=[DRIFT_REPORT])(t.check)(ready.output)
    task.short_circuit(t.should_retrain)(summary) >> t.trigger_train()


drift_check()
