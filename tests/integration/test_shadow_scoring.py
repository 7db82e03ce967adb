"""The score DAG with a challenger in shadow (dag.test): predictions/shadow beside the champion's,
and a shadow that fails to score never fails the champion's scoring."""

from __future__ import annotations

from datetime import timedelta

import pytest

from driftloop.core.storage import PREDICTIONS, SHADOW_PREDICTIONS
from driftloop.model import registry
from driftloop.model.gate import GateDecision
from driftloop.monitor.shadow import status_key
from tests.support.data import START, logical, write_days
from tests.support.registry import register_version

FAST = {"TRAINING__HYPERPARAMETERS": "{max_iter: 20, max_depth: 3}", "GATE__SHADOW_PARTITIONS": "2"}
DAYS = 10
END = START + timedelta(days=DAYS - 1)


@pytest.fixture
def env(cfg_factory, dags):
    from driftloop.core.storage import open_store

    cfg = cfg_factory(**FAST)
    store = open_store(cfg.storage)
    write_days(store, cfg, DAYS, rows=600)
    first = dags["churn__train"].test(
        logical_date=logical(END), run_conf={"date": END.isoformat(), "reason": "bootstrap"}
    )
    assert str(first.state) == "success"
    assert registry.aliases(cfg)["champion"] == "1"  # a first model is promoted even in shadow mode
    return cfg, store


def _shadow(cfg, version: str, since: str) -> None:
    decision = GateDecision(True, "improvement", "better", "roc_auc", {}, {}, version, "1")
    registry.start_shadow(cfg, version, decision, since)


def _score(dags, day):
    dr = dags["churn__score"].test(logical_date=logical(day), run_conf={"date": day.isoformat()})
    assert str(dr.state) == "success"
    return dr


def test_score_dag_writes_the_shadow_predictions_beside_the_champions(dags, env) -> None:
    from driftloop.model.workflow import TrainRequest, train_step

    cfg, store = env
    before = START + timedelta(days=DAYS - 2)
    v2 = train_step(
        cfg, TrainRequest(date=START + timedelta(days=6), window_days=5, reason="challenger")
    ).model_version
    _shadow(cfg, v2, END.isoformat())
    mv = registry.get_version(cfg, v2)
    assert mv.tags[registry.TAG_SHADOW] == (
        f"in shadow since {END} against champion v1; 0/2 labelled partitions compared"
    )
    assert registry.aliases(cfg) == {"champion": "1", "challenger": v2}

    _score(dags, END)
    _score(dags, before)  # before the shadow started: the champion's only
    champion, shadow = store.read_table(PREDICTIONS, END), store.read_table(SHADOW_PREDICTIONS, END)
    assert list(shadow.columns) == list(champion.columns)
    assert set(shadow["model_version"]) == {v2} and set(champion["model_version"]) == {"1"}
    assert sorted(shadow["customer_id"]) == sorted(champion["customer_id"])
    assert not shadow["score"].equals(champion["score"])
    # Only the days from the shadow's start (the champion also scored the backlog before it), and
    # the shadow zone is never read as the champion's predictions.
    assert store.partitions(SHADOW_PREDICTIONS) == [END]
    assert store.partitions(PREDICTIONS)[-1] == END and before in store.partitions(PREDICTIONS)
    assert store.read_json(status_key(cfg, v2, END))["status"] == "scored"
    assert registry.read_record(cfg, v2, "shadow")["since"] == END.isoformat()


def test_a_failing_shadow_never_fails_the_champions_scoring(dags, env) -> None:
    cfg, store = env
    broken = register_version(cfg, END.isoformat())  # a version without model files
    _shadow(cfg, broken, END.isoformat())
    _score(dags, END)
    assert set(store.read_table(PREDICTIONS, END)["model_version"]) == {"1"}
    assert store.partitions(SHADOW_PREDICTIONS) == []
    status = store.read_json(status_key(cfg, broken, END))
    assert status["status"] == "failed" and status["error"]
