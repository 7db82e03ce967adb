"""What the Airflow plugin (plugins/driftloop_plugin.py) registers: task links, the file server and
monitoring pages, and the views in Airflow's UI.

Tasks publish their links as one XCom (:data:`driftloop.airflow.links.LINKS_XCOM_KEY`), a mapping
from a name in ``LINK_NAMES`` to a URL; a task without such a link shows it disabled. Imported only
where plugins load (API server, scheduler, workers), never by DAG files.
"""

from __future__ import annotations

import json
import os
from typing import Any

from airflow.providers.common.compat.sdk import BaseOperatorLink

from driftloop.airflow.links import FILES_PREFIX, LINK_NAMES, LINKS_XCOM_KEY

__all__ = ["LINK_CLASSES", "external_views", "fastapi_apps", "published_links"]


def published_links(ti_key: Any) -> dict[str, str]:
    """The links a task instance published (``{name: url}``), read from the metadata DB.

    Links are resolved by the API server, where the Task SDK's ``XCom`` (which asks a task
    supervisor) is not available: read the XCom row directly, as Airflow's own ``XComOperatorLink``
    does, and decode it as plain JSON (never instantiate classes from XCom data).
    """
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.execute(
            XComModel.get_many(
                key=LINKS_XCOM_KEY,
                run_id=ti_key.run_id,
                dag_ids=ti_key.dag_id,
                task_ids=ti_key.task_id,
                map_indexes=ti_key.map_index,
            ).with_only_columns(XComModel.value)
        ).first()
    value = row.value if row is not None else None
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str) and v}


class _XComLink(BaseOperatorLink):
    """A link whose URL a task published under ``LINKS_XCOM_KEY``; empty (disabled) if none."""

    name = ""

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return published_links(ti_key).get(self.name, "")


def _link_class(link_name: str) -> type[_XComLink]:
    cls_name = "".join(part.capitalize() for part in link_name.split()) + "Link"
    return type(cls_name, (_XComLink,), {"name": link_name, "__module__": __name__})


LINK_CLASSES = [_link_class(n) for n in LINK_NAMES]
# Importable by name (this module's attribute) when Airflow deserialises a link.
globals().update({cls.__name__: cls for cls in LINK_CLASSES})


def fastapi_apps() -> list[dict[str, Any]]:
    """The report/Data Docs server, where FastAPI is importable (the API server)."""
    try:
        from driftloop.airflow.web import create_app
    except ImportError:  # a worker without the API server's web stack needs no file server
        return []
    return [{"app": create_app(), "url_prefix": FILES_PREFIX, "name": "driftloop files"}]


def external_views() -> list[dict[str, str]]:
    """Views in Airflow's UI: the pipelines' monitoring views (in the navigation, and as a tab on
    every DAG's page, opening that DAG's pipeline) and the MLflow UI (``DRIFTLOOP_MLFLOW_UI_URL``).

    Views with a ``url_route`` open inside the UI (an iframe of ``href``, same origin, so Airflow's
    login applies); Airflow fills ``{DAG_ID}`` in the href of a ``"dag"`` destination.
    """
    return [
        {
            "name": "Pipeline monitoring",
            "href": f"{FILES_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "driftloop-pipelines",
        },
        {
            "name": "Monitoring",
            "href": f"{FILES_PREFIX}/dags/{{DAG_ID}}/monitor",
            "destination": "dag",
            "url_route": "driftloop-monitor",
        },
        {
            "name": "MLflow",
            "href": os.environ.get("DRIFTLOOP_MLFLOW_UI_URL", "http://127.0.0.1:5000"),
            "destination": "nav",
            "category": "browse",
            "url_route": "mlflow",
        },
    ]
