"""Links tasks publish for the plugin: MLflow runs and versions, Data Docs pages, drift reports.

Tasks publish their links as one XCom (``LINKS_XCOM_KEY``): a mapping from a name in ``LINK_NAMES``
to a URL. The plugin shows them on the task instance page; reports and Data Docs are served under
``FILES_PREFIX`` by :mod:`driftloop.airflow.web`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from driftloop.core.partition import Partition, PartitionLike

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "FILES_PREFIX",
    "LINKS_XCOM_KEY",
    "LINK_NAMES",
    "data_docs_link",
    "link_decision",
    "mlflow_run_url",
    "mlflow_version_url",
    "monitor_link",
    "publish_links",
    "report_link",
]

LINKS_XCOM_KEY = "driftloop_links"
# URL prefix under which the plugin serves drift reports and Data Docs in the API server.
FILES_PREFIX = "/driftloop"
LINK_NAMES = ("MLflow run", "Data docs", "Drift report", "Registry decision")


def publish_links(context: Context, **links: str | None) -> None:
    """Publish links for the plugin, e.g. ``publish_links(ctx, mlflow_run=url)``; None is skipped."""
    names = {n.lower().replace(" ", "_"): n for n in LINK_NAMES}
    unknown = set(links) - set(names)
    if unknown:
        raise ValueError(f"unknown link names {sorted(unknown)}; known: {sorted(names)}")
    payload = {names[k]: v for k, v in links.items() if v}
    if payload:
        context["ti"].xcom_push(key=LINKS_XCOM_KEY, value=payload)


def _mlflow_ui(tracking_uri: str) -> str:
    """The MLflow UI's address: the tracking server's, else ``DRIFTLOOP_MLFLOW_UI_URL`` (for
    sqlite/file stores, whose UI runs separately)."""
    base = (
        tracking_uri
        if tracking_uri.startswith("http")
        else os.environ.get("DRIFTLOOP_MLFLOW_UI_URL", "http://127.0.0.1:5000")
    )
    return base.rstrip("/")


def link_decision(context: Context, cfg: Any, version: str) -> None:
    """Publish the MLflow page of a model version (its decision tags, description and aliases) as
    the task's "Registry decision" link."""
    url = mlflow_version_url(cfg.tracking_uri(), cfg.model_name, str(version))
    publish_links(context, registry_decision=url)


def mlflow_run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """URL of a run in the MLflow UI."""
    return f"{_mlflow_ui(tracking_uri)}/#/experiments/{experiment_id}/runs/{run_id}"


def mlflow_version_url(tracking_uri: str, model_name: str, version: str) -> str:
    """URL of a registered model version in the MLflow UI: its aliases, decision tags and history."""
    return f"{_mlflow_ui(tracking_uri)}/#/models/{quote(model_name, safe='')}/versions/{version}"


def monitor_link(pipeline: str) -> str:
    """Where the plugin serves a pipeline's monitoring view."""
    return f"{FILES_PREFIX}/{pipeline}/monitor"


def report_link(pipeline: str, day: PartitionLike) -> str:
    """Where the plugin serves a pipeline's drift report of a day."""
    return f"{FILES_PREFIX}/{pipeline}/reports/{Partition.of(day)}/report.html"


def data_docs_link(pipeline: str, docs_url: str | None, docs_dir: Path) -> str | None:
    """Where the plugin serves a pipeline's Data Docs page, given GX's own (file://) URL of it."""
    if not docs_url:
        return None
    page = Path(docs_url.removeprefix("file://")).resolve()
    root = docs_dir.resolve()
    if not page.is_relative_to(root):
        return None
    return f"{FILES_PREFIX}/{pipeline}/data-docs/{page.relative_to(root).as_posix()}"
