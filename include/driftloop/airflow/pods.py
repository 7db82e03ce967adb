"""Heavy steps as Kubernetes pods: the execution mode, the pod tasks and their arguments.

With ``execution.mode: kubernetes`` a heavy step (train, score) is a KubernetesPodOperator running
``driftloop <arguments>`` in the project's image; its JSON result, written to ``POD_RESULT_FILE``,
becomes the task's XCom, so downstream tasks are the same in both modes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from driftloop.core.config import CONFIG_ENV, PipelineConfig

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "POD_RESULT_FILE",
    "RunArguments",
    "execution_mode",
    "pod_task",
    "score_arguments",
    "train_arguments",
    "with_result_file",
]

POD_RESULT_FILE = "/airflow/xcom/return.json"  # what the KubernetesPodOperator's sidecar reads


def execution_mode(cfg: PipelineConfig) -> str:
    """``local`` (heavy steps run in the worker) or ``kubernetes`` (they run as pods).

    Read when a DAG file is parsed: from ``DRIFTLOOP__EXECUTION__MODE`` or the pipeline's config
    (already loaded by the factory; no connection or DB lookup).
    """
    mode = os.environ.get("DRIFTLOOP__EXECUTION__MODE", "").strip().lower()
    if not mode:
        mode = cfg.execution.mode
    if mode not in ("local", "kubernetes"):
        raise ValueError(f"execution.mode must be 'local' or 'kubernetes', got {mode!r}")
    return mode


def with_result_file(arguments: list[str]) -> list[str]:
    """``driftloop`` arguments that also write the JSON result where a pod's XCom is collected."""
    return ["--result-file", POD_RESULT_FILE, *arguments]


class RunArguments:
    """Pod arguments built in Python from the task's context when its fields are rendered.

    Airflow's templater resolves any template-field value that has a ``resolve(context)`` method
    (as it does for XComArgs), so the arguments come from the run's params without a Jinja copy of
    the Python logic. ``str()`` is what the serialized DAG shows before rendering.
    """

    def __init__(self, build: Callable[[Any], list[str]]) -> None:
        self.build = build

    def resolve(self, context: Context) -> list[str]:
        return with_result_file(self.build(context))

    def __str__(self) -> str:
        return f"driftloop arguments from {self.build.__module__}.{self.build.__qualname__}"


def train_arguments(context: Context) -> list[str]:
    """``driftloop train --train-only`` arguments of a ``train`` run (kubernetes mode).

    Empty values mean "as configured" (an empty ``--date``: the newest labelled day, the same rule
    as the in-process task). The gate and the promotion are the next tasks of the DAG.
    """
    from driftloop.model.workflow import TrainRequest

    p = context["params"]
    options = {
        "--date": p.get("date") or "",
        "--reason": p.get("reason") or "manual",
        "--report-uri": p.get("report_uri") or "",
        "--since": p.get("since") or "",
        "--window-days": p.get("window_days") or "",
        "--algorithm": p.get("algorithm") or "",
        "--hyperparameters": json.dumps(
            TrainRequest.from_params(p).merged_hyperparameters(), sort_keys=True
        ),
        "--dag-id": context["dag"].dag_id,
        "--run-id": context["run_id"],
        "--task-id": context["task"].task_id,
    }
    return ["train", "--train-only", *(x for kv in options.items() for x in (kv[0], str(kv[1])))]


def score_arguments(target: dict[str, str]) -> list[str]:
    """``driftloop score`` arguments of one partition's pod (kubernetes mode)."""
    args = ["score", "--date", target["partition"], "--model-version", target["model_version"]]
    if target.get("backlog"):
        args.append("--backlog")
    if target.get("shadow_version"):
        args += ["--shadow-version", target["shadow_version"]]
    return args


def pod_task(
    task_id: str,
    arguments: Any,
    *,
    cfg: PipelineConfig,
    on_result: Callable[[Any, Any], None] | None = None,
    **kwargs: Any,
) -> Any:
    """A KubernetesPodOperator running ``driftloop <arguments>`` in the project's image.

    The pod gets the pipeline settings from the ConfigMap/Secret named in ``execution`` (endpoints,
    storage root, MLflow URI, credentials), its config file as ``DRIFTLOOP_CONFIG`` (the image holds
    the same configs/ as the workers), and returns the command's JSON result as its XCom.

    Args:
        arguments: the ``driftloop`` arguments: a list, a :class:`RunArguments` built from the run's
            context, or an XComArg resolving to a list of argument lists: then the task is mapped,
            one pod per list.
        on_result: ``f(context, result)`` run in the worker after the pod succeeded, with its JSON
            result (publish links, set the extra of an outlet asset event).
        kwargs: more KubernetesPodOperator arguments (retries, outlets, ...).
    """
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk.definitions.xcom_arg import XComArg
    from kubernetes.client import models as k8s

    ex = cfg.execution
    common: dict[str, Any] = dict(
        task_id=task_id,
        name=f"driftloop-{task_id.replace('_', '-')}",
        namespace=ex.namespace,
        image=ex.image,
        cmds=["driftloop"],
        env_vars={CONFIG_ENV: cfg.source} if cfg.source else None,
        env_from=[
            k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name=ex.config_map)),
            k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=ex.secret, optional=True)),
        ],
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": ex.cpu, "memory": ex.memory}, limits={"memory": ex.memory}
        ),
        do_xcom_push=True,
        get_logs=True,
        on_finish_action="delete_succeeded_pod",
        **({"post_execute": on_result} if on_result else {}),
        **kwargs,
    )
    if isinstance(arguments, XComArg):
        return KubernetesPodOperator.partial(**common).expand(
            arguments=arguments.map(with_result_file)
        )
    if isinstance(arguments, RunArguments):
        # Typed list[str], but any template-field value with resolve(context) is rendered by it.
        return KubernetesPodOperator(arguments=arguments, **common)  # type: ignore[arg-type]
    return KubernetesPodOperator(arguments=with_result_file(list(arguments)), **common)
