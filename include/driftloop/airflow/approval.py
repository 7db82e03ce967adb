"""The human approval step of ``train`` (and of ``promote``, for a version that won in shadow):
an ApprovalOperator that records the answer.

Who may answer (``gate.approvers``) and how long the request waits (``gate.approval_timeout``) come
from the pipeline config. The request has one form field, a reason: the reason given with "Reject"
is recorded on the model version and in the audit record, and one given with "Approve" becomes
part of the promotion's reason. An unanswered request resolves to "Reject" when the timeout passes,
recorded as "approval timed out after <timeout>".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param

from driftloop.airflow.alerting import ApprovalNotifier
from driftloop.core.config import format_duration

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig

__all__ = [
    "ANSWER_KEY",
    "REASON_PARAM",
    "PromotionApproval",
    "answer_of",
    "promotion_approval",
]

ANSWER_KEY = "approval_answer"  # XCom key of {"user": who answered, "reason": their note}
REASON_PARAM = "decision_reason"  # the request's form field (not the DAG's trigger "reason")
TIMEOUT_ACTOR = "airflow (no answer)"


def answer_of(event: dict[str, Any], timeout: str) -> tuple[bool, str, str]:
    """(approved, who, reason) of a HITL response event (a person's or the timeout's default)."""
    approved = ApprovalOperator.APPROVE in (event.get("chosen_options") or [])
    if event.get("timedout"):
        return False, TIMEOUT_ACTOR, f"approval timed out after {timeout}"
    user = event.get("responded_by_user") or {}
    who = str(user.get("name") or user.get("id") or "unknown")
    note = str((event.get("params_input") or {}).get(REASON_PARAM) or "").strip()
    if approved:
        return True, who, note
    return False, who, f"rejected in the approval step: {note or 'no reason given'}"


class PromotionApproval(ApprovalOperator):
    """ApprovalOperator that records the reviewer's answer in the registry audit trail.

    The answer is recorded here, where the response (and who gave it) is at hand: on "Reject" the
    operator's return value and other XComs pushed while resuming do not reach downstream tasks
    (observed with dag.test on Airflow 3.3.2), only the skip marker does.

    ``decision_task``: the task whose return value names the version (``challenger_version``) and
    carries the evidence. ``shadow``: the version won in shadow, and a "Reject" ends its shadow
    (``registry.end_shadow``; only recorded when the shadow already ended meanwhile).
    """

    def __init__(self, *, decision_task: str = "gate", shadow: bool = False, **kwargs: Any):
        # The approvers are told, with the link that opens the request (alerts.approval).
        kwargs.setdefault("notifiers", [ApprovalNotifier(decision_task)])
        super().__init__(**kwargs)
        self.decision_task = decision_task
        self.shadow = shadow

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        timeout = format_duration(self.response_timeout) if self.response_timeout else "?"
        approved, who, reason = answer_of(event, timeout)
        context["ti"].xcom_push(key=ANSWER_KEY, value={"user": who, "reason": reason})
        if not approved and "error" not in event:
            from driftloop.airflow.factory import pipeline_config
            from driftloop.model import registry

            cfg = pipeline_config(context)
            version = context["ti"].xcom_pull(task_ids=self.decision_task)["challenger_version"]
            in_shadow = (registry.shadow_challenger(cfg) or {}).get("version") == str(version)
            if self.shadow and in_shadow:
                registry.end_shadow(cfg, version, "not promoted", reason, who)
            else:
                registry.reject(cfg, version, reason, who)
            self.log.info("v%s not promoted: %s (%s)", version, reason, who)
        return super().execute_complete(context, event)


def promotion_approval(
    cfg: PipelineConfig,
    *,
    task_id: str = "approve_promotion",
    decision_task: str = "gate",
    subject: str | None = None,
    shadow: bool = False,
) -> PromotionApproval:
    """The ``approve_promotion`` task: does the challenger the gate passed become the champion?

    ``decision_task`` and ``shadow`` as for :class:`PromotionApproval`; ``subject``: a template
    (default: "Promote <version> to champion?").
    """
    gate = cfg.gate
    pull = f"ti.xcom_pull(task_ids='{decision_task}')"
    return PromotionApproval(
        task_id=task_id,
        decision_task=decision_task,
        shadow=shadow,
        subject=subject or f"Promote {{{{ {pull}['challenger_version'] }}}} to champion?",
        # Markdown: champion vs challenger on the same holdout (or on live partitions, for a
        # shadow win), the trigger, the training window.
        body=f"{{{{ {pull}['evidence'] }}}}",
        params={
            REASON_PARAM: Param(
                None,
                type=["null", "string"],
                title="Reason",
                description="Why you reject (recorded with the decision); optional to approve.",
            )
        },
        # Airflow user ids (SimpleAuthManager: the username). None: anyone allowed by their role.
        assigned_users=[{"id": u, "name": u} for u in gate.approvers] or None,
        defaults="Reject",  # what an unanswered request resolves to after response_timeout
        response_timeout=gate.approval_timeout,
    )
