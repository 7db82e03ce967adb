"""Kubernetes execution mode as a worker would see it, without a cluster (dags and integration tiers).

``inspect_dags`` parses dags/ in a fresh interpreter with the mode set (DagBag caches modules, and
the mode is read at parse time), renders the pod tasks the way a worker renders them (the real
template context of a task instance, then ``render_template_fields``) and builds each pod with
``build_pod_request_obj(dry_run=True)``: the V1Pod that would be submitted. ``run_pod_command`` runs
a pod's rendered command line with the real ``driftloop`` of this venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support import REPO

DAGS = REPO / "dags"

# Parses dags/ and prints, per heavy task, what the scheduler and a worker would see in this mode.
INSPECT_SCRIPT = r"""
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


def inspect_dags(tmp_path: Path, spec: dict[str, Any], **env: str) -> dict[str, Any]:
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
        [sys.executable, "-c", INSPECT_SCRIPT, str(DAGS), json.dumps(spec)],
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


def container(pod: dict[str, Any]) -> dict[str, Any]:
    (base,) = [c for c in pod["spec"]["containers"] if c["name"] == "base"]
    return base


def run_pod_command(pod: dict[str, Any], result_file: Path) -> dict[str, Any]:
    """Run the pod's container command here (same image contents: this venv) and read its XCom."""
    base = container(pod)
    args = list(base["args"])
    assert args[:2] == ["--result-file", "/airflow/xcom/return.json"]
    args[1] = str(result_file)
    exe = Path(sys.executable).with_name(base["command"][0])
    proc = subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(result_file.read_text())
