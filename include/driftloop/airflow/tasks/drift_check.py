"""Task bodies of the ``drift_check`` DAG: the daily check and the retrain decision."""

from __future__ import annotations

import logging
from typing import Any

from driftloop.airflow.assets import pipeline_assets
from driftloop.airflow.factory import pipeline_config
from driftloop.airflow.links import publish_links, report_link
from driftloop.airflow.partition import retrain_run_id
from driftloop.core.pipelines import dag_id

__all__ = ["check", "review_shadow", "should_retrain", "trigger_train"]

log = logging.getLogger(__name__)


def check(day: str, **context: Any) -> dict[str, Any]:
    """Run the day's drift check, emit the ``drift_report`` event and link the report."""
    from driftloop.core.logs import quiet_libraries
    from driftloop.monitor.daily_check import run_daily_check

    quiet_libraries()
    ti, cfg = context["ti"], pipeline_config(context)
    train = dag_id(cfg.name, "train")
    active = ["queued", "running"]
    # A train run this very day started (then rerun the check) is not "someone else's".
    others = ti.get_dr_count(dag_id=train, states=active) - ti.get_dr_count(
        dag_id=train, run_ids=[retrain_run_id(day)], states=active
    )
    outcome = run_daily_check(cfg, day, training_active=others > 0)
    context["outlet_events"][pipeline_assets(cfg.name).drift_report].extra = {
        "partition": day,
        "status": outcome.status,
        "retrain": outcome.retrain,
    }
    publish_links(context, drift_report=report_link(cfg.name, day))
    return outcome.summary()


def should_retrain(summary: dict[str, Any]) -> bool:
    """Whether the policy asked for a training (logged either way, with its reason)."""
    if summary["retrain"]:
        log.info("%s: starting train: %s", summary["date"], summary["reason"])
    else:
        log.info("%s: no training: %s", summary["date"], summary["reason"])
    return bool(summary["retrain"])


def trigger_train(train_dag_id: str) -> Any:
    """The ``trigger_train`` task: starts the pipeline's ``train`` DAG (``train_dag_id``) with the check's conf, once per day.

    The run id ``retrain__<day>`` makes a rerun of the day's check never start a second training;
    the conf is rendered as a native object (the DAG sets ``render_template_as_native_obj``).
    """
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    return TriggerDagRunOperator(
        task_id="trigger_train",
        trigger_dag_id=train_dag_id,
        trigger_run_id="retrain__{{ ti.xcom_pull(task_ids='check')['date'] }}",
        # A template rendered to the dict (the DAG renders templates as native objects).
        conf="{{ ti.xcom_pull(task_ids='check')['trigger_conf'] }}",  # type: ignore[arg-type]
        skip_when_already_exists=True,
        wait_for_completion=False,
    )


def review_shadow(day: str, **context: Any) -> dict[str, Any] | None:
    """Compare the challenger in shadow with the champion on the newly labelled partitions; promote
    or reject it once ``gate.shadow_partitions`` of them are in (see ``driftloop.monitor.shadow``)."""
    from driftloop.core.logs import quiet_libraries

    quiet_libraries()
    cfg = pipeline_config(context)
    if not cfg.gate.shadow_partitions:
        return None
    from driftloop.monitor.shadow import review

    return review(cfg, day)
