"""
### drift_check — daily drift and performance check of the champion, and the retrain policy

Runs daily (after the day's data is validated and scored) for the partition of its logical date, or
`conf["date"]`. **check** compares the drift window (the last `drift.window_days` validated days)
with the champion's reference profile — per feature PSI, Jensen-Shannon and Wasserstein distance,
plus the score distribution — and, once labels have arrived, the champion's live metrics with its
holdout metrics. It writes `monitoring/drift/date=<day>/report.{json,html}` and decides:

- retrain when drift or decay crosses the thresholds of the config, unless a `train` run is queued
  or running, or one trained within the cooldown;
- feature drift without a performance verdict waits until labels of the drifted data exist, then
  retrains on data since the drift began.

**trigger_train** starts `train` with the reason and the report location in its conf; it is
skipped when the policy says no. The decision and its reason are in the report either way.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from driftloop.orchestration import (
    DEFAULT_ARGS,
    DRIFT_REPORT,
    publish_links,
    report_link,
    resolve_partition,
    start_date,
)


@dag(
    dag_id="drift_check",
    schedule="@daily",
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    render_template_as_native_obj=True,
    tags=["driftloop", "monitoring"],
    doc_md=__doc__,
)
def drift_check() -> None:
    @task(outlets=[DRIFT_REPORT])
    def check(**context: Any) -> dict[str, Any]:
        from driftloop.config import load_config
        from driftloop.daily_check import run_daily_check

        day = resolve_partition(context)
        active = context["ti"].get_dr_count(dag_id="train", states=["queued", "running"]) > 0
        outcome = run_daily_check(load_config(), day, training_active=active)
        context["outlet_events"][DRIFT_REPORT].extra = {
            "partition": day,
            "status": outcome.status,
            "retrain": outcome.retrain,
        }
        publish_links(context, drift_report=report_link(day))
        print(f"{day}: {outcome.status}; decision: {outcome.decision.get('reason')}")
        return outcome.summary()

    @task.short_circuit
    def should_retrain(summary: dict[str, Any]) -> bool:
        return bool(summary["retrain"])

    summary = check()
    trigger_train = TriggerDagRunOperator(
        task_id="trigger_train",
        trigger_dag_id="train",
        conf="{{ ti.xcom_pull(task_ids='check')['trigger_conf'] }}",
        wait_for_completion=False,
    )
    should_retrain(summary) >> trigger_train


drift_check()
