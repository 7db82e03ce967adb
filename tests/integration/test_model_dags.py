"""The model DAGs end to end with dag.test(): train -> gate -> promote (auto or approved), score."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from driftloop.core.storage import PREDICTIONS, partition_prefix
from driftloop.model import registry
from tests.support.data import START, logical, write_days

pytestmark = pytest.mark.integration

FAST = {"TRAINING__HYPERPARAMETERS": "{max_iter: 20, max_depth: 3}"}
DAYS = 10  # labels for the first 7 (label delay 3)
END = START + timedelta(days=DAYS - 1)


@pytest.fixture
def env(cfg_factory):
    cfg = cfg_factory(**FAST)
    from driftloop.core.storage import open_store

    store = open_store(cfg.storage)
    write_days(store, cfg, DAYS, rows=600)
    return cfg, store


def _states(dr) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) for ti in dr.get_task_instances(session=session)}


def test_train_auto_promotes_first_model_then_score_writes_predictions(dags, env) -> None:
    import mlflow

    cfg, store = env
    dr = dags["train"].test(
        logical_date=logical(END),
        run_conf={
            "date": END.isoformat(),
            "reason": "bootstrap: first model",
            "report_uri": "r.json",
        },
    )
    assert str(dr.state) == "success", _states(dr)
    states = _states(dr)
    assert states["promote_model"] == "success" and states["approve_promotion"] == "skipped"
    assert registry.aliases(cfg) == {"champion": "1"}

    client = mlflow.MlflowClient(cfg.tracking_uri())
    mv = client.get_model_version(cfg.model_name, "1")
    run = client.get_run(mv.run_id)
    assert run.data.tags["airflow.dag_id"] == "train"
    assert run.data.tags["airflow.run_id"] == dr.run_id
    assert run.data.tags["driftloop.trigger_reason"] == "bootstrap: first model"
    assert run.data.tags["driftloop.report_uri"] == "r.json"
    assert run.data.params["hp.max_iter"] == "20"
    assert run.data.metrics["roc_auc"] > cfg.gate.floor
    assert {i.tags[0].value for i in run.inputs.dataset_inputs} == {"training", "holdout"}
    assert {a.path for a in client.list_artifacts(mv.run_id)} >= {"plots", "reference", "holdout"}
    # MLflow 3 keeps the model files with the logged model the version points at.
    assert mv.source.startswith("models:/m-")
    assert mv.tags["driftloop.gate.rule"] == "first_model"
    assert mv.tags["driftloop.promoted_by"] == "gate (auto-promote)"
    decisions = f"registry/decisions/{cfg.model_name}"
    assert store.read_json(f"{decisions}/v1-gate.json")["decision"]["promote"] is True
    assert store.read_json(f"{decisions}/v1-promote.json")["partition_date"] == END.isoformat()

    day = END  # validated, labels not yet arrived: exactly what scoring sees in production
    sr = dags["score"].test(logical_date=logical(day), run_conf={"date": day.isoformat()})
    assert str(sr.state) == "success", _states(sr)
    preds = store.read_table(PREDICTIONS, day)
    assert set(preds["model_version"]) == {"1"} and set(preds["run_id"]) == {mv.run_id}
    assert len(preds) == len(store.read_table("validated", day))
    key = f"{partition_prefix(PREDICTIONS, day)}/part-0.parquet"
    before = store.read_bytes(key)
    rerun = dags["score"].test(logical_date=logical(day), run_conf={"date": day.isoformat()})
    assert str(rerun.state) == "success"
    assert store.read_bytes(key) == before


def test_score_without_champion_skips_and_writes_nothing(dags, env) -> None:
    _cfg, store = env
    sr = dags["score"].test(logical_date=logical(END), run_conf={"date": END.isoformat()})
    assert _states(sr)["resolve_champion"] == "skipped"
    assert store.partitions(PREDICTIONS) == []


def _respond_when_awaiting(dag_id: str, task_id: str, option: str, done: dict[str, Any]) -> None:
    """Answer a parked approval task like the UI does: through the core API's HITL route handler."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with create_session() as session:
            ti = (
                session.query(TaskInstance)
                .filter_by(dag_id=dag_id, task_id=task_id, state=TaskInstanceState.AWAITING_INPUT)
                .one_or_none()
            )
            if ti is not None:
                from airflow.models.hitl import HITLDetail

                done["aliases_while_waiting"] = registry.aliases(done["cfg"])
                done["body"] = session.query(HITLDetail).filter_by(ti_id=ti.id).one().body
                update_hitl_detail(
                    dag_id=dag_id,
                    dag_run_id=ti.run_id,
                    task_id=task_id,
                    update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[option]),
                    user=SimpleAuthManagerUser(username="reviewer", role="admin"),
                    session=session,
                )
                done["answered"] = option
                return
        time.sleep(0.5)
    done["answered"] = None


@pytest.mark.parametrize("option", ["Approve", "Reject"])
def test_approval_gates_promotion(dags, env, option: str) -> None:
    cfg, store = env
    done: dict[str, Any] = {"cfg": cfg}
    # dag.test() keeps polling while the approval task is parked in AWAITING_INPUT; a reviewer thread
    # answers it the way the Required Actions page does, then the run resumes.
    reviewer = threading.Thread(
        target=_respond_when_awaiting,
        args=("train", "approve_promotion", option, done),
        daemon=True,
    )
    reviewer.start()
    dr = dags["train"].test(
        logical_date=logical(END),
        run_conf={"date": END.isoformat(), "reason": "manual", "auto_promote": "off"},
    )
    reviewer.join(timeout=5)
    assert done["answered"] == option
    # While waiting for the person, the new version is only the challenger.
    assert done["aliases_while_waiting"] == {"challenger": "1"}
    # The request shows the evidence: every holdout metric with the rule it is held to, the trigger
    # and the window the model was trained on.
    body = done["body"]
    assert "**The gate passed** (first_model)" in body, body
    assert "| roc_auc | 0." in body and "primary; floor 0.65: pass" in body, body
    assert "| log_loss (lower is better) |" in body, body
    assert "**Why this training:** manual" in body and "**Trained on:** " in body, body
    states = _states(dr)
    assert str(dr.state) == "success", states
    assert states["approve_promotion"] == "success"
    if option == "Approve":
        assert states["promote_model"] == "success"
        assert registry.aliases(cfg) == {"champion": "1"}
        assert registry.get_version(cfg, "1").tags["driftloop.promoted_by"] == (
            "reviewer (approved in Airflow)"
        )
    else:
        assert states["promote_model"] == "skipped"
        assert registry.aliases(cfg) == {"challenger": "1"}
        rec = store.read_json(f"registry/decisions/{cfg.model_name}/v1-rejected.json")
        assert rec["actor"] == "reviewer"
        assert registry.get_version(cfg, "1").tags["driftloop.approval"] == "rejected"


def test_promote_dag_rolls_back_and_promotes_with_audit(dags, env) -> None:
    cfg, store = env
    for end in (END - timedelta(days=1), END):
        dr = dags["train"].test(
            logical_date=logical(end), run_conf={"date": end.isoformat(), "min_improvement": 0.0}
        )
        assert str(dr.state) == "success"
    # Two trainings on overlapping windows: the second is promoted only if it beat the first.
    aliases = registry.aliases(cfg)
    assert aliases["champion"] in {"1", "2"}
    registry.promote(cfg, "2", "set up the test state", "test")
    registry.promote(cfg, "1", "set up the test state", "test")

    dr = dags["promote"].test(run_conf={"action": "rollback", "reason": "bad scores"})
    assert str(dr.state) == "success", _states(dr)
    assert registry.aliases(cfg) == {"champion": "2", "previous_champion": "1"}
    rec = store.read_json(f"registry/decisions/{cfg.model_name}/v2-rollback-from-v1.json")
    assert rec["reason"] == "bad scores" and rec["actor"]

    dr = dags["promote"].test(run_conf={"action": "promote", "version": "1", "reason": "fixed"})
    assert str(dr.state) == "success"
    assert registry.aliases(cfg) == {"champion": "1", "previous_champion": "2"}
    assert (
        json.loads(store.read_bytes(f"registry/decisions/{cfg.model_name}/v1-promote.json"))[
            "reason"
        ]
        == "fixed"
    )
