"""Kubernetes execution mode: the heavy steps (train, score) become pods, switched by configuration.

The DAGs are parsed in a fresh interpreter with the mode set (DagBag caches modules, and the mode is
read at parse time). There the pod tasks are rendered the way a worker renders them (the real
template context of a task instance, then ``render_template_fields``) and the pod is built with
``build_pod_request_obj(dry_run=True)``: the V1Pod that would be submitted, with no cluster.

tests/integration/test_kubernetes_pods.py runs the pods' rendered command lines with the real
``driftloop`` and checks that their XCom file holds what the in-process tasks return.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO
from tests.support.kubernetes import container, inspect_dags

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
    return inspect_dags(
        tmp,
        SPEC,
        DRIFTLOOP__EXECUTION__MODE="kubernetes",
        DRIFTLOOP__EXECUTION__IMAGE="registry.example.com/driftloop:1.4.2",
        DRIFTLOOP__EXECUTION__NAMESPACE="ml-pipelines",
        DRIFTLOOP__EXECUTION__CONFIG_MAP="driftloop-churn-env",
        DRIFTLOOP__EXECUTION__MEMORY="3Gi",
    )


def _check_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """What every driftloop pod has: image, namespace, command, settings, resources, XCom."""
    assert pod["metadata"]["namespace"] == "ml-pipelines"
    base = container(pod)
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


def test_the_rendered_arguments_parse_with_the_real_cli(kubernetes_tasks) -> None:
    from driftloop.cli.main import build_parser

    parser = build_parser()
    full, empty = kubernetes_tasks["train_model"]["pods"]
    args = parser.parse_args(container(full)["args"])
    assert args.command == "train" and args.train_only
    assert str(args.date) == "2026-01-10" and str(args.since) == "2026-01-04"
    assert args.window_days is None and args.algorithm == "gradient_boosting"
    assert args.hyperparameters == {"max_depth": 3, "max_iter": 20}
    assert (args.dag_id, args.run_id, args.task_id) == ("churn__train", TRAIN_RUN_ID, "train_model")
    args = parser.parse_args(container(empty)["args"])
    assert (args.date, args.since, args.window_days, args.algorithm, args.report_uri) == (None,) * 5
    shadows = []
    for pod in kubernetes_tasks["score_partition"]["pods"]:
        args = parser.parse_args(container(pod)["args"])
        assert args.command == "score" and args.model_version == "4"
        shadows.append(args.shadow_version)
    assert shadows == [None, "5"]


PYTHON_TASK = "airflow.providers.standard.decorators.python._PythonDecoratedOperator"


def test_local_mode_runs_heavy_steps_in_process(tmp_path: Path) -> None:
    # The default config says local; the env var is not set.
    tasks = inspect_dags(tmp_path, SPEC)
    for task_id in ("train_model", "score_partition"):
        assert tasks[task_id]["class"] == PYTHON_TASK, tasks[task_id]
        assert "pods" not in tasks[task_id]
    assert tasks["score_partition"]["mapped"]


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
