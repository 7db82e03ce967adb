"""The backlog with dag.test(): days validated before the first champion are scored once after it."""

from __future__ import annotations

from datetime import timedelta

from driftloop.core.storage import PREDICTIONS, SCORING, partition_prefix
from driftloop.model import registry
from tests.support.data import START, logical, write_days

FAST = {"TRAINING__HYPERPARAMETERS": "{max_iter: 20, max_depth: 3}"}
DAYS = 10
END = START + timedelta(days=DAYS - 1)


def _targets(dr) -> list[dict]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.execute(
                XComModel.get_many(
                    key="return_value",
                    run_id=dr.run_id,
                    dag_ids=dr.dag_id,
                    task_ids="resolve_champion",
                    map_indexes=-1,
                )
            )
            .scalars()
            .all()
        )
        return XComModel.deserialize_value(rows[0]) if rows else []


def test_first_champion_scores_the_backlog_once(dags, cfg_factory) -> None:
    from driftloop.core.storage import open_store

    cfg = cfg_factory(**FAST)
    store = open_store(cfg.storage)
    write_days(store, cfg, DAYS, rows=500)
    score, train = dags["churn__score"], dags["churn__train"]

    # No champion: the day is recorded as unscored, nothing is written.
    first = score.test(logical_date=logical(START), run_conf={"date": START.isoformat()})
    assert str(first.state) == "success"
    assert store.read_json(f"{partition_prefix(SCORING, START)}/status.json")["status"] == (
        "no_champion"
    )
    assert store.partitions(PREDICTIONS) == []

    conf = {"date": END.isoformat(), "reason": "bootstrap: first model", "report_uri": "r.json"}
    assert str(train.test(logical_date=logical(END), run_conf=conf).state) == "success"
    assert registry.aliases(cfg) == {"champion": "1"}

    # A run not asked for the backlog by hand (a day's run, the promotion's model event) scores
    # its own day and the days whose scoring found no champion; the other validated days wait
    # for their own runs (under the scheduler they are on the way).
    days = [START + timedelta(days=i) for i in range(DAYS)]
    second = score.test(logical_date=logical(days[1]), run_conf={"date": days[1].isoformat()})
    assert str(second.state) == "success"
    assert [(t["partition"], bool(t.get("backlog"))) for t in _targets(second)] == [
        (days[1].isoformat(), False),
        (START.isoformat(), True),
    ]
    assert store.partitions(PREDICTIONS) == days[:2]

    # Asked by hand: every validated day without predictions, once each.
    run = score.test(logical_date=logical(END), run_conf={"backlog": True})
    assert str(run.state) == "success"
    assert [t["partition"] for t in _targets(run)] == [d.isoformat() for d in days[2:]]
    assert all(t["backlog"] and t["model_version"] == "1" for t in _targets(run))
    assert store.partitions(PREDICTIONS) == days
    for d in days[:1] + days[2:]:
        assert set(store.read_table(PREDICTIONS, d)["model_version"]) == {"1"}
        record = store.read_json(f"{partition_prefix(SCORING, d)}/status.json")
        assert (record["status"], record["backlog"], record["model_version"]) == (
            "scored",
            True,
            "1",
        )

    # Once each: a rerun (or the next day's run) finds no backlog and rewrites nothing.
    keys = [f"{partition_prefix(PREDICTIONS, d)}/part-0.parquet" for d in days]
    before = [store.read_bytes(k) for k in keys]
    again = score.test(logical_date=logical(END), run_conf={"backlog": True})
    assert str(again.state) == "success" and _targets(again) == []
    assert [store.read_bytes(k) for k in keys] == before
