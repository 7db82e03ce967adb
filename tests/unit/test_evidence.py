"""The approval request's evidence: metrics side by side with each gate rule's verdict."""

from __future__ import annotations

from driftloop.core.metrics import metric_table
from driftloop.model.evidence import approval_evidence

DECISION = {
    "promote": True,
    "rule": "improvement",
    "reason": "roc_auc 0.7000 -> 0.7500 (+0.0500 >= 0.005)",
    "primary_metric": "roc_auc",
    "challenger_metrics": {"roc_auc": 0.75, "log_loss": 0.5, "pr_auc": 0.40, "f1": 0.3},
    "champion_metrics": {"roc_auc": 0.70, "log_loss": 0.52, "pr_auc": 0.45, "f1": 0.31},
    "challenger_version": "2",
    "champion_version": "1",
    "thresholds": {
        "floor": 0.65,
        "min_improvement": 0.005,
        "guards": {"log_loss": 0.05, "pr_auc": 0.03},
    },
    "trigger_reason": "drift_check 2026-01-20: feature drift in contract",
}
TRAINED = {
    "partitions": ["2026-01-10", "2026-01-11", "2026-01-12"],
    "holdout_partitions": ["2026-01-12"],
    "n_train": 3000,
    "n_holdout": 1000,
    "algorithm": "gradient_boosting",
}


def test_each_metric_shows_its_change_in_the_better_direction_and_its_rule() -> None:
    text = approval_evidence(DECISION, TRAINED, metric_table(), report_url="/r/2026-01-20.html")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert (
        "+0.0500" in rows["roc_auc"] and "floor 0.65: pass, gain ≥ 0.005: pass" in rows["roc_auc"]
    )
    assert "-0.0500" in rows["pr_auc"] and "may worsen ≤ 0.03: FAIL" in rows["pr_auc"]
    # log loss fell from 0.52 to 0.50: an improvement, shown as +.
    assert "+0.0200" in rows["log_loss (lower is better)"]
    assert "may worsen ≤ 0.05: pass" in rows["log_loss (lower is better)"]
    assert rows["f1"].rstrip().endswith("|  |")  # not a gate metric: no rule
    assert "([drift report](/r/2026-01-20.html))" in text
    assert (
        "2026-01-10 .. 2026-01-12 (3 labelled days; holdout 2026-01-12), 3000 training rows" in text
    )
    assert "Reject keeps v1" in text


def test_a_first_model_has_no_champion_column_values() -> None:
    first = {**DECISION, "rule": "first_model", "champion_metrics": None, "champion_version": None}
    text = approval_evidence(first, TRAINED, metric_table(), timeout="12h")
    assert "Unanswered, the request is rejected after 12h." in text
    assert "No champion yet: v2 would be the first" in text
    assert "| roc_auc | 0.7500 | – |  | primary; floor 0.65: pass |" in text
    assert "drift report" not in text and "Reject keeps no champion" in text
