"""Task bodies of the ``train`` DAG: fit a challenger, gate it, route, promote, record the outcome.

Heavy libraries are imported inside the bodies, so importing this module at parse time is cheap.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Unpack

from driftloop.airflow import alerting
from driftloop.airflow.approval import ANSWER_KEY
from driftloop.airflow.assets import pipeline_assets
from driftloop.airflow.body import task_body
from driftloop.airflow.factory import pipeline_config
from driftloop.airflow.links import link_decision, mlflow_run_url, publish_links, report_link

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "gate",
    "link_mlflow_run",
    "promote_model",
    "record_outcome",
    "route",
    "train_model",
]

log = logging.getLogger(__name__)


def link_mlflow_run(context: Context, trained: dict[str, Any]) -> None:
    """Publish the MLflow run of a training result as the task's "MLflow run" link."""
    uri = pipeline_config(context).tracking_uri()
    url = mlflow_run_url(uri, trained["experiment_id"], trained["run_id"])
    log.info(
        "registered %s v%s (window %s..%s); MLflow run: %s",
        trained["model_name"],
        trained["model_version"],
        trained["partitions"][0],
        trained["partition_date"],
        url,
    )
    publish_links(context, mlflow_run=url)


@task_body
def train_model(**context: Unpack[Context]) -> dict[str, Any]:
    """Fit a challenger on the run's window; a new MLflow run and registered version.

    The parameters are checked before any data is read; neither a bad param nor missing labels is
    helped by a retry: both fail the task at once with their one-line message (``task_body``).
    """
    from driftloop.model.workflow import TrainRequest, train_step

    ti = context["ti"]
    request = TrainRequest.from_params(
        context["params"], {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id}
    )
    result = train_step(pipeline_config(context), request).to_dict()
    link_mlflow_run(context, result)
    return result


@task_body
def gate(trained: dict[str, Any], **context: Unpack[Context]) -> dict[str, Any]:
    """Compare the challenger with the champion (re-scored on the challenger's holdout)."""
    from driftloop.model.workflow import gate_step

    p = context["params"]
    cfg = pipeline_config(context)
    decision = gate_step(
        cfg,
        trained,
        min_improvement=p.get("min_improvement"),
        auto_promote=p.get("auto_promote"),
        trigger_reason=p.get("reason") or "manual",
    )
    decision["evidence"] = evidence(cfg, decision, trained, p.get("report_uri"))
    link_decision(context, cfg, decision["challenger_version"])
    return decision


def evidence(
    cfg: Any, decision: dict[str, Any], trained: dict[str, Any], report_uri: str | None
) -> str:
    """The approval request's body: metrics side by side, the trigger and its drift report."""
    from driftloop.core.config import format_duration
    from driftloop.core.metrics import metric_table
    from driftloop.core.partition import Partition
    from driftloop.model.evidence import approval_evidence

    url = None
    if report_uri:
        try:
            url = report_link(cfg.name, Partition.from_key(report_uri))
        except ValueError:
            url = None  # a report outside the partition layout: named in the reason only
    return approval_evidence(
        decision,
        trained,
        metric_table(cfg.dataset.task),
        report_url=url,
        timeout=format_duration(cfg.gate.approval_timeout),
    )


def route(decision: dict[str, Any]) -> str | None:
    """The branch after the gate: nothing, ``promote_model`` or ``approve_promotion``."""
    version = decision["challenger_version"]
    if not decision["promote"]:
        log.info("v%s stays a challenger: the gate rejected it (%s)", version, decision["reason"])
        return None
    if decision.get("shadow_since"):
        log.info(
            "v%s passed the gate; in shadow from %s: promoted only if it beats the champion "
            "on the labelled partitions to come",
            version,
            decision["shadow_since"],
        )
        return None
    if decision["auto_promote"]:
        log.info("v%s passed the gate; auto-promote is on: promoting", version)
        return "promote_model"
    log.info("v%s passed the gate; auto-promote is off: asking for approval", version)
    return "approve_promotion"


@task_body
def promote_model(decision: dict[str, Any], **context: Unpack[Context]) -> dict[str, Any]:
    """Move ``@champion`` to the challenger and emit the model asset event.

    A ``StaleDecision`` (the champion moved since the gate: the comparison no longer holds) fails
    the task at once (``task_body``): a retry would not change that.
    """
    from driftloop.model.workflow import promote_step

    cfg = pipeline_config(context)
    answer = context["ti"].xcom_pull(task_ids="approve_promotion", key=ANSWER_KEY)
    actor = f"{answer['user']} (approved in Airflow)" if answer else "gate (auto-promote)"
    record = promote_step(cfg, decision, actor, (answer or {}).get("reason") or "")
    context["outlet_events"][pipeline_assets(cfg.name).model].extra = {
        "model_name": cfg.model_name,
        "model_version": decision["challenger_version"],
        "previous_champion": record["previous_champion"],
        "partition": decision["partition"],
    }
    link_decision(context, cfg, decision["challenger_version"])
    log.info("audit record: %s", record["record"])
    return record


@task_body
def record_outcome(decision: dict[str, Any], **context: Unpack[Context]) -> str:
    """Say what became of the challenger (champion, rejected by the gate or by a person)."""
    from driftloop.model import registry

    version = decision["challenger_version"]
    cfg = pipeline_config(context)
    skipped = context["ti"].xcom_pull(task_ids="approve_promotion", key="skipmixin_key")
    champion = registry.champion(cfg)
    if skipped and "promote_model" in skipped.get("skipped", []):
        # The approval step recorded why (a reviewer's reason, or the timeout) in the audit record.
        rejected = registry.read_record(cfg, str(version), "rejected") or {}
        outcome = (
            f"v{version} not promoted: {rejected.get('reason', 'rejected in the approval step')}"
        )
    elif decision.get("shadow_since"):
        outcome = f"v{version} in shadow since {decision['shadow_since']}"
    elif champion is not None and str(champion.version) == str(version):
        outcome = f"v{version} is the champion"
    else:
        outcome = f"v{version} not promoted: {decision['reason']}"
    log.info("%s (champion: %s)", outcome, f"v{champion.version}" if champion else "none")
    alerting.gate_verdict(cfg, decision, outcome, context)
    return outcome
