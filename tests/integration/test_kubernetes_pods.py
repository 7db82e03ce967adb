"""Kubernetes execution mode, run for real: the pods' rendered command lines (the real ``driftloop``
of this venv, as the image holds it) return in their XCom file what the in-process tasks return.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.kubernetes import DAGS, inspect_dags, run_pod_command


def _xcom(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.execute(
            XComModel.get_many(
                key="return_value",
                run_id=run_id,
                dag_ids=dag_id,
                task_ids=task_id,
                map_indexes=map_index,
            )
        ).scalar_one()
        return XComModel.deserialize_value(row)


def test_pod_results_equal_what_the_in_process_tasks_return(
    airflow_db, cfg_factory, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from airflow.dag_processing.dagbag import DagBag

    from driftloop.core.storage import PREDICTIONS, open_store, partition_prefix
    from driftloop.model import registry
    from tests.support.data import START, write_days

    cfg = cfg_factory(TRAINING__HYPERPARAMETERS="{max_iter: 20, max_depth: 3}")
    store = open_store(cfg.storage)
    write_days(store, cfg, 10, rows=600)
    end = START + timedelta(days=9)
    conf = {"date": end.isoformat(), "reason": "parity", "report_uri": "r.json"}

    # In-process (local mode): what train_model and score_partition return.
    bag = DagBag(dag_folder=str(DAGS))
    logical = datetime(end.year, end.month, end.day, tzinfo=UTC)
    dr = bag.dags["churn__train"].test(logical_date=logical, run_conf=conf)
    assert str(dr.state) == "success"
    local_train = _xcom("churn__train", dr.run_id, "train_model")
    sr = bag.dags["churn__score"].test(logical_date=logical, run_conf={"date": end.isoformat()})
    assert str(sr.state) == "success"
    local_score = _xcom("churn__score", sr.run_id, "score_partition", map_index=0)
    predictions = f"{partition_prefix(PREDICTIONS, end)}/part-0.parquet"
    local_bytes = store.read_bytes(predictions)

    # The same runs in kubernetes mode: the pods' rendered command lines, run for real.
    spec = {
        "train_runs": [
            {
                "run_id": dr.run_id,
                "conf": conf,
                "logical_date": logical.isoformat()[:19],
                "run_after": logical.isoformat()[:19],
            }
        ],
        "score_targets": [
            {"partition": end.isoformat(), "model_version": "1"},
            # v2, the challenger the pod below registers, scored in shadow beside the champion.
            {"partition": end.isoformat(), "model_version": "1", "shadow_version": "2"},
        ],
    }
    tasks = inspect_dags(tmp_path, spec, DRIFTLOOP__EXECUTION__MODE="kubernetes")
    pod_train = run_pod_command(tasks["train_model"]["pods"][0], tmp_path / "train.json")
    pod_score = run_pod_command(tasks["score_partition"]["pods"][0], tmp_path / "score.json")

    # Same keys, so gate/promote read the pod's XCom exactly as the in-process result; same data,
    # same window, same model settings.
    assert set(pod_train) == set(local_train)
    same = ("model_name", "partition_date", "algorithm", "partitions", "holdout_partitions")
    assert {k: pod_train[k] for k in same} == {k: local_train[k] for k in same}
    assert (pod_train["n_train"], pod_train["n_holdout"]) == (
        local_train["n_train"],
        local_train["n_holdout"],
    )
    assert pod_train["metrics"] == pytest.approx(local_train["metrics"])
    assert (local_train["model_version"], pod_train["model_version"]) == ("1", "2")
    # --train-only: the pod registered a challenger and left gating and promotion to the DAG.
    assert registry.aliases(cfg) == {"champion": "1", "challenger": "2"}
    tags = registry.get_version(cfg, "2")  # the run behind it carries the Airflow task identity
    import mlflow

    run = mlflow.MlflowClient(cfg.tracking_uri()).get_run(tags.run_id)
    assert run.data.tags["airflow.dag_id"] == "churn__train"
    assert run.data.tags["airflow.run_id"] == dr.run_id
    assert run.data.tags["driftloop.trigger_reason"] == "parity"

    assert set(pod_score) == set(local_score)
    assert {k: v for k, v in pod_score.items() if k != "seconds"} == {
        k: v for k, v in local_score.items() if k != "seconds"
    }
    assert store.read_bytes(predictions) == local_bytes  # rescoring rewrote identical bytes

    # The pod of a day with a challenger in shadow: the champion's result plus the shadow's, as
    # the in-process task returns them (the shadow's from the same library call).
    from driftloop.core.storage import SHADOW_PREDICTIONS
    from driftloop.monitor.shadow import score_shadow, status_key

    pod_shadow = run_pod_command(tasks["score_partition"]["pods"][1], tmp_path / "shadow.json")
    assert {k: v for k, v in pod_shadow.items() if k not in ("seconds", "shadow")} == {
        k: v for k, v in local_score.items() if k != "seconds"
    }
    shadow = pod_shadow["shadow"]
    assert (shadow["status"], shadow["model_version"], shadow["rows"]) == (
        "scored",
        "2",
        local_score["rows"],
    )
    assert store.read_json(status_key(cfg, "2", end)) == shadow
    shadow_key = f"{partition_prefix(SHADOW_PREDICTIONS, end)}/part-0.parquet"
    assert set(store.read_table(SHADOW_PREDICTIONS, end)["model_version"]) == {"2"}
    pod_bytes = store.read_bytes(shadow_key)
    in_process = score_shadow(cfg, end, "2")
    assert {k: v for k, v in in_process.items() if k != "seconds"} == {
        k: v for k, v in shadow.items() if k != "seconds"
    }
    assert store.read_bytes(shadow_key) == pod_bytes
