"""Task bodies of the ``promote`` DAG: a manual promotion or rollback, with an audit record, or
the approval of a version that won in shadow (a run the ``drift_check`` DAG starts)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Unpack

from driftloop.airflow import alerting
from driftloop.airflow.approval import ANSWER_KEY
from driftloop.airflow.assets import pipeline_assets
from driftloop.airflow.body import task_body
from driftloop.airflow.factory import pipeline_config
from driftloop.airflow.links import link_decision

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["APPROVAL_TASK", "REQUEST_TASK", "apply", "route", "shadow_request"]

log = logging.getLogger(__name__)

REQUEST_TASK = "shadow_request"  # its return value: the shadow win to approve, or None
APPROVAL_TASK = "approve_shadow_win"


@task_body
def shadow_request(**context: Unpack[Context]) -> dict[str, Any] | None:
    """For a shadow-win run: the version, the decision it won with and the approval's evidence
    (the recorded per-partition shadow evidence and the offline gate's figures). None otherwise.

    Fails at once (a refusal) when the version has not won in shadow or is no longer in shadow.
    """
    p = context["params"]
    if not p.get("shadow_win"):
        return None
    from driftloop.core.config import format_duration
    from driftloop.core.metrics import metric_table
    from driftloop.model import registry
    from driftloop.model.evidence import shadow_win_evidence

    cfg, version = pipeline_config(context), str(p.get("version") or "")
    won = registry.read_record(cfg, version, "shadow-won") if version else None
    if won is None:
        raise registry.RegistryError(f"version: v{version or '?'} has not won in shadow")
    state = registry.shadow_challenger(cfg)
    if state is None or state["version"] != version:
        raise registry.RegistryError(
            f"version: v{version} is no longer in shadow (its shadow ended or a newer training "
            "took the challenger alias): nothing to approve"
        )
    decision = won["decision"]
    champion = str(decision["champion_version"])
    gate = (registry.read_record(cfg, version, "shadow") or {}).get("decision")
    evidence = shadow_win_evidence(
        won["evidence"],
        gate,
        metric_table(cfg.dataset.task),
        challenger=version,
        champion=champion,
        timeout=format_duration(cfg.gate.approval_timeout),
    )
    return {
        "challenger_version": version,
        "champion_version": champion,
        "decision": decision,
        "evidence": evidence,
    }


def route(request: dict[str, Any] | None) -> str:
    """``apply`` at once (a manual run), or ``approve_shadow_win`` first (a shadow win)."""
    if request is None:
        return "apply"
    log.info(
        "v%s won in shadow against v%s: asking for approval",
        request["challenger_version"],
        request["champion_version"],
    )
    return APPROVAL_TASK


def _promote_shadow_win(cfg: Any, p: dict[str, Any], context: Context) -> dict[str, Any]:
    """Promote the version that won in shadow, as approved (who, and their note, in the reason).

    A ``StaleDecision`` (the champion moved since the shadow's comparison, which then no longer
    holds) is a refusal: the task fails at once."""
    from driftloop.model import registry
    from driftloop.model.gate import GateDecision

    ti = context["ti"]
    request = ti.xcom_pull(task_ids=REQUEST_TASK)
    answer = ti.xcom_pull(task_ids=APPROVAL_TASK, key=ANSWER_KEY)
    if not request or not answer:
        raise registry.RegistryError("a shadow win is promoted only once approved")
    note = answer.get("reason") or ""
    reason = p["reason"] + (f"; approver: {note}" if note else "")
    version = request["challenger_version"]
    try:
        return registry.promote_from_shadow(
            cfg,
            version,
            GateDecision.from_dict(request["decision"]),
            reason,
            f"{answer['user']} (approved in Airflow)",
        )
    except registry.StaleDecision as err:
        raise registry.StaleDecision(f"v{version} not promoted: {err}") from err


@task_body
def apply(**context: Unpack[Context]) -> dict[str, Any]:
    """Promote ``version`` or roll back, as the run's params say; fails at once on a bad param.

    A shadow-win run gets here only once approved, and promotes the version out of its shadow.
    """
    from driftloop.model import registry
    from driftloop.model.pipeline import InvalidParameter

    cfg, p = pipeline_config(context), context["params"]
    dag_run = context["dag_run"]
    actor = getattr(dag_run, "triggering_user_name", None) or "airflow"
    action, version = p["action"], p.get("version")
    try:
        if p.get("shadow_win"):
            record = _promote_shadow_win(cfg, p, context)
        elif action == "rollback":
            if version:
                log.info("rollback ignores version %s", version)
            record = registry.rollback(cfg, p["reason"], actor)
        else:
            if not version:
                raise InvalidParameter(
                    "version: action=promote needs the registered version to promote "
                    "(or choose action=rollback)"
                )
            registry.get_version(cfg, str(version))  # a clear error for an unknown version
            record = registry.promote(cfg, str(version), p["reason"], actor)
    except registry.RegistryError as err:
        param = "version" if action == "promote" else "action"
        raise type(err)(f"{param}: {err}") from err
    log.info(
        "%s by %s: champion v%s (previous champion: %s); audit record: %s",
        action,
        actor,
        record["champion"],
        f"v{record['previous_champion']}" if record["previous_champion"] else "none",
        record["record"],
    )
    context["outlet_events"][pipeline_assets(cfg.name).model].extra = {
        "model_name": cfg.model_name,
        "model_version": record["champion"],
        "action": action,
    }
    link_decision(context, cfg, record["champion"])
    alerting.after_promotion(cfg, action, record, str(p.get("reason") or ""), actor, context)
    return record
