"""The model DAGs end to end with dag.test(): train -> gate -> promote (auto or approved), score."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from driftloop.airflow.links import LINKS_XCOM_KEY, mlflow_version_url
from driftloop.core.storage import PREDICTIONS, partition_prefix
from driftloop.model import registry
from tests.support.data import START, logical, write_days

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
    dr = dags["churn__train"].test(
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
    assert run.data.tags["airflow.dag_id"] == "churn__train"
    assert run.data.tags["airflow.run_id"] == dr.run_id
    assert run.data.tags["driftloop.trigger_reason"] == "bootstrap: first model"
    assert run.data.tags["driftloop.report_uri"] == "r.json"
    assert run.data.params["hp.max_iter"] == "20"
    assert run.data.metrics["roc_auc"] > cfg.gate.floor
    assert {i.tags[0].value for i in run.inputs.dataset_inputs} == {"training", "holdout"}
    assert {a.path for a in client.list_artifacts(mv.run_id)} >= {"plots", "reference", "holdout"}
    # MLflow 3 keeps the model files with the logged model the version points at.
    assert mv.source.startswith("models:/m-")
    # The version shows what a person reads; the rest is in the run's decision.json.
    assert mv.tags["driftloop.decision"] == "promoted to champion by gate (auto-promote)"
    assert mv.tags["driftloop.trigger"] == "bootstrap: first model"
    assert mv.tags["driftloop.primary_metric"].startswith("roc_auc 0.")
    assert len(mv.tags) <= 8, mv.tags
    doc = registry.decision_record(cfg, "1")
    assert doc["gate"]["rule"] == "first_model"
    assert [e["action"] for e in doc["history"]] == ["gate", "promote"]
    decisions = f"registry/decisions/{cfg.model_name}"
    assert store.read_json(f"{decisions}/v1-gate.json")["decision"]["promote"] is True
    assert store.read_json(f"{decisions}/v1-promote.json")["partition_date"] == END.isoformat()

    day = END  # validated, labels not yet arrived: exactly what scoring sees in production
    sr = dags["churn__score"].test(logical_date=logical(day), run_conf={"date": day.isoformat()})
    assert str(sr.state) == "success", _states(sr)
    preds = store.read_table(PREDICTIONS, day)
    assert set(preds["model_version"]) == {"1"} and set(preds["run_id"]) == {mv.run_id}
    assert len(preds) == len(store.read_table("validated", day))
    key = f"{partition_prefix(PREDICTIONS, day)}/part-0.parquet"
    before = store.read_bytes(key)
    rerun = dags["churn__score"].test(logical_date=logical(day), run_conf={"date": day.isoformat()})
    assert str(rerun.state) == "success"
    assert store.read_bytes(key) == before


def test_score_without_champion_skips_and_writes_nothing(dags, env) -> None:
    _cfg, store = env
    sr = dags["churn__score"].test(logical_date=logical(END), run_conf={"date": END.isoformat()})
    assert _states(sr)["resolve_champion"] == "skipped"
    assert store.partitions(PREDICTIONS) == []


def _awaiting(dag_id: str, task_id: str, session: Any) -> Any:
    """The task instance of ``task_id`` parked in AWAITING_INPUT, or None."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import TaskInstanceState

    return (
        session.query(TaskInstance)
        .filter_by(dag_id=dag_id, task_id=task_id, state=TaskInstanceState.AWAITING_INPUT)
        .one_or_none()
    )


def _test_while(dag: Any, answer: Any, args: tuple[Any, ...], **test_kwargs: Any) -> Any:
    """``dag.test(**test_kwargs)`` with ``answer(*args)`` in a thread beside it (a reviewer, or the
    timeout sweep): dag.test() keeps polling while the approval task waits in AWAITING_INPUT."""
    thread = threading.Thread(target=answer, args=args, daemon=True)
    thread.start()
    dr = dag.test(**test_kwargs)
    thread.join(timeout=5)
    return dr


def _respond_when_awaiting(
    dag_id: str, task_id: str, option: str, done: dict[str, Any], reason: str | None = None
) -> None:
    """Answer a parked approval task like the UI does: through the core API's HITL route handler,
    with the request's reason field filled in."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.utils.session import create_session

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with create_session() as session:
            ti = _awaiting(dag_id, task_id, session)
            if ti is not None:
                from airflow.models.hitl import HITLDetail

                done["aliases_while_waiting"] = registry.aliases(done["cfg"])
                done["body"] = session.query(HITLDetail).filter_by(ti_id=ti.id).one().body
                update_hitl_detail(
                    dag_id=dag_id,
                    dag_run_id=ti.run_id,
                    task_id=task_id,
                    update_hitl_detail_payload=UpdateHITLDetailPayload(
                        chosen_options=[option], params_input={"decision_reason": reason}
                    ),
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
    note = "looks right" if option == "Approve" else "holdout too small to trust"
    dr = _test_while(
        dags["churn__train"],
        _respond_when_awaiting,
        ("churn__train", "approve_promotion", option, done, note),
        logical_date=logical(END),
        run_conf={"date": END.isoformat(), "reason": "manual", "auto_promote": "off"},
    )
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
    tags = registry.get_version(cfg, "1").tags
    outcome = _xcom(dr, "record_outcome")
    if option == "Approve":
        assert states["promote_model"] == "success"
        assert registry.aliases(cfg) == {"champion": "1"}
        assert (
            tags["driftloop.decision"] == "promoted to champion by reviewer (approved in Airflow)"
        )
        # The approver's note is part of the promotion's recorded reason.
        rec = store.read_json(f"registry/decisions/{cfg.model_name}/v1-promote.json")
        assert rec["reason"].endswith("; approver: looks right"), rec
        assert outcome == "v1 is the champion"
    else:
        assert states["promote_model"] == "skipped"
        assert registry.aliases(cfg) == {"challenger": "1"}
        # The reviewer's reason: in the audit record, on the version, in decision.json, and in
        # what the run reports as its outcome.
        reason = "rejected in the approval step: holdout too small to trust"
        rec = store.read_json(f"registry/decisions/{cfg.model_name}/v1-rejected.json")
        assert (rec["actor"], rec["reason"]) == ("reviewer", reason)
        assert tags["driftloop.decision"] == "promotion rejected by reviewer"
        assert tags["driftloop.reason"] == reason
        last = registry.decision_record(cfg, "1")["history"][-1]
        assert (last["action"], last["reason"]) == ("rejected", reason)
        assert outcome == f"v1 not promoted: {reason}"


def _xcom(dr: Any, task_id: str, key: str = "return_value") -> Any:
    """The XCom ``key`` (default: the return value) of ``task_id`` in the run ``dr``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.execute(
            XComModel.get_many(
                key=key, run_id=dr.run_id, dag_ids=dr.dag_id, task_ids=task_id
            ).with_only_columns(XComModel.value)
        ).first()
    assert row is not None, f"no return value of {task_id}"
    try:  # stored as JSON text by some metadata databases, decoded by others
        return json.loads(row.value)
    except (TypeError, ValueError):
        return row.value


def _sweep_when_timed_out(dag_id: str, task_id: str, done: dict[str, Any]) -> None:
    """Try to answer as a user who is not an approver, then run the scheduler's HITL timeout sweep
    once the parked request's deadline has passed."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.sdk import timezone
    from airflow.utils.session import create_session
    from fastapi import HTTPException

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with create_session() as session:
            ti = _awaiting(dag_id, task_id, session)
            if ti is not None and "outsider" not in done:
                try:
                    update_hitl_detail(
                        dag_id=dag_id,
                        dag_run_id=ti.run_id,
                        task_id=task_id,
                        update_hitl_detail_payload=UpdateHITLDetailPayload(
                            chosen_options=["Approve"], params_input={"decision_reason": None}
                        ),
                        user=SimpleAuthManagerUser(username="mallory", role="admin"),
                        session=session,
                    )
                    done["outsider"] = 200
                except HTTPException as err:
                    done["outsider"] = err.status_code
                session.rollback()
                continue
            due = ti is not None and ti.trigger_timeout is not None
            if due and ti.trigger_timeout < timezone.utcnow():
                done["aliases_while_waiting"] = registry.aliases(done["cfg"])
                SchedulerJobRunner(job=Job()).check_awaiting_input_timeouts()
                done["swept"] = True
                return
        time.sleep(0.5)
    done["swept"] = False


def test_unanswered_approval_times_out_and_rejects(airflow_db, cfg_factory) -> None:
    from airflow.dag_processing.dagbag import DagBag

    cfg = cfg_factory(**FAST, GATE__APPROVAL_TIMEOUT="2s", GATE__APPROVERS="[alice]")
    from driftloop.core.storage import open_store

    store = open_store(cfg.storage)
    write_days(store, cfg, DAYS, rows=600)
    bag = DagBag()  # parsed with this config: the request's timeout and approvers come from it
    assert not bag.import_errors
    approval = bag.dags["churn__train"].get_task("approve_promotion")
    assert approval.response_timeout == timedelta(seconds=2)
    assert approval.assigned_users == [{"id": "alice", "name": "alice"}]

    done: dict[str, Any] = {"cfg": cfg}
    dr = _test_while(
        bag.dags["churn__train"],
        _sweep_when_timed_out,
        ("churn__train", "approve_promotion", done),
        logical_date=logical(END),
        run_conf={"date": END.isoformat(), "reason": "manual", "auto_promote": "off"},
    )
    # Only the configured approvers may answer: an admin who is not one is refused.
    assert done["outsider"] == 403
    assert done["swept"] and done["aliases_while_waiting"] == {"challenger": "1"}
    states = _states(dr)
    assert str(dr.state) == "success", states
    assert states["approve_promotion"] == "success" and states["promote_model"] == "skipped"
    # Not promoted, and the reason recorded like a reviewer's rejection.
    assert registry.aliases(cfg) == {"challenger": "1"}
    reason = "approval timed out after 2s"
    rec = store.read_json(f"registry/decisions/{cfg.model_name}/v1-rejected.json")
    assert rec["reason"] == reason and rec["actor"] == "airflow (no answer)"
    tags = registry.get_version(cfg, "1").tags
    assert tags["driftloop.reason"] == reason
    assert tags["driftloop.decision"] == "promotion rejected by airflow (no answer)"
    assert _xcom(dr, "record_outcome") == f"v1 not promoted: {reason}"


def test_promote_dag_rolls_back_and_promotes_with_audit(dags, env) -> None:
    cfg, store = env
    for end in (END - timedelta(days=1), END):
        dr = dags["churn__train"].test(
            logical_date=logical(end), run_conf={"date": end.isoformat(), "min_improvement": 0.0}
        )
        assert str(dr.state) == "success"
    # Two trainings on overlapping windows: the second is promoted only if it beat the first.
    aliases = registry.aliases(cfg)
    assert aliases["champion"] in {"1", "2"}
    registry.promote(cfg, "2", "set up the test state", "test")
    registry.promote(cfg, "1", "set up the test state", "test")

    dr = dags["churn__promote"].test(run_conf={"action": "rollback", "reason": "bad scores"})
    assert str(dr.state) == "success", _states(dr)
    assert registry.aliases(cfg) == {"champion": "2", "previous_champion": "1"}
    rec = store.read_json(f"registry/decisions/{cfg.model_name}/v2-rollback-from-v1.json")
    assert rec["reason"] == "bad scores" and rec["actor"]
    # The run links to the new champion's page in the MLflow registry.
    links = _xcom(dr, "apply", LINKS_XCOM_KEY)
    assert links == {
        "Registry decision": mlflow_version_url(cfg.tracking_uri(), cfg.model_name, "2")
    }

    dr = dags["churn__promote"].test(
        run_conf={"action": "promote", "version": "1", "reason": "fixed"}
    )
    assert str(dr.state) == "success"
    assert registry.aliases(cfg) == {"champion": "1", "previous_champion": "2"}
    assert (
        json.loads(store.read_bytes(f"registry/decisions/{cfg.model_name}/v1-promote.json"))[
            "reason"
        ]
        == "fixed"
    )
