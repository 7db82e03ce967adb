"""Routing of a shadow win that waits for approval: drift_check asks once, promote asks first."""

from __future__ import annotations

from typing import Any

import pytest

from driftloop.airflow.tasks.drift_check import shadow_win_conf, should_request_approval
from driftloop.airflow.tasks.promote import APPROVAL_TASK, route
from driftloop.core.metrics import metric_table
from driftloop.model.evidence import shadow_win_evidence

WIN = {
    "version": "2",
    "champion_version": "1",
    "outcome": "awaiting_approval",
    "new_win": True,
    "reason": "won in shadow: roc_auc over 2 labelled partitions: challenger 0.9, champion 0.7",
}


@pytest.mark.parametrize(
    ("summary", "ask"),
    [
        (WIN, True),
        ({**WIN, "new_win": False}, False),  # recorded on an earlier day: asked then
        ({**WIN, "outcome": "promote"}, False),  # auto-promoted: nothing to ask
        ({**WIN, "outcome": "waiting"}, False),
        ({**WIN, "outcome": "reject"}, False),
        (None, False),  # no challenger in shadow (or shadow off)
    ],
)
def test_approval_is_requested_only_for_a_new_win(
    summary: dict[str, Any] | None, ask: bool
) -> None:
    assert should_request_approval(summary) is ask


def test_the_promote_conf_names_the_version_and_the_shadow_win() -> None:
    assert shadow_win_conf(WIN) == {
        "action": "promote",
        "version": "2",
        "reason": WIN["reason"],
        "shadow_win": True,
    }


def test_promote_asks_first_only_for_a_shadow_win() -> None:
    assert route(None) == "apply"  # a manual promotion or rollback: as before
    assert route({"challenger_version": "2", "champion_version": "1"}) == APPROVAL_TASK


def test_shadow_win_evidence_has_the_live_table_the_offline_gate_and_what_each_answer_does() -> (
    None
):
    gate = {
        "rule": "improvement",
        "reason": "roc_auc up",
        "primary_metric": "roc_auc",
        "challenger_metrics": {"roc_auc": 0.8, "log_loss": 0.4},
        "champion_metrics": {"roc_auc": 0.7, "log_loss": 0.5},
        "thresholds": {"floor": 0.6, "min_improvement": 0.01},
    }
    table = metric_table("binary")
    body = shadow_win_evidence(
        "LIVE TABLE", gate, table, challenger="2", champion="1", timeout="7d"
    )
    assert body.startswith("LIVE TABLE\n")
    assert "**The offline gate passed** (improvement): roc_auc up." in body
    assert "| roc_auc | 0.8000 | 0.7000 | +0.1000 | primary; floor 0.6: pass" in body
    assert "| log_loss (lower is better) | 0.4000 | 0.5000 | +0.1000 |" in body
    assert "Approve moves the champion alias to v2; Reject keeps v1 and ends the shadow" in body
    assert body.endswith("Unanswered, the request is rejected after 7d.")
    # Without a recorded gate decision: the live evidence and the choice only.
    bare = shadow_win_evidence("LIVE", None, table, challenger="2", champion="1")
    assert "offline gate" not in bare and bare.endswith("with the reason given below.")
