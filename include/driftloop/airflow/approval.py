"""The human approval step of ``train``: an ApprovalOperator that records the answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

__all__ = ["ANSWER_KEY", "PromotionApproval", "promotion_approval"]

ANSWER_KEY = "approval_answer"  # XCom key of {"user": who answered}


class PromotionApproval(ApprovalOperator):
    """ApprovalOperator that records the reviewer's answer in the registry audit trail.

    The answer is recorded here, where the response (and who gave it) is at hand: on "Reject" the
    operator's return value and other XComs pushed while resuming do not reach downstream tasks
    (observed with dag.test on Airflow 3.3.2), only the skip marker does.
    """

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        user = event.get("responded_by_user") or {}
        who = user.get("name") or user.get("id") or "unknown"
        context["ti"].xcom_push(key=ANSWER_KEY, value={"user": who})
        if self.REJECT in (event.get("chosen_options") or []):
            from driftloop.core.config import load_config
            from driftloop.model import registry

            decision = context["ti"].xcom_pull(task_ids="gate")
            registry.reject(
                load_config(), decision["challenger_version"], "rejected in the approval step", who
            )
        return super().execute_complete(context, event)


def promotion_approval() -> PromotionApproval:
    """The ``approve_promotion`` task: does the challenger the gate passed become the champion?"""
    return PromotionApproval(
        task_id="approve_promotion",
        subject="Promote {{ ti.xcom_pull(task_ids='gate')['challenger_version'] }} to champion?",
        # Markdown: champion vs challenger on the same holdout, the trigger, the training window.
        body="{{ ti.xcom_pull(task_ids='gate')['evidence'] }}",
        defaults="Reject",  # what an unanswered request resolves to after response_timeout
        response_timeout=timedelta(days=7),
    )
