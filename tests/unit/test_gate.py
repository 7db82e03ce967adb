"""Champion/challenger gate (pure rules) and alias moves with their audit trail (real MLflow registry)."""

from __future__ import annotations

import pytest

from driftloop.model import registry
from driftloop.model.gate import evaluate_gate
from tests.support.registry import GATE, register_version

CHAMP = {"roc_auc": 0.80, "pr_auc": 0.60, "log_loss": 0.50, "f1": 0.5}


def metrics(**changes: float) -> dict[str, float]:
    return {**CHAMP, **changes}


def test_better_challenger_is_promoted_and_decision_carries_both_metric_sets() -> None:
    d = evaluate_gate(
        metrics(roc_auc=0.82), CHAMP, GATE, challenger_version="2", champion_version="1"
    )
    assert (d.promote, d.rule) == (True, "improvement")
    assert d.challenger_metrics["roc_auc"] == 0.82 and d.champion_metrics == CHAMP
    assert (d.challenger_version, d.champion_version) == ("2", "1")


def test_worse_challenger_is_rejected() -> None:
    d = evaluate_gate(metrics(roc_auc=0.78), CHAMP, GATE)
    assert (d.promote, d.rule) == (False, "no_improvement")


def test_improvement_below_min_improvement_is_rejected() -> None:
    d = evaluate_gate(metrics(roc_auc=0.805), CHAMP, GATE)
    assert (d.promote, d.rule) == (False, "no_improvement")


def test_tie_keeps_the_champion_even_with_zero_min_improvement() -> None:
    gate = GATE.model_copy(update={"min_improvement": 0.0})
    d = evaluate_gate(dict(CHAMP), CHAMP, gate)
    assert (d.promote, d.rule) == (False, "no_improvement")
    assert evaluate_gate(metrics(roc_auc=0.8001), CHAMP, gate).promote


def test_floor_is_enforced_with_and_without_a_champion() -> None:
    assert evaluate_gate(metrics(roc_auc=0.59), None, GATE).rule == "floor"
    weak_champ = metrics(roc_auc=0.5)
    d = evaluate_gate(metrics(roc_auc=0.59), weak_champ, GATE)
    assert (d.promote, d.rule) == (False, "floor")


def test_first_model_is_promoted_when_it_meets_the_floor() -> None:
    d = evaluate_gate(metrics(roc_auc=0.61), None, GATE)
    assert (d.promote, d.rule, d.champion_metrics) == (True, "first_model", None)


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"log_loss": 0.56}, "guard:log_loss"),  # lower is better: +0.06 > 0.05
        ({"pr_auc": 0.56}, "guard:pr_auc"),  # higher is better: -0.04 > 0.03
    ],
)
def test_guard_regression_rejects_a_better_primary_metric(changes: dict, rule: str) -> None:
    d = evaluate_gate(metrics(roc_auc=0.85, **changes), CHAMP, GATE)
    assert (d.promote, d.rule) == (False, rule)


def test_guard_regression_within_tolerance_is_fine() -> None:
    d = evaluate_gate(metrics(roc_auc=0.85, log_loss=0.54, pr_auc=0.58), CHAMP, GATE)
    assert d.promote


# -- aliases and audit on a real (sqlite) MLflow registry -----------------------------------------


def test_promote_moves_champion_to_previous_and_records(cfg, store) -> None:
    assert registry.champion(cfg) is None
    v1, v2 = register_version(cfg, "2026-01-10"), register_version(cfg, "2026-01-20")
    registry.set_challenger(cfg, v2)
    registry.promote(cfg, v1, "first", "alice")
    assert registry.aliases(cfg) == {"champion": v1, "challenger": v2}
    out = registry.promote(cfg, v2, "better", "bob")
    assert registry.aliases(cfg) == {"champion": v2, "previous_champion": v1}
    assert str(registry.champion(cfg).version) == v2

    rec = store.read_json(f"registry/decisions/{cfg.model_name}/v{v2}-promote.json")
    assert out["record"].endswith(f"v{v2}-promote.json")
    assert rec["champion"] == v2 and rec["previous_champion"] == v1
    assert rec["actor"] == "bob" and rec["reason"] == "better"
    assert rec["partition_date"] == "2026-01-20"  # the version's run date, not the clock
    mv = registry.get_version(cfg, v2)
    assert mv.tags["driftloop.decision"] == "promoted to champion by bob"
    assert mv.tags["driftloop.reason"] == "better"
    history = registry.decision_record(cfg, v2)["history"]
    assert [(e["action"], e["actor"], e["previous_champion"]) for e in history] == [
        ("promote", "bob", v1)
    ]
    assert "Promoted to champion by bob: better" in mv.description


def test_promoting_the_champion_again_changes_nothing(cfg) -> None:
    v1, v2 = register_version(cfg, "2026-01-10"), register_version(cfg, "2026-01-20")
    registry.promote(cfg, v1, "first", "a")
    registry.promote(cfg, v2, "second", "a")
    out = registry.promote(cfg, v2, "rerun", "a")
    assert out["changed"] is False
    assert registry.aliases(cfg) == {"champion": v2, "previous_champion": v1}


def test_rollback_restores_previous_champion_and_is_reversible(cfg, store) -> None:
    v1, v2 = register_version(cfg, "2026-01-10"), register_version(cfg, "2026-01-20")
    registry.promote(cfg, v1, "first", "a")
    registry.promote(cfg, v2, "second", "a")

    out = registry.rollback(cfg, "v2 scores look wrong", "carol")
    assert registry.aliases(cfg) == {"champion": v1, "previous_champion": v2}
    rec = store.read_json(f"registry/decisions/{cfg.model_name}/v{v1}-rollback-from-v{v2}.json")
    assert (rec["champion"], rec["previous_champion"], rec["actor"]) == (v1, v2, "carol")
    assert out["reason"] == rec["reason"] == "v2 scores look wrong"
    assert registry.get_version(cfg, v2).tags["driftloop.decision"] == "rolled back by carol"
    assert registry.get_version(cfg, v1).tags["driftloop.decision"] == (
        "restored to champion by carol"
    )

    registry.rollback(cfg, "undo", "carol")
    assert registry.aliases(cfg) == {"champion": v2, "previous_champion": v1}


def test_rollback_without_previous_champion_fails_clearly(cfg) -> None:
    v1 = register_version(cfg, "2026-01-10")
    registry.promote(cfg, v1, "first", "a")
    with pytest.raises(registry.RegistryError, match="nothing to roll back to"):
        registry.rollback(cfg, "oops", "a")
    assert registry.aliases(cfg) == {"champion": v1}


def test_promote_unknown_version_fails_clearly(cfg) -> None:
    register_version(cfg, "2026-01-10")
    with pytest.raises(registry.RegistryError, match="no version '42'"):
        registry.promote(cfg, "42", "typo", "a")


# -- direction-aware rules for every task's table --------------------------------------------------
def _gate(**kw: object):
    from driftloop.core.config import Gate

    return Gate(**kw)  # type: ignore[arg-type]


REG = {"rmse": 10.0, "mae": 8.0, "r2": 0.80, "mape": 0.12}


def test_lower_is_better_primary_improves_by_decreasing() -> None:
    from driftloop.core.metrics import REGRESSION_METRICS as table

    gate = _gate(primary_metric="rmse", floor=None, min_improvement=0.1, guards={"r2": 0.02})
    better = evaluate_gate({**REG, "rmse": 9.5}, REG, gate, metrics=table)
    assert (better.promote, better.rule) == (True, "improvement")
    assert "10.0000 -> 9.5000 (-0.5000 >= 0.1)" in better.reason
    worse = evaluate_gate({**REG, "rmse": 10.5}, REG, gate, metrics=table)
    assert (worse.promote, worse.rule) == (False, "no_improvement")
    small = evaluate_gate({**REG, "rmse": 9.95}, REG, gate, metrics=table)
    assert (small.promote, small.rule) == (False, "no_improvement")
    assert not evaluate_gate(
        dict(REG), REG, gate.model_copy(update={"min_improvement": 0.0}), metrics=table
    ).promote


def test_floor_of_a_lower_is_better_metric_is_a_ceiling() -> None:
    from driftloop.core.metrics import REGRESSION_METRICS as table

    gate = _gate(primary_metric="rmse", floor=12.0, guards={})
    assert evaluate_gate({**REG, "rmse": 11.0}, None, gate, metrics=table).rule == "first_model"
    high = evaluate_gate({**REG, "rmse": 13.0}, None, gate, metrics=table)
    assert (high.promote, high.rule) == (False, "floor") and "above the ceiling 12.0" in high.reason
    # No floor at all (the regression default): the first model is promoted.
    none = evaluate_gate(
        {**REG, "rmse": 1e6},
        None,
        _gate(primary_metric="rmse", floor=None, guards={}),
        metrics=table,
    )
    assert (none.promote, none.rule) == (True, "first_model")


def test_guards_follow_each_metric_direction() -> None:
    from driftloop.core.metrics import MULTICLASS_METRICS, REGRESSION_METRICS

    gate = _gate(
        primary_metric="rmse", floor=None, min_improvement=0.0, guards={"r2": 0.02, "mae": 0.5}
    )
    # rmse improves, but mae (lower is better) rises by more than 0.5: rejected by the guard.
    d = evaluate_gate({**REG, "rmse": 9.0, "mae": 8.6}, REG, gate, metrics=REGRESSION_METRICS)
    assert (d.promote, d.rule) == (False, "guard:mae")
    # r2 (higher is better) falls by more than 0.02.
    d = evaluate_gate({**REG, "rmse": 9.0, "r2": 0.77}, REG, gate, metrics=REGRESSION_METRICS)
    assert (d.promote, d.rule) == (False, "guard:r2")
    # mae falling and r2 rising are improvements, never guard violations.
    d = evaluate_gate(
        {**REG, "rmse": 9.0, "mae": 5.0, "r2": 0.9}, REG, gate, metrics=REGRESSION_METRICS
    )
    assert d.promote

    mc = {"macro_f1": 0.60, "weighted_f1": 0.62, "accuracy": 0.63, "log_loss": 0.85}
    gate = _gate(primary_metric="macro_f1", floor=0.4, guards={"log_loss": 0.05, "accuracy": 0.03})
    d = evaluate_gate({**mc, "macro_f1": 0.62}, mc, gate, metrics=MULTICLASS_METRICS)
    assert (d.promote, d.rule) == (True, "improvement")
    d = evaluate_gate(
        {**mc, "macro_f1": 0.62, "log_loss": 0.95}, mc, gate, metrics=MULTICLASS_METRICS
    )
    assert (d.promote, d.rule) == (False, "guard:log_loss")
    assert (
        evaluate_gate({**mc, "macro_f1": 0.35}, None, gate, metrics=MULTICLASS_METRICS).rule
        == "floor"
    )
