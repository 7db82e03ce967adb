"""Airflow plugin: links from task instances to what they produced (MLflow run, data docs, reports).

Tasks publish their links as one XCom, ``driftloop.orchestration.LINKS_XCOM_KEY``, a mapping from a
link name below to a URL; a task without such a link shows it disabled. The plugin also adds the
MLflow UI to Airflow's navigation.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

from driftloop.orchestration import LINK_NAMES, LINKS_XCOM_KEY


class _XComLink(BaseOperatorLink):
    """A link whose URL a task published under ``LINKS_XCOM_KEY``."""

    name = ""

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        links = XCom.get_value(ti_key=ti_key, key=LINKS_XCOM_KEY) or {}
        return str(links.get(self.name, "")) if isinstance(links, dict) else ""


def _link_class(link_name: str) -> type[_XComLink]:
    cls_name = "".join(part.capitalize() for part in link_name.split()) + "Link"
    return type(cls_name, (_XComLink,), {"name": link_name, "__module__": __name__})


LINK_CLASSES = [_link_class(n) for n in LINK_NAMES]
globals().update(
    {cls.__name__: cls for cls in LINK_CLASSES}
)  # importable by name when deserialising


class DriftloopPlugin(AirflowPlugin):
    name = "driftloop"
    global_operator_extra_links: ClassVar[list[Any]] = [cls() for cls in LINK_CLASSES]
    external_views: ClassVar[list[dict[str, str]]] = [
        {
            "name": "MLflow",
            "href": os.environ.get("DRIFTLOOP_MLFLOW_UI_URL", "http://127.0.0.1:5000"),
            "destination": "nav",
            "category": "browse",
            "url_route": "mlflow",
        }
    ]
