"""The `churn__ingest` DAG end to end with dag.test(): real sensor, real GX, asset events in the Airflow DB."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from driftloop.core.storage import QUARANTINE, RAW, VALIDATED
from driftloop.data import synth

START = date(2026, 1, 1)
INCIDENT = date(
    2026, 1, 5
)  # data_quality: nulls (5th), text in a number (6th), dropped column (7th)


@pytest.fixture
def ingest_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from driftloop.core.config import project_root

    bag = DagBag(dag_folder=str(project_root() / "dags" / "ingest.py"))
    assert bag.import_errors == {}
    return bag.dags["churn__ingest"]


def _run(dag, day: date):
    return dag.test(logical_date=datetime(day.year, day.month, day.day, tzinfo=UTC))


def _last_event_id() -> int:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(select(func.max(AssetEvent.id))) or 0


def _validated_events(after_id: int) -> list[dict]:
    """Extras of the VALIDATED asset events recorded after event ``after_id``, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from driftloop.airflow.assets import pipeline_assets

    validated_asset = pipeline_assets("churn").validated

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == validated_asset.uri, AssetEvent.id > after_id)
            .order_by(AssetEvent.id)
        ).all()
        return [dict(r.extra) for r in rows]


def test_ingest_dag_publishes_partitions_and_asset_events(ingest_dag, cfg, store) -> None:
    scenario = synth.Scenario("data_quality", drift_start=INCIDENT)
    synth.write_days(store, cfg, START, 6, scenario, seed=3, rows=400)
    before = _last_event_id()

    good_days = [START + timedelta(days=i) for i in (0, 3)]  # the 4th brings the 1st's labels
    for day in good_days:
        run = _run(ingest_dag, day)
        assert run.state == "success", f"run of {day} ended {run.state}"

    assert store.partitions(VALIDATED) == good_days
    assert store.partitions(RAW) == good_days
    assert store.partitions("labels") == [START]
    validated = store.read_table(VALIDATED, good_days[0])
    assert len(validated) > 0 and cfg.dataset.target not in validated.columns

    events = _validated_events(before)
    assert [e["partition"] for e in events] == [d.isoformat() for d in good_days]
    for event, day in zip(events, good_days, strict=True):
        assert event["rows"] == len(store.read_table(VALIDATED, day))
        assert event["uri"] == store.uri(f"validated/date={day.isoformat()}")


@pytest.mark.parametrize(
    ("day", "stage"),
    [(INCIDENT, "validation"), (INCIDENT + timedelta(days=1), "ingest")],
    ids=["nulls-over-threshold", "text-in-numeric"],
)
def test_quarantined_day_fails_the_run(ingest_dag, cfg, store, day: date, stage: str) -> None:
    scenario = synth.Scenario("data_quality", drift_start=INCIDENT)
    synth.write_day(store, cfg, day, scenario, seed=3, rows=400)
    before = _last_event_id()

    run = _run(ingest_dag, day)

    assert run.state == "failed"
    assert store.partitions(QUARANTINE) == [day]
    assert not store.partition_exists(VALIDATED, day)
    reason = json.loads(store.read_bytes(f"quarantine/date={day.isoformat()}/reason.json"))
    assert reason["stage"] == stage
    original = store.read_bytes(f"landing/{day.isoformat()}/features.csv")
    assert store.read_bytes(f"quarantine/date={day.isoformat()}/features.csv") == original
    assert _validated_events(before) == []


def test_conf_date_selects_the_partition(ingest_dag, cfg, store) -> None:
    day = date(2026, 2, 10)
    synth.write_day(store, cfg, day, synth.Scenario(), seed=1, rows=300)

    run = ingest_dag.test(
        logical_date=datetime(2026, 3, 1, tzinfo=UTC), run_conf={"date": day.isoformat()}
    )

    assert run.state == "success"
    assert store.partitions(VALIDATED) == [day]


def test_a_parquet_delivery_goes_through_the_ingest_dag(ingest_dag, cfg, store) -> None:
    """The sensor sees features.parquet, ingest types and validates it (labels as Parquet too),
    and the validated asset event is the same as for a CSV day."""
    import io

    from driftloop.data.ingest import parse_features, parse_labels

    day = date(2026, 2, 20)
    labelled = day - timedelta(days=cfg.dataset.label_delay_days)
    synth.write_days(store, cfg, labelled, cfg.dataset.label_delay_days + 1, synth.Scenario())
    landing = f"landing/{day.isoformat()}"
    typed = parse_features(cfg, store.read_bytes(f"{landing}/features.csv"))
    labels = parse_labels(cfg, store.read_bytes(f"{landing}/labels_{labelled.isoformat()}.csv"))
    store.delete_prefix(f"{landing}/")
    for name, frame in [(f"labels_{labelled.isoformat()}", labels), ("features", typed)]:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False, row_group_size=256)
        store.write_bytes(f"{landing}/{name}.parquet", buf.getvalue())
    before = _last_event_id()

    run = _run(ingest_dag, day)

    assert run.state == "success"
    validated = store.read_table(VALIDATED, day)
    assert len(validated) == len(typed) and validated.equals(typed)
    assert store.read_table("labels", labelled)[cfg.dataset.target].tolist() == (
        labels[cfg.dataset.target].tolist()
    )
    [event] = _validated_events(before)
    assert (event["partition"], event["rows"]) == (day.isoformat(), len(typed))
    assert event["uri"] == store.uri(f"validated/date={day.isoformat()}")
    assert store.partitions(QUARANTINE) == []


def test_a_config_error_fails_the_task_at_once_with_one_line(
    ingest_dag, cfg_factory, tmp_path, caplog
) -> None:
    """A committed suite that disagrees with the config is a config error: the ingest task fails on
    its first try (no retry as if it were an outage), its one line in the log, no traceback."""
    import logging

    from airflow.utils.session import create_session

    from driftloop.airflow.body import ERROR_XCOM_KEY
    from driftloop.core.errors import EXIT_USAGE
    from driftloop.core.storage import open_store
    from driftloop.data import validation

    cfg = cfg_factory(validation__gx_root=str(tmp_path / "gx"))
    validation.write_gx_project(cfg)
    suite = json.loads(validation.suite_path(cfg).read_text())
    for e in suite["expectations"]:
        if e["type"] == "expect_table_row_count_to_be_between":
            e["kwargs"]["min_value"] = 50  # a hand edit: the config says 200
    validation.suite_path(cfg).write_text(json.dumps(suite))
    store = open_store(cfg.storage)
    synth.write_day(store, cfg, START, synth.Scenario(), seed=1, rows=300)

    with caplog.at_level(logging.INFO, logger="driftloop"):
        run = _run(ingest_dag, START)

    assert run.state == "failed"
    with create_session() as session:
        [ti] = [
            t for t in run.get_task_instances(session=session) if t.task_id != "wait_for_landing"
        ]
        assert (ti.task_id, str(ti.state), ti.try_number) == ("ingest_and_validate", "failed", 1)
    errors = [
        r for r in caplog.records if r.name == "driftloop.airflow.body" and r.levelname == "ERROR"
    ]
    [line] = [r.getMessage() for r in errors]
    assert "min_value: suite 50, config 200" in line and "(exit 2, not retried)" in line
    assert "\n" not in line and not errors[0].exc_info
    assert ti.xcom_pull(task_ids="ingest_and_validate", key=ERROR_XCOM_KEY) == {
        "exit_code": EXIT_USAGE,
        "message": line.removesuffix(" (exit 2, not retried)"),
    }
    assert not store.partition_exists(VALIDATED, START)
    # The day's drift check stops waiting: its sensor sees the failed ingest's record.
    from driftloop.airflow.sensors import scored_keys

    assert [k for k in scored_keys(START) if store.exists(k)] == [
        f"monitoring/scoring/date={START.isoformat()}/_SUCCESS"
    ]
    status = json.loads(
        store.read_bytes(f"monitoring/scoring/date={START.isoformat()}/status.json")
    )
    assert status == {
        "status": "ingest_failed",
        "reason": ti.xcom_pull(task_ids="ingest_and_validate", key=ERROR_XCOM_KEY)["message"],
    }
    # A driver of the DAGs (replay, demo) stops on it with that line, rather than run on.
    from driftloop.airflow.driver import TaskConfigError, run_dag

    day = START + timedelta(days=1)
    synth.write_day(store, cfg, day, synth.Scenario(), seed=1, rows=300)
    with pytest.raises(
        TaskConfigError, match=r"ingest_and_validate failed: .*suite 50, config 200"
    ):
        run_dag(ingest_dag, day)
