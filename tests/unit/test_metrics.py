"""The metric table: one set of names and directions for the gate, training and monitoring."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from driftloop.core import config
from driftloop.core.metrics import (
    BINARY_METRICS,
    LOWER_IS_BETTER,
    METRICS,
    MULTICLASS_METRICS,
    REGRESSION_METRICS,
    TABLES,
    binary_metrics,
    metric_table,
    multiclass_metrics,
    regression_metrics,
)

DEMO = config.project_root() / "configs" / "churn.yaml"


def _parse(task: str, **sections: dict[str, Any]) -> config.PipelineConfig:
    """The demo config as ``task`` (without its gate, so the task's defaults apply)."""
    import yaml

    data = yaml.safe_load(DEMO.read_text())
    data.pop("gate")
    data["dataset"]["task"] = task
    if task != "binary":
        data["dataset"].pop("positive_label")
    data.update(sections)
    return config.parse_config(data, environ={"DRIFTLOOP_HOME": "/tmp/x"})


def test_the_config_validates_gate_metrics_against_the_task_table() -> None:
    assert BINARY_METRICS.names == METRICS
    assert {"log_loss", "brier"} == LOWER_IS_BETTER
    for task, table in TABLES.items():
        assert table.task == task and table.primary in table.names
        assert set(table.default_guards) <= set(table.names)
        for name in table.names:  # every metric of the table is accepted as a guard and primary
            cfg = _parse(task, gate={"guards": {name: 0.01}, "primary_metric": name})
            assert cfg.gate.guards == {name: 0.01} and cfg.gate.primary_metric == name
    with pytest.raises(config.ConfigError, match=r"gate\.guards: unknown guard metric"):
        _parse("binary", gate={"guards": {"accuracy": 0.01}})
    with pytest.raises(config.ConfigError, match=r"gate\.primary_metric: 'roc_auc' is not a"):
        _parse("regression", gate={"primary_metric": "roc_auc"})


def test_gate_defaults_follow_the_task() -> None:
    for task, table in TABLES.items():
        gate = _parse(task).gate
        assert gate.primary_metric == table.primary
        assert gate.guards == table.default_guards and gate.floor == table.default_floor
    assert (TABLES["binary"].primary, TABLES["multiclass"].primary) == ("roc_auc", "macro_f1")
    assert TABLES["regression"].primary == "rmse"


def test_a_floor_outside_the_primary_metrics_range_is_refused_naming_the_key() -> None:
    with pytest.raises(
        config.ConfigError, match=r"gate\.floor: 1\.5 is outside .*roc_auc \[0, 1\]"
    ):
        _parse("binary", gate={"floor": 1.5})
    with pytest.raises(config.ConfigError, match=r"gate\.floor: -0\.1 .*macro_f1 \[0, 1\]"):
        _parse("multiclass", gate={"floor": -0.1})
    with pytest.raises(config.ConfigError, match=r"gate\.floor: -3 .*rmse \[0, inf\)"):
        _parse("regression", gate={"floor": -3})
    with pytest.raises(config.ConfigError, match=r"gate\.floor: 1\.2 .*r2 \(-inf, 1\]"):
        _parse("regression", gate={"primary_metric": "r2", "floor": 1.2})
    # The bounds themselves, and values an unbounded side allows, are accepted.
    assert _parse("binary", gate={"floor": 1.0}).gate.floor == 1.0
    assert _parse("regression", gate={"floor": 1e6}).gate.floor == 1e6
    assert _parse("regression", gate={"primary_metric": "r2", "floor": -5}).gate.floor == -5
    assert _parse("multiclass", gate={"primary_metric": "log_loss", "floor": 3}).gate.floor == 3
    for table in TABLES.values():  # every metric has a range, and it holds the table's defaults
        for spec in table.specs:
            assert spec.low is None or spec.high is None or spec.low < spec.high
        if table.default_floor is not None:
            assert table.spec(table.primary).in_range(table.default_floor)


def test_regression_follows_the_direction_of_the_metric() -> None:
    assert BINARY_METRICS.regression("roc_auc", 0.7, 0.8) == pytest.approx(0.1)
    assert BINARY_METRICS.regression("log_loss", 0.5, 0.4) == pytest.approx(0.1)
    assert BINARY_METRICS.regression("brier", 0.1, 0.2) == pytest.approx(-0.1)
    reg = metric_table("regression")
    assert reg.lower_is_better == {"rmse", "mae", "mape"}
    assert reg.improvement("rmse", 9.0, 10.0) == pytest.approx(1.0)
    assert reg.meets_floor("rmse", 9.0, 10.0) and not reg.meets_floor("rmse", 11.0, 10.0)
    assert reg.meets_floor("r2", 0.5, 0.4) and not reg.meets_floor("r2", 0.3, 0.4)
    assert metric_table("multiclass").lower_is_better == {"log_loss"}


def test_lookup_by_task_type() -> None:
    assert metric_table() is metric_table("binary") is BINARY_METRICS
    assert metric_table("multiclass").task == "multiclass"
    assert metric_table("regression").task == "regression"
    with pytest.raises(KeyError, match="ranking"):
        metric_table("ranking")


def test_multiclass_metrics_with_per_class_recall() -> None:
    classes = ["a", "b", "c"]
    y = np.array(["a", "b", "c", "a", "b", "c"])
    proba = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.1, 0.8, 0.1],
            [0.1, 0.1, 0.8],
            [0.2, 0.7, 0.1],  # an "a" predicted as "b"
            [0.1, 0.8, 0.1],
            [0.1, 0.1, 0.8],
        ]
    )
    m = multiclass_metrics(y, proba, classes=classes)
    assert set(MULTICLASS_METRICS.names) <= set(m)
    assert m["accuracy"] == pytest.approx(5 / 6)
    assert (m["recall_a"], m["recall_b"], m["recall_c"]) == (0.5, 1.0, 1.0)
    expected_f1 = (2 / 3 + 0.8 + 1.0) / 3  # a: p=1 r=.5; b: p=2/3 r=1; c: 1
    assert m["macro_f1"] == pytest.approx(expected_f1)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.8, 0.8, 0.2, 0.8, 0.8])))
    # Stored predictions win over the argmax; a label the model has no column for counts as wrong.
    assert multiclass_metrics(y, proba, predicted=y, classes=classes)["accuracy"] == 1.0
    odd = multiclass_metrics(np.array(["a", "z"]), proba[:2], classes=classes)
    assert odd["accuracy"] == 0.5 and odd["log_loss"] > 10
    # Per-class recall is logged but is not a gate metric.
    assert "recall_a" not in MULTICLASS_METRICS.names


def test_regression_metrics_and_mape_undefined_at_zero() -> None:
    y = np.array([1.0, 2.0, 4.0])
    yhat = np.array([1.5, 2.0, 3.0])
    m = regression_metrics(y, yhat)
    assert set(m) == set(REGRESSION_METRICS.names)
    assert m["rmse"] == pytest.approx(np.sqrt((0.25 + 0 + 1) / 3))
    assert m["mae"] == pytest.approx(0.5)
    assert m["mape"] == pytest.approx((0.5 + 0 + 0.25) / 3)
    assert m["r2"] == pytest.approx(1 - 1.25 / np.sum((y - y.mean()) ** 2))
    zero = REGRESSION_METRICS.defined(np.array([0.0, 1.0]), np.array([0.1, 1.0]))
    assert "mape" not in zero and {"rmse", "mae", "r2"} <= set(zero)


def test_every_metric_is_computed_and_ranking_ones_need_both_classes() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.6, 0.7, 0.9, 0.2, 0.4])
    m = binary_metrics(y, s)
    assert set(m) == set(METRICS)
    assert m["roc_auc"] == pytest.approx(8 / 9) and m["precision"] == pytest.approx(2 / 3)
    # Stored predicted labels win over the threshold.
    assert binary_metrics(y, s, predicted=y)["f1"] == 1.0
    single = binary_metrics(np.zeros(4), np.full(4, 0.2))
    needs_both = {spec.name for spec in BINARY_METRICS.specs if spec.needs_both_classes}
    assert {k for k, v in single.items() if v is None} == needs_both == {"roc_auc", "pr_auc"}
    assert set(BINARY_METRICS.defined(np.zeros(4), np.full(4, 0.2))) == set(METRICS) - needs_both
