"""Airflow-facing glue shared by the DAG files: assets, default arguments, partition resolution.

Importing this module is cheap (no pandas, sklearn, mlflow or GX), so DAG files may import it at top
level. Everything heavy happens inside task bodies through the stage modules.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Asset, Param

PIPELINE = os.environ.get("DRIFTLOOP_PIPELINE", "churn")
OWNER = "ml-platform"
START_DATE_ENV = "DRIFTLOOP_START_DATE"

# Tasks publish links to what they produced under this XCom key: {link name: URL}; the plugin in
# plugins/ shows them on the task instance page.
LINKS_XCOM_KEY = "driftloop_links"
# URL prefix under which the plugin serves drift reports and Data Docs in the API server.
FILES_PREFIX = "/driftloop"
LINK_NAMES = ("MLflow run", "Data docs", "Drift report", "Registry decision")

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
}


# Trigger-form values that mean "as configured in the pipeline config". Optional params are nullable
# with a None default: Airflow 3.3's form marks a non-nullable string param as required, and an empty
# value keeps its Trigger button disabled.
AS_CONFIGURED = "as configured"
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def optional_param(kind: str, title: str, description: str, **schema: Any) -> Param:
    """An optional ``kind`` param (e.g. ``"integer"``); None, the default, means "as configured"."""
    return Param(None, type=["null", kind], title=title, description=description, **schema)


def date_param(title: str, description: str) -> Param:
    """An optional ``YYYY-MM-DD`` param: a date picker in the form, checked before the run starts."""
    return optional_param("string", title, description, format="date", pattern=ISO_DATE)


def choice_param(choices: list[str], title: str, description: str) -> Param:
    """An optional choice among ``choices``; None (shown as "as configured") is a valid value."""
    return optional_param(
        "string",
        title,
        description,
        enum=[None, *choices],
        # The form looks labels up by the value's string form: "null" for None.
        values_display={"null": AS_CONFIGURED, **{c: c.replace("_", " ") for c in choices}},
    )


POKE_SECONDS_ENV = "DRIFTLOOP_POKE_SECONDS"


def poke_interval() -> float:
    """Seconds between a waiting sensor's looks at the store (``DRIFTLOOP_POKE_SECONDS``, default 30)."""
    return float(os.environ.get(POKE_SECONDS_ENV, "30"))


def retrain_run_id(day: str | date) -> str:
    """Run id of the ``train`` run a day's drift check triggers: one per day, so never two."""
    return f"retrain__{date.fromisoformat(str(day)[:10]).isoformat()}"


def start_date() -> pendulum.DateTime:
    """Start of the daily schedules; ``DRIFTLOOP_START_DATE`` moves it (e.g. for a fresh deployment)."""
    return pendulum.parse(os.environ.get(START_DATE_ENV, "2026-01-01"), tz="UTC")  # type: ignore[return-value]


def asset(zone: str) -> Asset:
    """The asset of one data zone of this pipeline (e.g. ``validated``, ``predictions``)."""
    return Asset(name=f"{PIPELINE}.{zone}", uri=f"x-driftloop://{PIPELINE}/{zone}")


VALIDATED = asset("validated")
LABELS = asset("labels")
PREDICTIONS = asset("predictions")
DRIFT_REPORT = asset("drift_report")
MODEL = asset("model")


def resolve_partition(context: Any) -> str:
    """The partition (ISO date) a task instance works on; never "now".

    In order: ``conf["date"]`` of a manual/CLI trigger, the ``partition`` carried in the extra of the
    triggering asset event (the newest one if several were queued), then the run's logical date.
    """
    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    if conf.get("date"):
        return date.fromisoformat(str(conf["date"])[:10]).isoformat()
    events = context.get("triggering_asset_events") or {}
    partitions = sorted(
        str(ev.extra["partition"])
        for evs in events.values()
        for ev in evs
        if getattr(ev, "extra", None) and ev.extra.get("partition")
    )
    if partitions:
        return partitions[-1]
    logical = context.get("logical_date")
    if logical is None:
        raise ValueError(
            "cannot tell which partition to work on: no conf['date'], no asset event with a "
            "'partition' extra and no logical date"
        )
    return logical.date().isoformat()


def triggered_partitions(context: Any) -> list[str]:
    """All partitions named by the triggering asset events (a run may batch several)."""
    events = context.get("triggering_asset_events") or {}
    return sorted(
        {
            str(ev.extra["partition"])
            for evs in events.values()
            for ev in evs
            if (ev.extra or {}).get("partition")
        }
    )


def publish_links(context: Any, **links: str | None) -> None:
    """Publish links for the plugin, e.g. ``publish_links(ctx, mlflow_run=url)``; None is skipped."""
    names = {n.lower().replace(" ", "_"): n for n in LINK_NAMES}
    unknown = set(links) - set(names)
    if unknown:
        raise ValueError(f"unknown link names {sorted(unknown)}; known: {sorted(names)}")
    payload = {names[k]: v for k, v in links.items() if v}
    if payload:
        context["ti"].xcom_push(key=LINKS_XCOM_KEY, value=payload)


def mlflow_run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """URL of a run in the MLflow UI (the UI address for sqlite/file stores is configurable)."""
    base = (
        tracking_uri
        if tracking_uri.startswith("http")
        else os.environ.get("DRIFTLOOP_MLFLOW_UI_URL", "http://127.0.0.1:5000")
    )
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def execution_mode() -> str:
    """``local`` (heavy steps run in the worker) or ``kubernetes`` (they run as pods).

    Read when a DAG file is parsed: from ``DRIFTLOOP__EXECUTION__MODE`` or the pipeline config file
    (a local YAML read; no connection or DB lookup).
    """
    mode = os.environ.get("DRIFTLOOP__EXECUTION__MODE", "").strip().lower()
    if not mode:
        from driftloop.core.config import load_config

        mode = load_config().execution.mode
    if mode not in ("local", "kubernetes"):
        raise ValueError(f"execution.mode must be 'local' or 'kubernetes', got {mode!r}")
    return mode


POD_RESULT_FILE = "/airflow/xcom/return.json"  # what the KubernetesPodOperator's sidecar reads


def with_result_file(arguments: list[str]) -> list[str]:
    """``driftloop`` arguments that also write the JSON result where a pod's XCom is collected."""
    return ["--result-file", POD_RESULT_FILE, *arguments]


def pod_task(
    task_id: str,
    arguments: Any,
    *,
    on_result: Callable[[Any, Any], None] | None = None,
    **kwargs: Any,
) -> Any:
    """A KubernetesPodOperator running ``driftloop <arguments>`` in the project's image.

    The pod gets the pipeline settings from the ConfigMap/Secret named in ``execution`` (endpoints,
    storage root, MLflow URI, credentials) and returns the command's JSON result as its XCom.

    Args:
        arguments: the ``driftloop`` arguments (Jinja templates allowed), or an XComArg resolving to
            a list of such argument lists: then the task is mapped, one pod per list.
        on_result: ``f(context, result)`` run in the worker after the pod succeeded, with its JSON
            result (publish links, set the extra of an outlet asset event).
        kwargs: more KubernetesPodOperator arguments (retries, outlets, ...).
    """
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk.definitions.xcom_arg import XComArg
    from kubernetes.client import models as k8s

    from driftloop.core.config import load_config

    ex = load_config().execution
    common: dict[str, Any] = dict(
        task_id=task_id,
        name=f"driftloop-{task_id.replace('_', '-')}",
        namespace=ex.namespace,
        image=ex.image,
        cmds=["driftloop"],
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
    return KubernetesPodOperator(arguments=with_result_file(list(arguments)), **common)


def report_link(day: str | date) -> str:
    """Where the plugin serves a day's drift report."""
    return f"{FILES_PREFIX}/reports/{date.fromisoformat(str(day)[:10]).isoformat()}/report.html"


def data_docs_link(docs_url: str | None, docs_dir: Path) -> str | None:
    """Where the plugin serves a Data Docs page, given GX's own (file://) URL of it."""
    if not docs_url:
        return None
    page = Path(docs_url.removeprefix("file://")).resolve()
    root = docs_dir.resolve()
    if not page.is_relative_to(root):
        return None
    return f"{FILES_PREFIX}/data-docs/{page.relative_to(root).as_posix()}"
