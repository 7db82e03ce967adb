"""Serves drift reports, GX Data Docs and the monitoring view inside Airflow's API server.

Each pipeline has its own pages (``/driftloop/<pipeline>/reports/...``, ``.../data-docs/...``,
``.../monitor``), read from that pipeline's storage and Data Docs folder; ``/driftloop/`` lists the
pipelines, and ``/driftloop/dags/<dag id>/monitor`` leads from a DAG's page to its pipeline's
view. Data Docs pages are served with their CDN scripts and stylesheets pointed at local copies
under ``/driftloop/_assets/`` (:mod:`.offline`). Links published by tasks point here rather than
at storage paths, which a browser will not open from an http page. Every route requires an
authenticated Airflow user (the UI's session cookie or a bearer token). Importing this module needs
FastAPI (the API server has it).
"""

from __future__ import annotations

import html
import mimetypes
from datetime import date

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from driftloop.airflow.links import FILES_PREFIX, monitor_link, report_link
from driftloop.airflow.offline import ASSETS_ROUTE, assets_dir, rewrite_html
from driftloop.core.config import ConfigError, PipelineConfig
from driftloop.core.pipelines import Pipelines, find_pipeline, load_pipelines, split_dag_id
from driftloop.core.storage import DRIFT, open_store, partition_prefix

__all__ = ["create_app"]


def _authenticated() -> list:
    from airflow.api_fastapi.core_api.security import requires_authenticated

    return [Depends(requires_authenticated())]


def _pipeline(pipeline: str) -> PipelineConfig:
    try:
        return find_pipeline(pipeline)
    except ConfigError:
        raise HTTPException(404, f"no pipeline {pipeline!r}") from None


def create_app() -> FastAPI:
    """The file server and the monitoring pages, every route behind Airflow's authenticated-user
    check."""
    app = FastAPI(title="driftloop files", dependencies=_authenticated())

    @app.get(f"/{ASSETS_ROUTE}/{{path:path}}")
    def web_asset(path: str) -> Response:
        """A vendored script, stylesheet or font of a Data Docs page (see ``offline``)."""
        root = assets_dir().resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(404, "no such asset")
        media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        # Versioned paths (name@version): a browser may keep them for a day.
        headers = {"Cache-Control": "private, max-age=86400"}
        return Response(target.read_bytes(), media_type=media, headers=headers)

    @app.get("/", response_class=HTMLResponse)
    def pipelines() -> str:
        """The pipelines of this deployment, each linking to its monitoring view."""
        return render_index(load_pipelines())

    @app.get("/{pipeline}/monitor", response_class=HTMLResponse)
    def monitor(pipeline: str) -> str:
        """A pipeline's monitoring view: its history over every day in storage."""
        from driftloop.monitor.timeline import build_timeline
        from driftloop.monitor.timeline_view import render_timeline

        cfg = _pipeline(pipeline)
        timeline = build_timeline(open_store(cfg.storage), cfg.name, cfg.model_name)
        return render_timeline(
            timeline, lambda day: report_link(cfg.name, day), index_url=f"{FILES_PREFIX}/"
        )

    @app.get("/dags/{dag_id}/monitor")
    def dag_monitor(dag_id: str) -> Response:
        """From a DAG's page (the plugin's tab there) to its pipeline's monitoring view."""
        try:
            pipeline, _ = split_dag_id(dag_id)
        except ValueError:
            return HTMLResponse(_not_a_pipeline(dag_id), status_code=404)
        _pipeline(pipeline)
        return RedirectResponse(monitor_link(pipeline), status_code=307)

    @app.get("/{pipeline}/reports/{day}/{name}")
    def drift_report(pipeline: str, day: str, name: str) -> Response:
        """A pipeline's drift report of a day (report.html or report.json) from storage (local or S3)."""
        if name not in ("report.html", "report.json"):
            raise HTTPException(404, "no such report file")
        cfg = _pipeline(pipeline)
        try:
            key = f"{partition_prefix(DRIFT, date.fromisoformat(day))}/{name}"
        except ValueError:
            raise HTTPException(404, f"not a date: {day}") from None
        try:
            body = open_store(cfg.storage).read_bytes(key)
        except FileNotFoundError:
            raise HTTPException(404, f"no drift report for {day}") from None
        return Response(body, media_type=mimetypes.guess_type(name)[0])

    @app.get("/{pipeline}/data-docs/{path:path}")
    def data_docs(pipeline: str, path: str) -> Response:
        """A page or asset of a pipeline's GX Data Docs site (confined to the site folder)."""
        root = _pipeline(pipeline).data_docs_dir().resolve()
        target = (root / (path or "index.html")).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(404, "no such Data Docs file")
        media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix == ".html":
            # Relative URLs from the page up to the site root and to the file server's root, so
            # the links hold under any Airflow base URL.
            rel = target.relative_to(root).as_posix()
            site = "../" * rel.count("/") or "./"
            assets = f"{site}../../{ASSETS_ROUTE}"
            page = rewrite_html(target.read_text(encoding="utf-8"), assets, site, root)
            return Response(page.encode("utf-8"), media_type=media)
        return Response(target.read_bytes(), media_type=media)

    return app


_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
    "body{{font-family:system-ui,sans-serif;margin:0;padding:20px 28px;color:#1f2933}}"
    "h1{{font-size:22px}}li{{margin:6px 0}}.err{{color:#8a1c12}}</style></head><body>{body}"
    "</body></html>"
)


def render_index(loaded: Pipelines) -> str:
    """The list of pipelines (and of config files that failed to load, with why)."""
    items = "".join(
        f"<li><a href='{html.escape(monitor_link(c.name))}'>{html.escape(c.name)}</a>: model "
        f"{html.escape(c.model_name)}, storage {html.escape(c.storage.root)}</li>"
        for c in loaded.configs
    )
    errors = "".join(
        f"<li class='err'><b>{html.escape(path)}</b>: {html.escape(msg)}</li>"
        for path, msg in loaded.errors.items()
    )
    body = "<h1>driftloop pipelines</h1><p>Open a pipeline's monitoring view:</p>"
    body += f"<ul>{items or '<li>no pipeline configured</li>'}{errors}</ul>"
    return _PAGE.format(title="driftloop pipelines", body=body)


def _not_a_pipeline(dag_id: str) -> str:
    body = (
        f"<h1>No monitoring view</h1><p>{html.escape(dag_id)} is not a driftloop pipeline DAG. "
        f"<a href='{FILES_PREFIX}/'>All pipelines</a></p>"
    )
    return _PAGE.format(title="No monitoring view", body=body)
