"""The forms' defaults and the first task's checks, with dag.test() on the real DAGs.

A run with the form's defaults trains on the newest labelled window; values the form cannot check
fail the first task with a one-line message naming the param, before any model is registered.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from driftloop.model import registry
from tests.support.data import START, write_days

FAST = {"TRAINING__HYPERPARAMETERS": "{max_iter: 20, max_depth: 3}"}


@pytest.fixture
def env(cfg_factory):
    from driftloop.core.storage import open_store

    cfg = cfg_factory(**FAST)
    store = open_store(cfg.storage)
    labelled = write_days(store, cfg, 10, rows=600)  # labels for the first 7 days
    return cfg, store, labelled


def _states(dr) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) for ti in dr.get_task_instances(session=session)}


def _defaults(dag) -> dict:
    return dag.params.validate()


def test_train_with_the_form_defaults_ends_the_window_on_the_newest_labelled_day(
    dags, env, caplog: pytest.LogCaptureFixture
) -> None:
    cfg, store, labelled = env
    with caplog.at_level(logging.INFO, logger="driftloop"):
        dr = dags["churn__train"].test(run_conf=_defaults(dags["churn__train"]))
    states = _states(dr)
    assert str(dr.state) == "success", states
    assert states["promote_model"] == "success"
    assert registry.aliases(cfg) == {"champion": "1"}
    version = registry.get_version(cfg, "1")
    import mlflow

    run = mlflow.MlflowClient(cfg.tracking_uri()).get_run(version.run_id)
    assert run.data.tags["driftloop.partition_date"] == labelled[-1].isoformat()
    assert run.data.tags["driftloop.trigger_reason"] == "manual"
    event = store.read_json(f"registry/decisions/{cfg.model_name}/v1-promote.json")
    assert event["partition_date"] == labelled[-1].isoformat()

    # What the task logs say, in order: window, training, registration, decision, outcome.
    said = [r.getMessage() for r in caplog.records if r.name.startswith("driftloop")]
    expected = [
        f"window end: {labelled[-1]}, the newest day with labels",
        f"training gradient_boosting on the 21-day window ending {labelled[-1]}",
        "trained churn-model v1 on",
        "registered churn-model v1",
        "gate passes v1 against champion none (first_model)",
        "v1 passed the gate; auto-promote is on: promoting",
        "churn-model v1 is champion (was None)",
        "v1 is the champion (champion: v1)",
    ]
    found = [next((i for i, m in enumerate(said) if m.startswith(e)), -1) for e in expected]
    assert -1 not in found and found == sorted(found), said


@pytest.mark.parametrize(
    ("conf", "failed_task"),
    [
        ({"hyperparameters": {"max_iterr": 3}}, "train_model"),
        ({"algorithm": "logistic_regression", "learning_rate": 0.1}, "train_model"),
        ({"date": (START + timedelta(days=1)).isoformat()}, "train_model"),  # no labelled window
        ({"since": "2026-01-09", "date": "2026-01-05"}, "train_model"),
    ],
)
def test_bad_train_params_fail_the_first_task_without_a_model(
    dags, env, conf: dict, failed_task: str
) -> None:
    cfg, _store, _labelled = env
    dr = dags["churn__train"].test(run_conf={**_defaults(dags["churn__train"]), **conf})
    states = _states(dr)
    assert str(dr.state) == "failed"
    assert states[failed_task] == "failed"
    assert {states[t] for t in ("gate", "route", "promote_model")} == {"upstream_failed"}
    assert registry.aliases(cfg) == {}  # nothing registered


def test_promote_form_defaults_and_checks(dags, env) -> None:
    cfg, _store, _labelled = env
    defaults = _defaults(dags["churn__promote"])
    dr = dags["churn__train"].test(run_conf=_defaults(dags["churn__train"]))
    assert str(dr.state) == "success"

    # promote without a version, with an unknown one, and a rollback with nothing to roll back to:
    # the run fails in its one task and nothing changes.
    for conf in ({}, {"version": "99"}, {"action": "rollback"}):
        dr = dags["churn__promote"].test(run_conf={**defaults, **conf})
        assert str(dr.state) == "failed", conf
        assert registry.aliases(cfg) == {"champion": "1"}

    dr = dags["churn__train"].test(
        run_conf={**_defaults(dags["churn__train"]), "min_improvement": 0.0}
    )
    assert str(dr.state) == "success"
    assert registry.aliases(cfg) == {"champion": "1", "challenger": "2"}  # a tie keeps v1
    dr = dags["churn__promote"].test(run_conf={**defaults, "version": "2"})
    assert str(dr.state) == "success"
    dr = dags["churn__promote"].test(run_conf={**defaults, "action": "rollback"})
    assert str(dr.state) == "success"
    assert registry.aliases(cfg) == {"champion": "1", "previous_champion": "2"}
    rollback = registry.read_records(cfg)
    assert [r["reason"] for r in rollback if r["action"] == "rollback-from-v2"] == [
        "manual override from the Airflow UI"
    ]
