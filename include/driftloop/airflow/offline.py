"""GX Data Docs without a CDN: the web assets its pages load, vendored from npm, and the rewrite.

GX's page templates load Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega... from public
CDNs, so behind a firewall a Data Docs page renders unstyled and its tables do not sort. The same
files are published on npm: :func:`vendor` fetches the exact versions GX names with ``npm pack``
(``make install`` runs it; nothing third-party is committed) into :func:`assets_dir`, the plugin's
file server serves them, and :func:`rewrite_html` points a page's ``<script>``/``<link>`` tags at
them (at serve time, so Data Docs GX rebuilds need nothing). An asset that was not vendored keeps
its CDN URL: the page then behaves as GX made it.

Standard library only: ``python -m driftloop.airflow.offline`` vendors the assets.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ASSETS", "ASSETS_ENV", "ASSETS_ROUTE", "Asset", "assets_dir", "rewrite_html", "vendor"]

ASSETS_ENV = "DRIFTLOOP_WEB_ASSETS"
# Where the file server serves the vendored packages: <files prefix>/_assets/<package>/<path>
# (a leading underscore: no pipeline can be named so).
ASSETS_ROUTE = "_assets"


@dataclass(frozen=True)
class Asset:
    """One CDN URL of GX's templates and the file of an npm package that is the same asset."""

    url: str
    package: str  # npm name@version
    path: str  # inside the package


_BT = "bootstrap-table@1.19.1"
_FILTER = "dist/extensions/filter-control/bootstrap-table-filter-control"
ASSETS = (
    Asset("https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
          "bootstrap@4.3.1", "dist/css/bootstrap.min.css"),
    Asset("https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",
          "bootstrap@4.3.1", "dist/js/bootstrap.min.js"),
    Asset("https://code.jquery.com/jquery-3.7.1.min.js", "jquery@3.7.1", "dist/jquery.min.js"),
    Asset("https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",
          "popper.js@1.12.9", "dist/umd/popper.min.js"),
    Asset("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
          _BT, "dist/bootstrap-table.min.css"),
    Asset("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
          _BT, "dist/bootstrap-table.min.js"),
    Asset(f"https://unpkg.com/{_BT}/{_FILTER}.min.js", _BT, f"{_FILTER}.min.js"),
    # GX names 1.19.0 for the filter control's stylesheet; 1.19.1's is served for it.
    Asset(f"https://unpkg.com/bootstrap-table@1.19.0/{_FILTER}.css", _BT, f"{_FILTER}.css"),
    Asset(f"https://unpkg.com/bootstrap-table@1.19.0/{_FILTER}.min.css", _BT, f"{_FILTER}.min.css"),
    Asset("https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
          "bootstrap-datepicker@1.9.0", "dist/css/bootstrap-datepicker.min.css"),
    Asset("https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
          "bootstrap-datepicker@1.9.0", "dist/js/bootstrap-datepicker.min.js"),
    Asset("https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
          "@forevolve/bootstrap-dark@1.1.0", "dist/css/bootstrap-prefers-dark.css"),
    # all.min.css loads its fonts from ../webfonts/: the whole package is served.
    Asset("https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",
          "@fortawesome/fontawesome-free@6.6.0", "css/all.min.css"),
    # GX names major versions only (vega@5...): the newest of each major when this was written.
    Asset("https://cdn.jsdelivr.net/npm/vega@5", "vega@5.33.1", "build/vega.min.js"),
    Asset("https://cdn.jsdelivr.net/npm/vega-lite@5", "vega-lite@5.23.0", "build/vega-lite.min.js"),
    Asset("https://cdn.jsdelivr.net/npm/vega-embed@6", "vega-embed@6.29.0", "build/vega-embed.min.js"),
)  # fmt: skip

# The GX logos (header, dark-mode background), loaded from GX's bucket; the site has copies of
# most under static/images/ (GX copies its static files into every site), the long logo for the rest.
_GX_IMAGES = re.compile(
    r"https://great-expectations-web-assets\.s3[\w.-]*\.amazonaws\.com/([\w.-]+\.png)(?:\?[^\"']*)?"
)
_LOGO = "logo-long.png"
_SITE_STATIC = re.compile(
    r"""(\b(?:src|href)\s*=\s*["'])(?:\./|(?:\.\./)+)static/""", re.IGNORECASE
)
_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
# Subresource-integrity attributes name the CDN's bytes; a local copy is same-origin.
_SRI = re.compile(r"\s+(?:integrity|crossorigin)=(?:\"[^\"]*\"|'[^']*'|[^\s>]+)", re.IGNORECASE)


def assets_dir() -> Path:
    """Where the vendored packages are (``$DRIFTLOOP_WEB_ASSETS``, default beside this module)."""
    env = os.environ.get(ASSETS_ENV)
    return Path(env) if env else Path(__file__).resolve().parent / "web_assets"


def _local(asset: Asset, root: Path) -> Path:
    return root / asset.package / asset.path


def rewrite_html(html: str, assets_url: str, site_url: str, site_root: Path) -> str:
    """Point a Data Docs page's CDN scripts and stylesheets at the vendored copies.

    Args:
        html: the page.
        assets_url: URL of :func:`assets_dir` as served (relative to the page or absolute).
        site_url: URL of the Data Docs site's root, for the GX logos.
        site_root: the site's folder.
    """
    root = assets_dir()
    by_url = {a.url: a for a in ASSETS if _local(a, root).is_file()}

    def tag(m: re.Match[str]) -> str:
        text = m.group(0)
        for url, asset in by_url.items():
            for quote in ('"', "'"):
                if f"{quote}{url}{quote}" in text:
                    local = f"{assets_url.rstrip('/')}/{asset.package}/{asset.path}"
                    return _SRI.sub("", text.replace(f"{quote}{url}{quote}", f'"{local}"'))
        return text

    def image(m: re.Match[str]) -> str:
        name = m.group(1) if (site_root / "static" / "images" / m.group(1)).is_file() else _LOGO
        return f"{site_url.rstrip('/')}/static/images/{name}"

    html = _GX_IMAGES.sub(image, _TAG.sub(tag, html))
    # GX's own links to the site's static/ folder miss a level on pages nested deeper than it
    # counts (validation results under a partition): make them relative to the site root.
    return _SITE_STATIC.sub(lambda m: f"{m.group(1)}{site_url.rstrip('/')}/static/", html)


def vendor(dest: Path | None = None, npm: str = "npm") -> list[str]:
    """Fetch the npm packages of :data:`ASSETS` missing from ``dest``; returns those fetched.

    Each package is unpacked into ``dest/<name>@<version>/``. Raises ``RuntimeError`` if npm fails.
    """
    dest = dest or assets_dir()
    wanted = sorted({a.package for a in ASSETS})
    missing = [
        p for p in wanted if not all(_local(a, dest).is_file() for a in ASSETS if a.package == p)
    ]
    if not missing:
        return []
    with tempfile.TemporaryDirectory(prefix="driftloop-assets-") as tmp:
        proc = subprocess.run(
            [npm, "pack", "--silent", "--pack-destination", tmp, *missing],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"npm pack failed: {proc.stderr.strip() or proc.stdout.strip()}")
        for spec in missing:
            # npm's file name: "@scope/name@1.2.3" -> "scope-name-1.2.3.tgz"
            name, _, version = spec.rpartition("@")
            tarball = Path(tmp) / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
            target = dest / spec
            shutil.rmtree(target, ignore_errors=True)
            unpack = Path(tmp) / "unpack"
            shutil.rmtree(unpack, ignore_errors=True)
            with tarfile.open(tarball) as tar:
                _extract(tar, unpack)
            _prune(unpack / "package", spec)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(unpack / "package", target)
    return missing


def _extract(tar: tarfile.TarFile, into: Path) -> None:
    """Unpack regular files and folders only, none outside ``into``: the "data" filter where the
    interpreter has it (3.11.4 and later), the same rule checked here on older 3.11 releases such
    as Debian bookworm's 3.11.2, whose ``extractall`` has no ``filter`` argument."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(into, filter="data")
        return
    root = into.resolve()
    members = []
    for member in tar.getmembers():
        target = (root / member.name).resolve()
        if not (member.isfile() or member.isdir()) or not target.is_relative_to(root):
            raise RuntimeError(f"refusing to unpack {member.name!r}: not a plain file or folder")
        member.mode = (member.mode | 0o644) & 0o755  # as the "data" filter: no setuid, readable
        members.append(member)
    tar.extractall(into, members=members)  # every member checked above


def _prune(package: Path, spec: str) -> None:
    """Keep the folders the pages load from (and the fonts beside a stylesheet), the licence and
    package.json; drop sources, docs and locales."""
    keep = {a.path.split("/")[0] for a in ASSETS if a.package == spec} | {"webfonts"}
    for item in package.iterdir():
        if item.is_dir() and item.name not in keep:
            shutil.rmtree(item)
        elif item.is_file() and not item.name.upper().startswith(("LICENSE", "PACKAGE.JSON")):
            item.unlink()


if __name__ == "__main__":
    if shutil.which("npm") is None:
        print("npm not found: Data Docs pages will load their scripts and styles from CDNs")
        sys.exit(0)
    fetched = vendor()
    print(f"web assets in {assets_dir()}: fetched {', '.join(fetched) or 'nothing (up to date)'}")
