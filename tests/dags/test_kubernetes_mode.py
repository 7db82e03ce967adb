"""Kubernetes execution mode: the heavy steps (train, score) become pods, switched by configuration.

The DAGs are parsed in a fresh interpreter with the mode set (DagBag caches modules, and the mode is
read at parse time). There the pod tasks are rendered the way a worker renders them (the real
template context of a task instance, then ``render_template_fields``) and the pod is built with
``build_pod_request_obj(dry_run=True)``: the V1Pod that would be submitted, with no cluster.

The last test (integration tier) runs the pods' rendered command lines with the real ``driftloop``
and checks that their XCom file holds what the in-process tasks return.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Marked per test: the last one belongs to the integration tier.

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"

TRAIN_RUN_ID = "manual__2026-01-10T00:00:00+00:00"
TRAIN_CONF = {
    "date": "2026-01-10",
    "reason": "drift: 3 features drifted",
    "report_uri": "s3://bucket/monitoring/drift/date=2026-01-10/report.json",
    "since": "2026-01-04",
    "algorithm": "gradient_boosting",
    "hyperparameters": {"max_iter": 20},
    "max_depth": 3,
}
SCORE_TARGETS = [
    {"partition": "2026-01-11", "model_version": "4"},
    {"partition": "2026-01-12", "model_version": "4", "shadow_version": "5"},
]

# Parses dags/ and prints, per heavy task, what the scheduler and a worker would see in this mode.
_INSPECT = r"""
import copy, json, sys, uuid
from datetime import datetime, timezone

from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.api.datamodels._generated import DagRun, TIRunContext
from airflow.sdk.definitions.mappedoperator import MappedOperator
from airflow.sdk.definitions.param import process_params
from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
from airflow.serialization.serialized_objects import DagSerialization
from kubernetes.client import ApiClient

spec = json.loads(sys.argv[2])
bag = DagBag(dag_folder=sys.argv[1])
out = {"errors": {k: v[-600:] for k, v in bag.import_errors.items()}, "tasks": {}}
if out["errors"]:
    print(json.dumps(out)); sys.exit(0)


def when(s):
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc) if s else None


def context_of(task, run_id, conf, logical_date, run_after):
    # The context a worker builds for a task instance (task_runner.get_template_context).
    dag_run = DagRun(
        dag_id=task.dag_id, run_id=run_id, logical_date=when(logical_date),
        data_interval_start=when(logical_date), data_interval_end=when(logical_date),
        run_after=when(run_after), start_date=when(run_after), end_date=None,
        run_type="manual", state="running", conf=conf, consumed_asset_events=[],
        partition_key=None,
    )
    ti = RuntimeTaskInstance.model_construct(
        id=uuid.uuid4(), task_id=task.task_id, dag_id=task.dag_id, run_id=run_id, try_number=1,
        dag_version_id=uuid.uuid4(), map_index=-1, task=task, max_tries=task.retries,
        start_date=when(run_after),
        _ti_context_from_server=TIRunContext(dag_run=dag_run, max_tries=task.retries),
    )
    return ti.get_template_context()


def pod_of(op, context):
    op.render_template_fields(context)
    pod = op.build_pod_request_obj(context, dry_run=True)
    return ApiClient().sanitize_for_serialization(pod)


def describe(task):
    op_class = getattr(task, "operator_class", type(task))
    return {
        "class": f"{op_class.__module__}.{op_class.__name__}",
        "mapped": isinstance(task, MappedOperator),
        "retries": task.retries,
        "outlets": [getattr(a, "name", str(a)) for a in task.outlets],
        "downstream": sorted(task.downstream_task_ids),
        "upstream": sorted(task.upstream_task_ids),
    }


for dag_id in ("churn__train", "churn__score"):
    DagSerialization.to_dict(bag.dags[dag_id])  # what the dag-processor stores must serialize

def fresh(dag_id, task_id):
    # A worker parses the DAG for each task instance; rendering (and merging a run's conf into the
    # params) changes the objects, so every sample run gets its own copy.
    task = copy.deepcopy(bag.dags[dag_id]).get_task(task_id)
    task.dag.params = copy.deepcopy(task.dag.params)  # Param objects are shared by the copies
    task.params = copy.deepcopy(task.params)
    return task


train = bag.dags["churn__train"].get_task("train_model")
info = describe(train)
if info["class"].endswith("KubernetesPodOperator"):
    info["pods"] = []
    for run in spec["train_runs"]:
        op = fresh("churn__train", "train_model")
        ctx = context_of(op, run["run_id"], run["conf"], run["logical_date"], run["run_after"])
        info["pods"].append(pod_of(op, ctx))
    # gate consumes the pod's return value (its XCom)
    gate = bag.dags["churn__train"].get_task("gate")
    info["gate_reads"] = [[a.operator.task_id, a.key] for a in gate.op_args]
out["tasks"]["train_model"] = info

score = bag.dags["churn__score"].get_task("score_partition")
info = describe(score)
if info["mapped"] and info["class"].endswith("KubernetesPodOperator"):
    # One pod per element of resolve_champion's list: apply the expansion's map callables to a
    # sample of that list, unmap as the worker does, render, build the pod.
    mapped_args = score.expand_input.value["arguments"]
    info["expands_over"] = mapped_args.arg.operator.task_id
    info["pods"] = []
    for target in spec["score_targets"]:
        value = target
        for fn in mapped_args.callables:
            value = fn(value)
        op = fresh("churn__score", "score_partition").unmap({"arguments": value})
        ctx = context_of(op, "asset_triggered__x", {}, None, "2026-01-12T01:00:00")
        info["pods"].append(pod_of(op, ctx))
        info["post_execute"] = op._post_execute_hook is not None
out["tasks"]["score_partition"] = info
print(json.dumps(out, default=str))
"""


def _inspect(tmp_path: Path, spec: dict[str, Any], **env: str) -> dict[str, Any]:
    environ = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        **env,
    }
    environ.pop("DRIFTLOOP__EXECUTION__MODE", None)
    environ.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", _INSPECT, str(DAGS), json.dumps(spec)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["errors"] == {}
    return out["tasks"]


SPEC = {
    "train_runs": [
        {
            "run_id": TRAIN_RUN_ID,
            "conf": TRAIN_CONF,
            "logical_date": "2026-01-10T00:00:00",
            "run_after": "2026-01-10T00:00:00",
        },
        # A run from the form with every param left at its default and no logical date: the date
        # stays empty and `driftloop train` ends the window on the newest labelled day (the
        # in-process task's rule), whatever day the run was created.
        {
            "run_id": "manual__2026-02-03T09:15:00+00:00",
            "conf": {},
            "logical_date": None,
            "run_after": "2026-02-03T09:15:00",
        },
    ],
    "score_targets": SCORE_TARGETS,
}


@pytest.fixture(scope="module")
def kubernetes_tasks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("k8s")
    return _inspect(
        tmp,
        SPEC,
        DRIFTLOOP__EXECUTION__MODE="kubernetes",
        DRIFTLOOP__EXECUTION__IMAGE="registry.example.com/driftloop:1.4.2",
        DRIFTLOOP__EXECUTION__NAMESPACE="ml-pipelines",
        DRIFTLOOP__EXECUTION__CONFIG_MAP="driftloop-churn-env",
        DRIFTLOOP__EXECUTION__MEMORY="3Gi",
    )


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    (base,) = [c for c in pod["spec"]["containers"] if c["name"] == "base"]
    return base


def _check_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """What every driftloop pod has: image, namespace, command, settings, resources, XCom."""
    assert pod["metadata"]["namespace"] == "ml-pipelines"
    base = _container(pod)
    assert base["image"] == "registry.example.com/driftloop:1.4.2"
    assert base["command"] == ["driftloop"]
    # The pipeline's own config file: the image holds the same configs/ as the workers.
    assert {"name": "DRIFTLOOP_CONFIG", "value": str(REPO / "configs" / "churn.yaml")} in base[
        "env"
    ]
    assert base["args"][:2] == ["--result-file", "/airflow/xcom/return.json"]
    assert base["envFrom"] == [
        {"configMapRef": {"name": "driftloop-churn-env"}},
        {"secretRef": {"name": "driftloop-secrets", "optional": True}},
    ]
    assert base["resources"] == {
        "requests": {"cpu": "1", "memory": "3Gi"},
        "limits": {"memory": "3Gi"},
    }
    # do_xcom_push: the sidecar that reads /airflow/xcom/return.json is part of the pod
    assert any(c["name"] == "airflow-xcom-sidecar" for c in pod["spec"]["containers"])
    return base


@pytest.mark.dags
def test_train_model_is_a_pod_with_the_run_params_as_arguments(kubernetes_tasks) -> None:
    train = kubernetes_tasks["train_model"]
    assert train["class"].endswith(".KubernetesPodOperator") and not train["mapped"]
    assert train["retries"] == 1
    assert train["downstream"] == ["gate"]
    assert train["gate_reads"] == [["train_model", "return_value"]]  # the pod's XCom

    full, empty = train["pods"]
    assert _check_pod(full)["args"][2:] == [
        "train",
        "--train-only",
        "--date",
        "2026-01-10",
        "--reason",
        "drift: 3 features drifted",
        "--report-uri",
        "s3://bucket/monitoring/drift/date=2026-01-10/report.json",
        "--since",
        "2026-01-04",
        "--window-days",
        "",
        "--algorithm",
        "gradient_boosting",
        "--hyperparameters",
        '{"max_depth": 3, "max_iter": 20}',  # unset form values are left out
        "--dag-id",
        "churn__train",
        "--run-id",
        TRAIN_RUN_ID,
        "--task-id",
        "train_model",
    ]
    args = _check_pod(empty)["args"]
    assert args[args.index("--date") + 1] == ""
    assert args[args.index("--reason") + 1] == "manual"
    assert args[args.index("--since") + 1] == ""
    assert args[args.index("--algorithm") + 1] == ""
    assert json.loads(args[args.index("--hyperparameters") + 1]) == {}


@pytest.mark.dags
def test_score_partition_is_one_pod_per_partition(kubernetes_tasks) -> None:
    score = kubernetes_tasks["score_partition"]
    assert score["class"].endswith(".KubernetesPodOperator") and score["mapped"]
    assert score["expands_over"] == "resolve_champion"
    assert score["outlets"] == ["churn.predictions"]
    assert score["post_execute"]  # sets the predictions asset event from the pod's result
    assert [_check_pod(p)["args"][2:] for p in score["pods"]] == [
        ["score", "--date", "2026-01-11", "--model-version", "4"],
        # A challenger in shadow: the same pod scores the day with it too.
        ["score", "--date", "2026-01-12", "--model-version", "4", "--shadow-version", "5"],
    ]


@pytest.mark.dags
def test_the_rendered_arguments_parse_with_the_real_cli(kubernetes_tasks) -> None:
    from driftloop.cli.main import build_parser

    parser = build_parser()
    full, empty = kubernetes_tasks["train_model"]["pods"]
    args = parser.parse_args(_container(full)["args"])
    assert args.command == "train" and args.train_only
    assert str(args.date) == "2026-01-10" and str(args.since) == "2026-01-04"
    assert args.window_days is None and args.algorithm == "gradient_boosting"
    assert args.hyperparameters == {"max_depth": 3, "max_iter": 20}
    assert (args.dag_id, args.run_id, args.task_id) == ("churn__train", TRAIN_RUN_ID, "train_model")
    args = parser.parse_args(_container(empty)["args"])
    assert (args.date, args.since, args.window_days, args.algorithm, args.report_uri) == (None,) * 5
    shadows = []
    for pod in kubernetes_tasks["score_partition"]["pods"]:
        args = parser.parse_args(_container(pod)["args"])
        assert args.command == "score" and args.model_version == "4"
        shadows.append(args.shadow_version)
    assert shadows == [None, "5"]


PYTHON_TASK = "airflow.providers.standard.decorators.python._PythonDecoratedOperator"


@pytest.mark.dags
def test_local_mode_runs_heavy_steps_in_process(tmp_path: Path) -> None:
    # The default config says local; the env var is not set.
    tasks = _inspect(tmp_path, SPEC)
    for task_id in ("train_model", "score_partition"):
        assert tasks[task_id]["class"] == PYTHON_TASK, tasks[task_id]
        assert "pods" not in tasks[task_id]
    assert tasks["score_partition"]["mapped"]


@pytest.mark.dags
def test_an_unknown_mode_fails_the_parse(tmp_path: Path) -> None:
    environ = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "DRIFTLOOP__EXECUTION__MODE": "kubernetees",
    }
    code = (
        "from driftloop.airflow.pods import execution_mode\n"
        "from driftloop.core.config import load_config\n"
        "execution_mode(load_config(environ={}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0 and "kubernetees" in proc.stderr


# -- the pods' command lines, run for real ---------------------------------------------------------
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


def _run_pod_command(pod: dict[str, Any], result_file: Path) -> dict[str, Any]:
    """Run the pod's container command here (same image contents: this venv) and read its XCom."""
    base = _container(pod)
    args = list(base["args"])
    assert args[:2] == ["--result-file", "/airflow/xcom/return.json"]
    args[1] = str(result_file)
    exe = Path(sys.executable).with_name(base["command"][0])
    proc = subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(result_file.read_text())


@pytest.mark.integration
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
    tasks = _inspect(tmp_path, spec, DRIFTLOOP__EXECUTION__MODE="kubernetes")
    pod_train = _run_pod_command(tasks["train_model"]["pods"][0], tmp_path / "train.json")
    pod_score = _run_pod_command(tasks["score_partition"]["pods"][0], tmp_path / "score.json")

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

    pod_shadow = _run_pod_command(tasks["score_partition"]["pods"][1], tmp_path / "shadow.json")
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
