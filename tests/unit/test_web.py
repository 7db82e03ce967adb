"""The report/Data Docs server the plugin mounts: serves what is stored, and nothing else."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from driftloop.core.storage import DRIFT, open_store, partition_prefix

DAY = "2026-01-05"


@pytest.fixture
def client(cfg_factory) -> Any:
    from fastapi.testclient import TestClient

    from driftloop.airflow.web import create_app

    cfg = cfg_factory()
    store = open_store(cfg.storage)
    store.write_bytes(f"{partition_prefix(DRIFT, DAY)}/report.html", b"<h1>drift</h1>")
    store.write_bytes(f"{partition_prefix(DRIFT, DAY)}/report.json", b'{"status": "ok"}')
    docs = cfg.data_docs_dir()
    (docs / "validations").mkdir(parents=True)
    (docs / "index.html").write_text("<h1>docs</h1>")
    (docs / "validations" / "run.html").write_text("<p>run</p>")
    # A file next to the site, which no URL may reach.
    (docs.parent / "secret.txt").write_text("secret")
    app = create_app()
    for dependency in app.router.dependencies:  # the authenticated-user check of every route
        app.dependency_overrides[dependency.dependency] = lambda: None
    return TestClient(app)


def test_routes_require_an_authenticated_user(cfg_factory) -> None:
    from fastapi.testclient import TestClient

    from driftloop.airflow.web import create_app

    cfg_factory()
    response = TestClient(create_app()).get(f"/churn/reports/{DAY}/report.html")
    assert response.status_code in (401, 403)


def test_serves_a_stored_drift_report(client) -> None:
    html = client.get(f"/churn/reports/{DAY}/report.html")
    assert html.status_code == 200
    assert html.text == "<h1>drift</h1>"
    assert html.headers["content-type"].startswith("text/html")
    assert client.get(f"/churn/reports/{DAY}/report.json").json() == {"status": "ok"}


@pytest.mark.parametrize(
    "url",
    [
        "/churn/reports/2026-01-06/report.html",  # no report that day
        f"/churn/reports/{DAY}/reason.json",  # not a report file
        "/churn/reports/not-a-day/report.html",
        "/churn/reports/..%2F..%2Fsecret/report.html",
        f"/no_such_pipeline/reports/{DAY}/report.html",  # each pipeline has its own pages
        "/no_such_pipeline/data-docs/index.html",
    ],
)
def test_missing_or_foreign_reports_are_404(client, url: str) -> None:
    assert client.get(url).status_code == 404


def test_serves_data_docs_pages(client) -> None:
    assert client.get("/churn/data-docs/validations/run.html").text == "<p>run</p>"
    assert client.get("/churn/data-docs/index.html").text == "<h1>docs</h1>"


@pytest.mark.parametrize(
    "path",
    [
        "..%2Fsecret.txt",
        "%2e%2e/secret.txt",
        "validations/..%2F..%2Fsecret.txt",
        "missing.html",
        "validations",  # a folder, not a file
    ],
)
def test_data_docs_refuse_path_traversal_and_missing_files(client, path: str) -> None:
    response = client.get(f"/churn/data-docs/{path}")
    assert response.status_code == 404
    assert "secret" not in response.text


def test_each_pipeline_serves_its_own_reports(tmp_path, monkeypatch) -> None:
    import yaml
    from fastapi.testclient import TestClient

    from driftloop.airflow.web import create_app
    from driftloop.core.config import project_root
    from driftloop.core.pipelines import find_pipeline

    monkeypatch.delenv("DRIFTLOOP__STORAGE__ROOT", raising=False)
    folder = tmp_path / "configs"
    folder.mkdir()
    for stem in ("churn", "churn_eu"):
        cfg = yaml.safe_load((project_root() / "configs" / f"{stem}.yaml").read_text())
        cfg["storage"] = {"root": str(tmp_path / stem)}
        (folder / f"{stem}.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("DRIFTLOOP_CONFIGS", str(folder))
    store = open_store(find_pipeline("churn_eu").storage)
    store.write_bytes(f"{partition_prefix(DRIFT, DAY)}/report.html", b"<h1>eu</h1>")
    app = create_app()
    for dependency in app.router.dependencies:
        app.dependency_overrides[dependency.dependency] = lambda: None
    client = TestClient(app)
    assert client.get(f"/churn_eu/reports/{DAY}/report.html").text == "<h1>eu</h1>"
    assert client.get(f"/churn/reports/{DAY}/report.html").status_code == 404


def test_data_docs_pages_load_their_assets_from_the_plugin_not_a_cdn(cfg_factory) -> None:
    """A real GX page, served: every script and stylesheet resolves to a vendored copy (200)."""
    from urllib.parse import urljoin

    from fastapi.testclient import TestClient

    from driftloop.airflow.offline import ASSETS, assets_dir
    from driftloop.airflow.web import create_app
    from driftloop.data import synth, validation
    from driftloop.data.ingest import parse_features
    from tests.support.web import external, loaded_urls

    missing = [a.package for a in ASSETS if not (assets_dir() / a.package / a.path).is_file()]
    assert not missing, f"web assets not vendored (make install): {sorted(set(missing))}"
    cfg = cfg_factory()
    day = date(2026, 1, 3)
    df = synth.generate_day(cfg, day, synth.Scenario(), seed=1, rows=200).features
    validation.validate_frame(cfg, parse_features(cfg, df.to_csv(index=False).encode()), day)
    root = cfg.data_docs_dir()
    pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html"))
    assert "index.html" in pages and any(p.startswith("validations/") for p in pages)
    # As GX wrote them, the pages load scripts and styles from CDNs.
    assert external(loaded_urls((root / pages[-1]).read_text()))

    app = create_app()
    for dependency in app.router.dependencies:
        app.dependency_overrides[dependency.dependency] = lambda: None
    client = TestClient(app, base_url="http://airflow.test")
    fetched: set[str] = set()
    for page in pages:
        url = f"http://airflow.test/driftloop/churn/data-docs/{page}"
        response = client.get(url.removeprefix("http://airflow.test/driftloop"))
        assert response.status_code == 200
        urls = loaded_urls(response.text)
        assert not external(urls), (page, external(urls))
        # Resolved as the browser resolves them, from the page's address under the plugin.
        for asset in {urljoin(url, u) for u in urls if not u.startswith("data:")}:
            if asset not in fetched:
                path = asset.removeprefix("http://airflow.test/driftloop")
                assert client.get(path).status_code == 200, (page, asset)
                fetched.add(asset)
    served = {u for u in fetched if "/_assets/" in u}
    assert len({u.split("/_assets/")[1] for u in served}) == len(
        {(a.package, a.path) for a in ASSETS}
    )
    assert any(u.endswith("/static/images/logo-long.png") for u in fetched)
    # Font Awesome's stylesheet finds its fonts beside it.
    css = next(u for u in served if u.endswith("/css/all.min.css"))
    font = urljoin(css, "../webfonts/fa-solid-900.woff2")
    assert client.get(font.removeprefix("http://airflow.test/driftloop")).status_code == 200


def test_assets_route_is_confined_to_the_vendored_packages(client) -> None:
    assert client.get("/_assets/jquery@3.7.1/dist/jquery.min.js").status_code == 200
    for path in ("..%2F..%2Fweb.py", "%2e%2e/offline.py", "jquery@3.7.1/no-such.js"):
        assert client.get(f"/_assets/{path}").status_code == 404


@pytest.mark.parametrize("url", ["/", "/churn/monitor", "/dags/churn__train/monitor"])
def test_monitoring_pages_require_an_authenticated_user(cfg_factory, url: str) -> None:
    from fastapi.testclient import TestClient

    from driftloop.airflow.web import create_app

    cfg_factory()
    response = TestClient(create_app()).get(url, follow_redirects=False)
    assert response.status_code in (401, 403)
    assert "monitoring" not in response.text


def test_serves_a_pipelines_monitoring_view(client, cfg) -> None:
    from driftloop.monitor.report import write_report_body

    day = "2026-01-07"
    decision = {"retrain": False, "reason": "bootstrap: 2/7 labelled days", "pending": False}
    body = {"day": day, "champion_version": None, "status": "no_champion", "decision": decision}
    write_report_body(open_store(cfg.storage), day, body)
    page = client.get("/churn/monitor")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "churn: monitoring" in page.text
    # The day's check is in the decision log, linked to where the plugin serves its report.
    assert f'data-day="{day}"' in page.text and "bootstrap: 2/7 labelled days" in page.text
    assert f'href="/driftloop/churn/reports/{day}/report.html"' in page.text
    assert f'data-day="{DAY}"' not in page.text  # files without a _SUCCESS marker are no partition


def test_lists_pipelines_and_leads_from_a_dag_to_its_pipeline(client) -> None:
    index = client.get("/")
    assert index.status_code == 200 and "href='/driftloop/churn/monitor'" in index.text
    hop = client.get("/dags/churn__drift_check/monitor", follow_redirects=False)
    assert hop.status_code == 307 and hop.headers["location"] == "/driftloop/churn/monitor"


@pytest.mark.parametrize(
    "url",
    [
        "/no_such_pipeline/monitor",
        "/dags/no_such_pipeline__train/monitor",  # a pipeline-shaped DAG id, no such pipeline
        "/dags/example_bash_operator/monitor",  # another DAG of the deployment
    ],
)
def test_monitoring_view_of_an_unknown_pipeline_is_404(client, url: str) -> None:
    assert client.get(url, follow_redirects=False).status_code == 404
