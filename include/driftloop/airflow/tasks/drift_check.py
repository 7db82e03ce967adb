"""Task bodies of the ``drift_check`` DAG: the daily check and the retrain decision."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Unpack

from driftloop.airflow import alerting
from driftloop.airflow.assets import pipeline_assets
from driftloop.airflow.body import task_body
from driftloop.airflow.factory import pipeline_config
from driftloop.airflow.links import publish_links, report_link
from driftloop.airflow.partition import retrain_run_id
from driftloop.core.pipelines import dag_id

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "check",
    "request_approval",
    "review_shadow",
    "shadow_win_conf",
    "should_request_approval",
    "should_retrain",
    "trigger_train",
]

log = logging.getLogger(__name__)


@task_body
def check(day: str, **context: Unpack[Context]) -> dict[str, Any]:
    """Run the day's drift check, emit the ``drift_report`` event and link the report."""
    from driftloop.monitor.daily_check import run_daily_check

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
    alerting.after_check(cfg, day, outcome.decision, context)
    return outcome.summary()


def should_retrain(summary: dict[str, Any]) -> bool:
    """Whether the policy asked for a training (logged either way, with its reason)."""
    if summary["retrain"]:
        log.info("%s: starting train: %s", summary["date"], summary["reason"])
    else:
        log.info("%s: no training: %s", summary["date"], summary["reason"])
    return bool(summary["retrain"])


def _trigger(task_id: str, dag_id: str, run_id: str, conf: str) -> Any:
    """A TriggerDagRunOperator that starts ``dag_id`` once per ``run_id`` and does not wait for it;
    ``conf`` is a template rendered to the dict (the DAG sets ``render_template_as_native_obj``)."""
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    return TriggerDagRunOperator(
        task_id=task_id,
        trigger_dag_id=dag_id,
        trigger_run_id=run_id,
        conf=conf,  # type: ignore[arg-type]
        skip_when_already_exists=True,
        wait_for_completion=False,
    )


def trigger_train(train_dag_id: str) -> Any:
    """The ``trigger_train`` task: starts the pipeline's ``train`` DAG (``train_dag_id``) with the check's conf, once per day.

    The run id ``retrain__<day>`` makes a rerun of the day's check never start a second training.
    """
    return _trigger(
        "trigger_train",
        train_dag_id,
        "retrain__{{ ti.xcom_pull(task_ids='check')['date'] }}",
        "{{ ti.xcom_pull(task_ids='check')['trigger_conf'] }}",
    )


def request_approval(promote_dag_id: str) -> Any:
    """The ``request_approval`` task: starts the ``promote`` DAG (``promote_dag_id``) for a
    challenger that has just won in shadow, where a person approves or rejects it.

    Started, not waited for: an approval may take days and this DAG runs daily, one run at a time.
    The run id ``shadow_win__v<version>`` asks at most once per version.
    """
    return _trigger(
        "request_approval",
        promote_dag_id,
        "shadow_win__v{{ ti.xcom_pull(task_ids='review_shadow')['version'] }}",
        "{{ ti.xcom_pull(task_ids='review_shadow')['promote_conf'] }}",
    )


def shadow_win_conf(summary: dict[str, Any]) -> dict[str, Any]:
    """The ``promote`` DAG's conf that asks for approval of the version that won in shadow."""
    return {
        "action": "promote",
        "version": str(summary["version"]),
        "reason": str(summary["reason"]),  # "won in shadow: <metric> over N partitions ..."
        "shadow_win": True,
    }


def should_request_approval(summary: dict[str, Any] | None) -> bool:
    """Whether the review has just seen a win that waits for a person (``gate.auto_promote`` off);
    a win already recorded on an earlier day is not asked about again."""
    if not summary or summary.get("outcome") != "awaiting_approval":
        return False
    if not summary.get("new_win"):
        log.info(
            "v%s won in shadow earlier; its approval was already requested", summary["version"]
        )
        return False
    log.info("v%s won in shadow: asking for approval (promote DAG)", summary["version"])
    return True


@task_body
def review_shadow(day: str, **context: Unpack[Context]) -> dict[str, Any] | None:
    """Compare the challenger in shadow with the champion on the newly labelled partitions; promote
    or reject it once ``gate.shadow_partitions`` of them are in (see ``driftloop.monitor.shadow``).

    A new win that waits for approval carries ``promote_conf``, the conf of the ``promote`` run
    that asks for it (``request_approval``)."""
    cfg = pipeline_config(context)
    if not cfg.gate.shadow_partitions:
        return None
    from driftloop.monitor.shadow import review

    summary = review(cfg, day)
    alerting.after_shadow_review(cfg, day, summary, context)
    if summary is not None and should_request_approval(summary):
        summary["promote_conf"] = shadow_win_conf(summary)
    return summary
