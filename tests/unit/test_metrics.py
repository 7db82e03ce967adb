"""The metric table: one set of names and directions for the gate, training and monitoring."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest

from driftloop.core import config
from driftloop.core.metrics import (
    BINARY_METRICS,
    LOWER_IS_BETTER,
    METRICS,
    binary_metrics,
    metric_table,
)

pytestmark = pytest.mark.unit


def test_the_config_validates_guards_against_the_same_table() -> None:
    assert BINARY_METRICS.names == METRICS
    assert {"log_loss", "brier"} == LOWER_IS_BETTER
    for name in METRICS:  # every metric of the table is accepted as a guard, nothing else
        assert config.Gate(guards={name: 0.01}).guards == {name: 0.01}
    with pytest.raises(ValueError, match="unknown guard metric"):
        config.Gate(guards={"accuracy": 0.01})
    # The gate's primary metric choices are all in the table, and all "higher is better".
    primary = get_args(config.Gate.model_fields["primary_metric"].annotation)
    assert set(primary) <= set(METRICS) and not set(primary) & LOWER_IS_BETTER


def test_regression_follows_the_direction_of_the_metric() -> None:
    assert BINARY_METRICS.regression("roc_auc", 0.7, 0.8) == pytest.approx(0.1)
    assert BINARY_METRICS.regression("log_loss", 0.5, 0.4) == pytest.approx(0.1)
    assert BINARY_METRICS.regression("brier", 0.1, 0.2) == pytest.approx(-0.1)


def test_lookup_by_task_type() -> None:
    assert metric_table() is metric_table("binary") is BINARY_METRICS
    with pytest.raises(KeyError, match="regression"):
        metric_table("regression")


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
