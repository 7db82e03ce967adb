"""A shadow win with gate.auto_promote off (dag.test): drift_check's review starts a promote run
that asks a person; Approve promotes the version, Reject ends its shadow with the reviewer's reason."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftloop.core.storage import LABELS, PREDICTIONS, SHADOW_PREDICTIONS, parquet_bytes
from driftloop.model import registry
from driftloop.model.gate import GateDecision
from driftloop.model.train import train_model
from driftloop.monitor.daily_check import mark_unscored
from tests.integration.test_model_dags import (
    _respond_when_awaiting,
    _states,
    _sweep_when_timed_out,
    _test_while,
    _xcom,
)
from tests.support.data import START, logical, write_days
from tests.support.registry import register_version

SHADOW = {
    "TRAINING__HYPERPARAMETERS": "{max_iter: 20, max_depth: 3}",
    "GATE__SHADOW_PARTITIONS": "2",
    "GATE__AUTO_PROMOTE": "false",
}
TRAIN_END = START + timedelta(days=9)
DAYS = [TRAIN_END + timedelta(days=1), TRAIN_END + timedelta(days=2)]  # in shadow
REVIEW_DAY = DAYS[-1]


def _predictions(labels: pd.DataFrame, scores: np.ndarray, version: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": labels["customer_id"],
            "score": scores,
            "predicted_label": (scores >= 0.5).astype("int8"),
            "model_version": version,
        }
    )


@pytest.fixture
def shadow_win(cfg_factory, airflow_db):
    """Champion v1; v2 in shadow since the first day, scored on both days, better on both."""
    return _shadow_win(cfg_factory)


def _shadow_win(cfg_factory, **overrides: str) -> tuple[Any, str, str]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from driftloop.core.storage import open_store

    with create_session() as session:  # the Airflow database outlives one test's registry
        session.query(DagRun).filter(DagRun.dag_id == "churn__promote").delete()

    cfg = cfg_factory(**SHADOW, **overrides)
    store = open_store(cfg.storage)
    write_days(store, cfg, 13, rows=300, label_delay=0)
    v1 = train_model(cfg, TRAIN_END, reason="test champion").model_version
    registry.promote(cfg, v1, "test champion", "pytest")
    v2 = train_model(cfg, TRAIN_END, reason="test challenger").model_version
    gate = GateDecision(
        True,
        "improvement",
        "roc_auc 0.8000 vs 0.7000",
        "roc_auc",
        {"roc_auc": 0.8},
        {"roc_auc": 0.7},
        v2,
        v1,
        thresholds={"floor": 0.6, "min_improvement": 0.01},
    )
    registry.start_shadow(cfg, v2, gate, DAYS[0].isoformat())
    rng = np.random.default_rng(0)
    for day in DAYS:
        labels = store.read_table(LABELS, day)
        truth = labels[cfg.dataset.target].to_numpy(dtype=float)
        noisy = rng.random(len(labels))  # the champion: no better than chance
        sharp = np.clip(0.8 * truth + 0.2 * rng.random(len(labels)), 0, 1)  # the challenger
        for zone, frame in (
            (PREDICTIONS, _predictions(labels, noisy, v1)),
            (SHADOW_PREDICTIONS, _predictions(labels, sharp, v2)),
        ):
            store.write_partition(zone, day, {"part-0.parquet": parquet_bytes(frame)})
    return cfg, v1, v2


def _promote_runs() -> list[Any]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == "churn__promote").all()
        session.expunge_all()
        return runs


def _review(dags: dict[str, Any], day: date = REVIEW_DAY) -> Any:
    """The drift_check run of ``day`` (its drift check, retrain policy and shadow review)."""
    dr = dags["churn__drift_check"].test(logical_date=logical(day))
    assert str(dr.state) == "success", _states(dr)
    return dr


@pytest.mark.parametrize("option", ["Approve", "Reject"])
def test_shadow_win_asks_for_approval_then_promotes_or_ends_the_shadow(
    dags, shadow_win, option: str
) -> None:
    cfg, v1, v2 = shadow_win
    dr = _review(dags)
    summary = _xcom(dr, "review_shadow")
    assert summary["outcome"] == "awaiting_approval" and summary["new_win"], summary
    assert _states(dr)["request_approval"] == "success"
    # The win is recorded, the champion unchanged, and one promote run asks about it.
    assert registry.read_record(cfg, v2, "shadow-won") is not None
    assert registry.aliases(cfg) == {"champion": v1, "challenger": v2}
    (run,) = _promote_runs()
    assert run.run_id == f"shadow_win__v{v2}"
    assert run.conf == {
        "action": "promote",
        "version": v2,
        "reason": summary["reason"],
        "shadow_win": True,
    }
    assert run.conf["reason"].startswith("won in shadow: roc_auc over 2 labelled partitions")

    # The next day's review sees the same win and asks nothing again.
    next_day = REVIEW_DAY + timedelta(days=1)
    mark_unscored(cfg, [next_day.isoformat()], "test: nothing new to score")
    again = _review(dags, next_day)
    assert _xcom(again, "review_shadow")["new_win"] is False
    assert _states(again)["request_approval"] == "skipped"
    assert len(_promote_runs()) == 1

    done: dict[str, Any] = {"cfg": cfg}
    note = "live numbers convince" if option == "Approve" else "too few customers this week"
    pr = _test_while(
        dags["churn__promote"],
        _respond_when_awaiting,
        ("churn__promote", "approve_shadow_win", option, done, note),
        run_conf=run.conf,
    )
    assert done["answered"] == option
    states = _states(pr)
    assert str(pr.state) == "success", states
    assert states["approve_shadow_win"] == "success"
    # The request shows the per-partition shadow evidence and the offline gate's figures.
    body = done["body"]
    for c in summary["compared"]:
        row = f"| {c['partition']} | {c['rows']} | {c['challenger']:.4f} | {c['champion']:.4f} (v{v1}) |"
        assert row in body, body
    assert [c["partition"] for c in summary["compared"]] == [d.isoformat() for d in DAYS]
    assert "**The offline gate passed** (improvement): roc_auc 0.8000 vs 0.7000." in body, body
    assert "| roc_auc | 0.8000 | 0.7000 | +0.1000 | primary;" in body, body
    tags = registry.get_version(cfg, v2).tags
    if option == "Approve":
        assert states["apply"] == "success"
        assert registry.aliases(cfg) == {"champion": v2, "previous_champion": v1}
        rec = registry.read_record(cfg, v2, "promote")
        assert rec["actor"] == "reviewer (approved in Airflow)", rec
        assert rec["reason"] == f"{summary['reason']}; approver: {note}", rec
        assert rec["decision"]["rule"] == "shadow" and rec["decision"]["champion_version"] == v1
        assert tags["driftloop.shadow"].startswith("won in shadow: ")
        assert registry.shadow_challenger(cfg) is None
        assert _xcom(pr, "apply")["champion"] == v2
    else:
        assert states["apply"] == "skipped"
        assert registry.aliases(cfg) == {"champion": v1}  # the challenger alias is removed
        reason = f"not promoted: rejected in the approval step: {note}"
        rec = registry.read_record(cfg, v2, "rejected")
        assert (rec["actor"], rec["reason"]) == ("reviewer", reason), rec
        assert tags["driftloop.shadow"] == reason
        assert tags["driftloop.decision"] == "promotion rejected by reviewer"
        last = registry.decision_record(cfg, v2)["history"][-1]
        assert (last["action"], last["reason"]) == ("rejected", reason)
        assert registry.shadow_challenger(cfg) is None


def test_a_shadow_win_is_refused_once_the_champion_moved(dags, shadow_win) -> None:
    cfg, v1, v2 = shadow_win
    _review(dags)
    (run,) = _promote_runs()
    # Someone promoted another version while the request waited: the comparison no longer holds.
    v3 = register_version(cfg, START.isoformat())
    registry.promote(cfg, v3, "hotfix", "pytest")
    done: dict[str, Any] = {"cfg": cfg}
    pr = _test_while(
        dags["churn__promote"],
        _respond_when_awaiting,
        ("churn__promote", "approve_shadow_win", "Approve", done, None),
        run_conf=run.conf,
    )
    assert str(pr.state) == "failed"
    assert _states(pr)["apply"] == "failed"
    # Nothing moved: v3 stays the champion, v2 in shadow (the next review stops it).
    assert registry.aliases(cfg) == {"champion": v3, "previous_champion": v1, "challenger": v2}
    assert registry.read_record(cfg, v2, "promote") is None


def test_an_unanswered_shadow_win_times_out_and_ends_the_shadow(cfg_factory, airflow_db) -> None:
    from airflow.dag_processing.dagbag import DagBag

    cfg, v1, v2 = _shadow_win(cfg_factory, GATE__APPROVAL_TIMEOUT="2s", GATE__APPROVERS="[alice]")
    bag = DagBag()  # parsed with this config: the request's timeout and approvers come from it
    assert not bag.import_errors
    _review(bag.dags)
    (run,) = _promote_runs()
    done: dict[str, Any] = {"cfg": cfg}
    pr = _test_while(
        bag.dags["churn__promote"],
        _sweep_when_timed_out,
        ("churn__promote", "approve_shadow_win", done),
        run_conf=run.conf,
    )
    assert done["outsider"] == 403  # an admin who is not an approver cannot answer
    assert done["swept"] and done["aliases_while_waiting"] == {"champion": v1, "challenger": v2}
    states = _states(pr)
    assert str(pr.state) == "success", states
    assert states["approve_shadow_win"] == "success" and states["apply"] == "skipped"
    # No answer is a "Reject" by the timeout: the shadow ends, the champion stays.
    assert registry.aliases(cfg) == {"champion": v1}
    assert registry.shadow_challenger(cfg) is None
    reason = "not promoted: approval timed out after 2s"
    rec = registry.read_record(cfg, v2, "rejected")
    assert (rec["actor"], rec["reason"]) == ("airflow (no answer)", reason), rec
    assert registry.get_version(cfg, v2).tags["driftloop.shadow"] == reason
