"""One champion decision at a time: the lock holds across processes; stale gates are refused."""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from driftloop.core import locking
from driftloop.core.storage import open_store
from driftloop.model import registry, train
from driftloop.model.gate import GateDecision, evaluate_gate
from tests.support.data import START, write_days
from tests.support.registry import GATE, register_version

FAST = {
    "TRAINING__ALGORITHM": "logistic_regression",
    "TRAINING__HYPERPARAMETERS": "{}",
    "TRAINING__MIN_TRAIN_ROWS": "300",
}


def _hold(ready: Path, seconds: float) -> None:
    from driftloop.core.config import load_config

    with locking.champion_lock(load_config()):
        ready.touch()
        time.sleep(seconds)
        ready.with_name("released").touch()


def test_the_lock_excludes_another_process_and_is_freed_when_it_ends(cfg, tmp_path) -> None:
    assert locking.lock_target(cfg).endswith(f"mlflow.db.{cfg.model_name}.champion.lock")
    ready = tmp_path / "ready"
    holder = multiprocessing.get_context("spawn").Process(target=_hold, args=(ready, 3.0))
    holder.start()
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists()
        with (
            pytest.raises(locking.LockTimeout, match="still held"),
            locking.champion_lock(cfg, timeout=0.3),
        ):
            pass
        with locking.champion_lock(cfg, timeout=30):  # waits for the holder, then gets it
            assert (tmp_path / "released").exists()
    finally:
        holder.join(30)


def test_lock_targets_follow_the_tracking_store(cfg_factory, tmp_path) -> None:
    pg = "postgresql+psycopg2://u:secret@db:5432/mlflow"
    assert locking.lock_target(cfg_factory(MLFLOW__TRACKING_URI=pg)) == pg
    assert "secret" not in locking._redact(pg)
    http = cfg_factory(MLFLOW__TRACKING_URI="http://mlflow:5000")
    assert locking.lock_target(http).endswith(f"locks/{http.model_name}.champion.lock")
    folder = cfg_factory(MLFLOW__TRACKING_URI="http://mlflow:5000", MLFLOW__LOCK_URI=str(tmp_path))
    assert locking.lock_target(folder) == str(tmp_path / f"{folder.model_name}.champion.lock")


def test_a_bare_postgresql_lock_uri_gets_the_installed_driver() -> None:
    """Compose's lock_uri is a plain postgresql:// URL; SQLAlchemy alone would pick psycopg 3."""
    import sqlalchemy as sa

    url = locking.engine_url("postgresql://airflow:pw@postgres:5432/mlflow")
    assert url == "postgresql+psycopg2://airflow:pw@postgres:5432/mlflow"
    assert sa.create_engine(url).dialect.driver == "psycopg2"  # no connection made
    assert locking.engine_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"


def test_a_promotion_gated_against_an_older_champion_is_refused(cfg) -> None:
    v1, v2, v3 = (register_version(cfg, f"2026-01-1{i}") for i in range(3))
    registry.promote(cfg, v1, "first", "a")
    decision = evaluate_gate(
        {"roc_auc": 0.9, "log_loss": 0.3, "pr_auc": 0.7},
        {"roc_auc": 0.8, "log_loss": 0.3, "pr_auc": 0.7},
        GATE,
        challenger_version=v2,
        champion_version=v1,
    )
    registry.promote(cfg, v3, "someone else's promotion in between", "b")
    with pytest.raises(registry.StaleDecision, match=f"against champion v{v1}.*now v{v3}"):
        registry.promote(cfg, v2, "gate passed", "gate", decision)
    assert registry.aliases(cfg) == {"champion": v3, "previous_champion": v1}
    # Against the current champion it goes through.
    fresh = GateDecision.from_dict({**decision.to_dict(), "champion_version": v3})
    assert registry.promote(cfg, v2, "gate passed", "gate", fresh)["previous_champion"] == v3


# -- 20 concurrent train/promote/rollback attempts -------------------------------------------------
def _attempt(job: tuple[int, str, str]) -> dict:
    """One attempt in its own process: returns the alias move it made (before -> after) or why not."""
    from driftloop.core.config import load_config
    from driftloop.model import registry

    i, kind, version = job
    cfg = load_config()
    random.seed(i)
    time.sleep(random.random() * 0.5)
    try:
        if kind == "gate_and_promote":  # `driftloop train`'s gate + auto-promote
            decision, rec = registry.gate_and_promote(
                cfg, version, reason=f"attempt {i}", actor="train", min_improvement=0.0
            )
            if rec is None:
                return {"i": i, "kind": kind, "outcome": f"gate: {decision.rule}"}
            return {**_move(i, kind, rec), "gated_against": decision.champion_version}
        if kind == "stale_promote":  # the train DAG: gate task, later a separate promote task
            decision = registry.evaluate_challenger(cfg, version, min_improvement=0.0)
            time.sleep(random.random() * 0.5)
            if not decision.promote:
                return {"i": i, "kind": kind, "outcome": f"gate: {decision.rule}"}
            rec = registry.promote(cfg, version, f"attempt {i}", "dag", decision)
            return {**_move(i, kind, rec), "gated_against": decision.champion_version}
        if kind == "promote":
            return _move(i, kind, registry.promote(cfg, version, f"attempt {i}", "human"))
        rec = registry.rollback(cfg, f"attempt {i}", "human")
        return {"i": i, "kind": kind, "before": rec["previous_champion"], "after": rec["champion"]}
    except registry.RegistryError as err:  # stale decision, nothing to roll back, already champion
        return {"i": i, "kind": kind, "outcome": type(err).__name__}
    except Exception as err:  # reported to the test, which fails on it
        return {"i": i, "kind": kind, "outcome": f"error: {type(err).__name__}: {err}"}


def _move(i: int, kind: str, rec: dict) -> dict:
    if not rec["changed"]:
        return {"i": i, "kind": kind, "outcome": "unchanged"}
    return {"i": i, "kind": kind, "before": rec["previous_champion"], "after": rec["champion"]}


def _is_one_chain(start: str, moves: list[tuple[str, str]], final: tuple[str, str]) -> bool:
    """Can ``moves`` be ordered into one chain start -> ... that ends with the move ``final``?

    Serialized decisions form exactly such a chain (each move starts at the champion the previous
    one left, and the last one leaves the aliases as they are); two decisions that read the same
    champion make a fork that no ordering can explain. Euler-trail test on the multigraph.
    """
    if final not in moves:
        return False
    rest = list(moves)
    rest.remove(final)
    end = final[0]
    if not rest:
        return start == end
    balance: Counter[str] = Counter()
    for a, b in rest:
        balance[a] += 1
        balance[b] -= 1
    expected = {} if start == end else {start: 1, end: -1}  # out-degree minus in-degree
    if {k: v for k, v in balance.items() if v} != expected:
        return False
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for a, b in rest:
            if node in (a, b):
                for n in (a, b):
                    if n not in seen:
                        seen.add(n)
                        todo.append(n)
    return all(a in seen for a, _ in rest)


def test_chain_check_catches_two_decisions_that_read_the_same_champion() -> None:
    assert _is_one_chain("1", [("1", "2"), ("2", "3"), ("3", "2")], ("3", "2"))
    assert not _is_one_chain("1", [("1", "2"), ("1", "3")], ("1", "3"))  # both replaced v1
    assert not _is_one_chain("1", [("1", "2"), ("2", "3")], ("1", "2"))  # wrong last move


def test_twenty_concurrent_attempts_leave_one_consistent_alias_chain(cfg_factory) -> None:
    cfg = cfg_factory(**FAST)
    write_days(open_store(cfg.storage), cfg, 8, rows=150)
    end = START + timedelta(days=7)
    # From weak to strong, so that gates pass as well as fail.
    versions = [
        train.train_model(cfg, end, algorithm=algorithm, hyperparameters=hp).model_version
        for algorithm, hp in (
            ("random_forest", {"n_estimators": 1, "max_depth": 1}),
            ("random_forest", {"n_estimators": 3, "max_depth": 2}),
            ("logistic_regression", {}),
        )
    ]
    registry.promote(cfg, versions[0], "start", "test")
    kinds = ["gate_and_promote", "stale_promote", "promote", "rollback"]
    jobs = [
        (i, kind, versions[1 + i % 2] if "gate" in kind or "stale" in kind else versions[i % 3])
        for i, kind in ((i, kinds[i % len(kinds)]) for i in range(20))
    ]
    pool = multiprocessing.get_context("spawn").Pool(4)
    try:
        results = pool.map(_attempt, jobs)
    finally:
        pool.close()
        pool.join()
    errors = [r for r in results if r.get("outcome", "").startswith("error")]
    assert not errors, errors

    print(results)  # shown when the test fails
    moves = [(r["before"], r["after"]) for r in results if "after" in r]
    final = registry.aliases(cfg)
    assert final["champion"] != final.get("previous_champion")
    assert len(moves) >= 5 and any("gated_against" in r for r in results), (
        results
    )  # enough decisions actually happened to test something
    assert _is_one_chain(versions[0], moves, (final["previous_champion"], final["champion"])), (
        results
    )
    # A gated challenger replaced exactly the champion it was compared with.
    for r in results:
        if "gated_against" in r and "before" in r:
            assert r["gated_against"] == r["before"], r
