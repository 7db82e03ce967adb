"""Serves drift reports and GX Data Docs inside Airflow's API server (mounted by the plugin).

Each pipeline has its own pages (``/driftloop/<pipeline>/reports/...``, ``.../data-docs/...``),
read from that pipeline's storage and Data Docs folder. Data Docs pages are served with their CDN
scripts and stylesheets pointed at local copies under ``/driftloop/_assets/`` (:mod:`.offline`). Links published by tasks point here rather than at storage paths, which a
browser will not open from an http page. Every route requires an authenticated Airflow user (the
UI's session cookie or a bearer token). Importing this module needs FastAPI (the API server has it).
"""

from __future__ import annotations

import mimetypes
from datetime import date

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import Response

from driftloop.airflow.offline import ASSETS_ROUTE, assets_dir, rewrite_html
from driftloop.core.config import ConfigError, PipelineConfig
from driftloop.core.pipelines import find_pipeline
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
    """The file server, every route behind Airflow's authenticated-user check."""
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
