"""
### drift_check — the daily check of the champion, and the retrain policy

One run per day, in order (`catchup`, one active run at a time), so every landed day is checked
exactly once, a backlog included. **wait_for_scoring** defers (no worker slot held) until the day
is through ingest and scoring: predictions written, the day quarantined, or no champion to score
with. Then **check** compares the drift window (the last `drift.window_days` validated days) with
the champion's reference profile — per feature PSI, Jensen-Shannon and Wasserstein distance, plus
the score distribution — and, once labels have arrived, the champion's live metrics with its
holdout metrics. It writes `monitoring/drift/date=<day>/report.{json,html}` and decides:

- no champion yet (a fresh deployment): train the first model once
  `retrain.bootstrap_labelled_days` labelled days exist (*bootstrap*);
- retrain when drift or decay crosses the thresholds of the config, unless a `train` run is queued
  or running, or one trained within the cooldown;
- feature drift without a performance verdict waits until labels of the drifted data exist, then
  retrains on data since the drift began.

**trigger_train** starts `train` (run id `retrain__<day>`: a rerun of the day never starts a second
training) with the reason and the report location in its conf; it is skipped when the policy says
no. The decision and its reason are in the report and the task log either way. Trigger with
`{"date": "YYYY-MM-DD"}` to check one day again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from driftloop.airflow.orchestration import (
    DEFAULT_ARGS,
    DRIFT_REPORT,
    poke_interval,
    publish_links,
    report_link,
    retrain_run_id,
    start_date,
)
from driftloop.airflow.sensors import ScoredSensor

log = logging.getLogger("driftloop.dags.drift_check")


@dag(
    dag_id="drift_check",
    schedule="@daily",
    start_date=start_date(),
    catchup=True,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    render_template_as_native_obj=True,
    tags=["driftloop", "monitoring"],
    doc_md=__doc__,
)
def drift_check() -> None:
    ready = ScoredSensor(
        task_id="wait_for_scoring",
        deferrable=True,
        poke_interval=poke_interval(),
        timeout=timedelta(hours=48).total_seconds(),
        soft_fail=True,  # a day that never landed is skipped here; ingest reports it as failed
    )

    @task(outlets=[DRIFT_REPORT])
    def check(day: str, **context: Any) -> dict[str, Any]:
        from driftloop.core.config import load_config
        from driftloop.core.logs import quiet_libraries
        from driftloop.monitor.daily_check import run_daily_check

        quiet_libraries()
        ti = context["ti"]
        active = ["queued", "running"]
        # A train run this very day started (then rerun the check) is not "someone else's".
        others = ti.get_dr_count(dag_id="train", states=active) - ti.get_dr_count(
            dag_id="train", run_ids=[retrain_run_id(day)], states=active
        )
        outcome = run_daily_check(load_config(), day, training_active=others > 0)
        context["outlet_events"][DRIFT_REPORT].extra = {
            "partition": day,
            "status": outcome.status,
            "retrain": outcome.retrain,
        }
        publish_links(context, drift_report=report_link(day))
        return outcome.summary()

    @task.short_circuit
    def should_retrain(summary: dict[str, Any]) -> bool:
        if summary["retrain"]:
            log.info("%s: starting train: %s", summary["date"], summary["reason"])
        else:
            log.info("%s: no training: %s", summary["date"], summary["reason"])
        return bool(summary["retrain"])

    summary = check(ready.output)
    trigger_train = TriggerDagRunOperator(
        task_id="trigger_train",
        trigger_dag_id="train",
        trigger_run_id="retrain__{{ ti.xcom_pull(task_ids='check')['date'] }}",
        conf="{{ ti.xcom_pull(task_ids='check')['trigger_conf'] }}",
        skip_when_already_exists=True,
        wait_for_completion=False,
    )
    should_retrain(summary) >> trigger_train


drift_check()
