"""Airflow plugin: links from task instances to what they produced (MLflow run, data docs, reports).

Thin registration only; the links, the file server and the views are in ``driftloop.airflow.plugin``
(served pages: ``driftloop.airflow.web``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from driftloop.airflow import plugin


class DriftloopPlugin(AirflowPlugin):
    name = "driftloop"
    global_operator_extra_links: ClassVar[list[Any]] = [cls() for cls in plugin.LINK_CLASSES]
    fastapi_apps: ClassVar[list[dict[str, Any]]] = plugin.fastapi_apps()
    external_views: ClassVar[list[dict[str, str]]] = plugin.external_views()
