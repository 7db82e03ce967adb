"""Partition resolution (driftloop.airflow.partition) and links (driftloop.airflow.links)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from driftloop.airflow import links
from driftloop.airflow.partition import resolve_partition, retrain_run_id, triggered_partitions
from driftloop.core.partition import InvalidPartition, Partition
from tests.support.context import Event, Run


class TI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_conf_date_wins_over_events_and_logical_date() -> None:
    ctx = {
        "dag_run": Run({"date": "2026-03-04"}),
        "triggering_asset_events": {"a": [Event({"partition": "2026-01-01"})]},
        "logical_date": datetime(2026, 5, 5, tzinfo=UTC),
    }
    assert resolve_partition(ctx) == Partition.of("2026-03-04")


def test_newest_asset_event_partition_then_logical_date() -> None:
    events = {
        "a": [Event({"partition": "2026-01-02"}), Event({"partition": "2026-01-03"}), Event({})]
    }
    assert resolve_partition({"dag_run": Run(), "triggering_asset_events": events}) == Partition.of(
        "2026-01-03"
    )
    assert [str(p) for p in triggered_partitions({"triggering_asset_events": events})] == [
        "2026-01-02",
        "2026-01-03",
    ]
    ctx = {"dag_run": Run(), "logical_date": datetime(2026, 2, 9, 23, 59, tzinfo=UTC)}
    assert resolve_partition(ctx) == Partition.of("2026-02-09")


def test_no_partition_anywhere_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="cannot tell which partition"):
        resolve_partition({"dag_run": Run(), "logical_date": None})


def test_bad_conf_date_is_rejected() -> None:
    with pytest.raises(InvalidPartition, match="yesterday"):
        resolve_partition({"dag_run": Run({"date": "yesterday"})})


def test_a_conf_date_time_names_its_day_and_a_retrain_run_id_is_per_day() -> None:
    ctx = {"dag_run": Run({"date": "2026-03-04T18:30:00+00:00"})}
    assert str(resolve_partition(ctx)) == "2026-03-04"
    assert retrain_run_id("2026-03-04") == retrain_run_id(Partition.of("2026-03-04"))
    assert retrain_run_id("2026-03-04") == "retrain__2026-03-04"
    with pytest.raises(InvalidPartition):
        retrain_run_id("2026-03-04junk")


def test_publish_links_validates_names_and_skips_empty() -> None:
    ti = TI()
    links.publish_links({"ti": ti}, mlflow_run="http://m/#/experiments/1/runs/abc", data_docs=None)
    assert ti.pushed == {links.LINKS_XCOM_KEY: {"MLflow run": "http://m/#/experiments/1/runs/abc"}}
    with pytest.raises(ValueError, match="unknown link names"):
        links.publish_links({"ti": ti}, grafana="http://x")


def test_mlflow_run_url_uses_server_or_ui_address(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        links.mlflow_run_url("http://mlflow:5000/", "3", "r1")
        == "http://mlflow:5000/#/experiments/3/runs/r1"
    )
    monkeypatch.setenv("DRIFTLOOP_MLFLOW_UI_URL", "http://127.0.0.1:5001")
    assert links.mlflow_run_url("sqlite:////x/mlflow.db", "3", "r1").startswith(
        "http://127.0.0.1:5001/#/"
    )


def test_served_links_for_reports_and_data_docs(tmp_path) -> None:
    assert (
        links.report_link("churn", "2026-02-03")
        == "/driftloop/churn/reports/2026-02-03/report.html"
    )
    page = tmp_path / "docs" / "validations" / "s" / "p.html"
    assert (
        links.data_docs_link("churn", page.as_uri(), tmp_path / "docs")
        == "/driftloop/churn/data-docs/validations/s/p.html"
    )
    assert (
        links.data_docs_link("churn", (tmp_path / "elsewhere.html").as_uri(), tmp_path / "docs")
        is None
    )
    assert links.data_docs_link("churn", None, tmp_path) is None


@dataclass
class Named:
    dag_id: str = "train"
    task_id: str = "train_model"


def test_train_pod_arguments_come_from_the_run_params() -> None:
    from driftloop.airflow.pods import POD_RESULT_FILE, RunArguments, train_arguments

    params = {
        "date": "2026-01-10",
        "reason": None,
        "window_days": 14,
        "hyperparameters": {"max_iter": 20},
        "learning_rate": 0.2,
        "max_depth": None,
    }
    ctx = {"params": params, "dag": Named(), "task": Named(), "run_id": "manual__1"}
    args = RunArguments(train_arguments).resolve(ctx)
    assert args[:4] == ["--result-file", POD_RESULT_FILE, "train", "--train-only"]
    options = dict(zip(args[4::2], args[5::2], strict=True))
    assert options == {
        "--date": "2026-01-10",
        "--reason": "manual",
        "--report-uri": "",
        "--since": "",
        "--window-days": "14",
        "--algorithm": "",
        "--hyperparameters": '{"learning_rate": 0.2, "max_iter": 20}',
        "--dag-id": "train",
        "--run-id": "manual__1",
        "--task-id": "train_model",
    }
    assert "train_arguments" in str(RunArguments(train_arguments))  # what the serialized DAG shows


def test_run_dag_runs_the_logical_day_at_midnight_utc() -> None:
    from datetime import date

    from driftloop.airflow.driver import run_dag

    calls: list[dict[str, Any]] = []

    class FakeDag:
        def test(self, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return Run()  # no state attribute: reported as unknown

    assert run_dag(FakeDag(), date(2026, 1, 5), None, "trigger_train") == "unknown"
    assert calls == [
        {
            "logical_date": datetime(2026, 1, 5, tzinfo=UTC),
            "run_conf": {},
            "mark_success_pattern": "trigger_train",
        }
    ]


@dataclass
class AssetRef:
    name: str


@dataclass
class AssetEvent:
    asset: AssetRef
    extra: dict[str, Any]


@dataclass
class Dag:
    dag_id: str = "churn__score"


def test_score_run_days_a_promotion_starts_a_backlog_only_run() -> None:
    """A ``model`` event (a promotion) names its training day; the score run scores no day of its
    own for it (the day is scored already or is in the backlog), only ``validated`` days count."""
    from driftloop.airflow.tasks.score import run_days

    model = AssetEvent(AssetRef("churn.model"), {"partition": "2026-01-09", "model_version": "1"})
    validated = AssetEvent(AssetRef("churn.validated"), {"partition": "2026-01-10"})
    ctx: dict[str, Any] = {"dag": Dag(), "dag_run": Run(), "triggering_asset_events": {}}
    assert run_days({**ctx, "triggering_asset_events": {"m": [model]}}) == []
    both = {"m": [model], "v": [validated]}
    assert run_days({**ctx, "triggering_asset_events": both}) == ["2026-01-10"]
    assert run_days({**ctx, "dag_run": Run({"backlog": True})}) == []
    assert run_days({**ctx, "dag_run": Run({"date": "2026-01-05", "backlog": True})}) == [
        "2026-01-05"
    ]
    logical = {**ctx, "logical_date": datetime(2026, 2, 1, tzinfo=UTC)}
    assert run_days(logical) == ["2026-02-01"]
