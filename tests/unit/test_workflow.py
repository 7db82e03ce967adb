"""The model stage as one sequence: request parsing, hyperparameter merge, auto-promote, and a run
of train -> gate -> promote through the library function the CLI calls."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from driftloop.core.storage import open_store
from driftloop.model import registry
from driftloop.model.pipeline import InvalidParameter, merge_hyperparameters
from driftloop.model.workflow import (
    AUTO_PROMOTE_CHOICES,
    TrainRequest,
    gate_step,
    promote_step,
    resolve_auto_promote,
    train_gate_promote,
    train_step,
)
from tests.support.data import START, write_days

FAST = {"TRAINING__HYPERPARAMETERS": "{max_iter: 20, max_depth: 3}"}


@pytest.mark.parametrize(
    ("choice", "configured", "expected"),
    [
        ("as_configured", True, True),
        ("as_configured", False, False),
        (None, False, False),
        ("", True, True),
        ("on", False, True),
        ("off", True, False),
        (True, False, True),
        (False, True, False),
    ],
)
def test_auto_promote_resolution(choice, configured, expected) -> None:
    assert resolve_auto_promote(choice, configured) is expected


def test_auto_promote_choices_are_the_forms_and_unknown_ones_are_refused() -> None:
    assert list(AUTO_PROMOTE_CHOICES) == ["as_configured", "on", "off"]
    with pytest.raises(ValueError, match="auto_promote: 'maybe'"):
        resolve_auto_promote("maybe", True)


def test_hyperparameter_merge_named_fields_win_and_nulls_are_unset() -> None:
    merged = merge_hyperparameters(
        {"max_iter": 50, "max_depth": 2, "l2_regularization": None},
        max_depth=4,
        learning_rate=None,
        extra={"max_iter": 60},
    )
    assert merged == {"max_iter": 60, "max_depth": 4}
    assert merge_hyperparameters(None) == {}
    assert merge_hyperparameters({}, learning_rate=0.2) == {"learning_rate": 0.2}


def test_request_from_dag_params() -> None:
    params = {
        "date": "2026-01-09T00:00:00+00:00",
        "since": "",
        "window_days": None,
        "algorithm": "",
        "hyperparameters": {"max_iter": 10},
        "max_depth": 3,
        "learning_rate": None,
        "reason": "",
        "report_uri": None,
    }
    req = TrainRequest.from_params(params, {"dag_id": "train"})
    assert req.date == date(2026, 1, 9) and req.since is None and req.algorithm is None
    assert req.reason == "manual" and req.airflow_context == {"dag_id": "train"}
    assert req.merged_hyperparameters() == {"max_iter": 10, "max_depth": 3}


def test_parameters_are_checked_before_any_data_is_read(cfg) -> None:
    # No data at all: the bad hyperparameter is what is reported, not the missing labels.
    with pytest.raises(InvalidParameter, match="nonsense"):
        train_step(cfg, TrainRequest(), extra_hyperparameters={"nonsense": 1})


def test_train_gate_promote_and_the_dag_steps(cfg_factory) -> None:
    cfg = cfg_factory(**FAST)
    write_days(open_store(cfg.storage), cfg, 10, rows=300)

    # The CLI's sequence: the first model passes the gate and is promoted (auto-promote on).
    first = train_gate_promote(cfg, TrainRequest(reason="first"), actor="test", auto_promote="on")
    v1 = first["train"]["model_version"]
    assert first["gate"]["promote"] and first["gate"]["rule"] == "first_model"
    assert first["promotion"]["champion"] == v1 and registry.aliases(cfg)["champion"] == v1
    # No date: the window ends at the newest labelled day.
    assert first["train"]["partition_date"] < (START + timedelta(days=10)).isoformat()

    # The DAG's steps: train, gate with auto-promote off (approval), then promote.
    trained = train_step(cfg, TrainRequest(reason="second", hyperparameters={"max_iter": 30}))
    gated = gate_step(cfg, trained.to_dict(), auto_promote="off", trigger_reason="second")
    assert gated["auto_promote"] is False and gated["champion_version"] == v1
    assert gated["partition"] == trained.partition_date
    # (Promoted whatever the gate said: the step itself only refuses a stale decision.)
    record = promote_step(cfg, gated, "approver")
    assert record["champion"] == trained.model_version and record["previous_champion"] == v1
    assert record["reason"].startswith("second; gate: ")
    assert record["decision"]["champion_version"] == v1
    assert registry.aliases(cfg)["champion"] == trained.model_version
    # Gated against v1, which is no longer the champion: promoting v1's challenger again is stale.
    with pytest.raises(registry.StaleDecision):
        promote_step(cfg, {**gated, "challenger_version": v1}, "approver")


def test_with_shadow_on_a_challenger_that_passes_the_gate_is_kept_in_shadow(cfg_factory) -> None:
    cfg = cfg_factory(**FAST, GATE__SHADOW_PARTITIONS="2")
    write_days(open_store(cfg.storage), cfg, 10, rows=300)
    weak = {"max_iter": 1, "max_depth": 1}
    first = train_gate_promote(
        cfg, TrainRequest(reason="first", hyperparameters=weak), actor="test"
    )
    v1 = first["train"]["model_version"]
    assert first["promotion"]["champion"] == v1  # no champion to compare with: promoted as before
    assert first["gate"]["shadow_since"] is None

    second = train_gate_promote(cfg, TrainRequest(reason="second"), actor="test")
    v2 = second["train"]["model_version"]
    since = (START + timedelta(days=10)).isoformat()  # the day after the newest validated one
    assert second["gate"]["promote"] and second["promotion"] is None
    assert second["gate"]["shadow_since"] == since
    assert registry.shadow_challenger(cfg) == {
        "version": v2,
        "since": since,
        "champion_version": v1,
    }
    assert registry.aliases(cfg) == {"champion": v1, "challenger": v2}
    record = registry.read_record(cfg, v2, "shadow")
    assert record["since"] == since and record["decision"]["rule"] == "improvement"
    history = registry.decision_record(cfg, v2)["history"]
    assert [e["action"] for e in history] == ["gate", "shadow"]

    # A newer training takes the challenger alias: the shadow of v2 ends, recorded (no version is
    # left tagged "in shadow" without being scored).
    third = train_step(cfg, TrainRequest(reason="third", hyperparameters=weak))
    v3 = third.model_version
    assert registry.aliases(cfg) == {"champion": v1, "challenger": v3}
    assert registry.shadow_challenger(cfg) is None
    ended = registry.read_record(cfg, v2, "rejected")
    assert ended["reason"] == f"superseded: v{v3}, trained later, is the challenger now", ended
    assert ended["actor"] == "driftloop"
    assert registry.get_version(cfg, v2).tags["driftloop.shadow"] == ended["reason"]
