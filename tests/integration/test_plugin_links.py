"""The plugin's task-instance links, resolved the way Airflow's API server resolves them.

A real ``dag.test()`` of the ``train`` DAG publishes the MLflow run link; the links are then read
through the core API's extra-links route handler (the same call the UI makes), which looks each
global link up from the plugins manager and calls its ``get_link`` in the server process.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from driftloop.airflow.links import LINK_NAMES, mlflow_run_url, mlflow_version_url
from tests.support.data import START, write_days

END = START + timedelta(days=9)
FAST = {"TRAINING__HYPERPARAMETERS": "{max_iter: 20, max_depth: 3}"}


def _extra_links(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
    """``GET /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/links``, in-process."""
    from airflow.api_fastapi.core_api.routes.public.extra_links import get_extra_links
    from airflow.models.dagbag import DBDagBag
    from airflow.utils.session import create_session

    with create_session() as session:
        response = get_extra_links(
            dag_id=dag_id,
            dag_run_id=run_id,
            task_id=task_id,
            session=session,
            dag_bag=DBDagBag(),
            map_index=map_index,
        )
    return dict(response.extra_links)


def test_plugin_is_discovered_with_its_links(airflow_db) -> None:
    from airflow import plugins_manager

    assert plugins_manager.get_import_errors() == {}
    names = {link.name for link in plugins_manager.get_global_operator_extra_links()}
    assert set(LINK_NAMES) <= names
    info = {p["name"]: p for p in plugins_manager.get_plugin_info()}
    assert "driftloop" in info
    assert any(v["name"] == "MLflow" for v in info["driftloop"]["external_views"])


def test_monitoring_views_open_inside_the_ui(airflow_db) -> None:
    """The monitoring views as the UI's plugins endpoint serves them: in the navigation and as a
    tab of every DAG (Airflow fills in ``{DAG_ID}``), each opening in the UI (``url_route``)."""
    from airflow import plugins_manager
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    views = {
        v["url_route"]: ExternalViewResponse.model_validate(v)
        for p in plugins_manager.get_plugin_info()
        if p["name"] == "driftloop"
        for v in p["external_views"]
    }
    assert views["driftloop-pipelines"].destination == "nav"
    assert views["driftloop-pipelines"].href == "/driftloop/"
    assert views["driftloop-monitor"].destination == "dag"
    assert views["driftloop-monitor"].href == "/driftloop/dags/{DAG_ID}/monitor"


def test_train_model_links_to_its_mlflow_run(airflow_db, cfg_factory) -> None:
    import mlflow
    from airflow.dag_processing.dagbag import DagBag

    cfg = cfg_factory(**FAST)
    from driftloop.core.storage import open_store

    write_days(open_store(cfg.storage), cfg, 10, rows=600)
    bag = DagBag()
    assert not bag.import_errors
    dr = bag.dags["churn__train"].test(
        logical_date=datetime(END.year, END.month, END.day, tzinfo=UTC),
        run_conf={"date": END.isoformat(), "reason": "links test"},
    )
    assert str(dr.state) == "success"

    client = mlflow.MlflowClient(cfg.tracking_uri())
    run = client.get_run(client.get_model_version(cfg.model_name, "1").run_id)
    expected = mlflow_run_url(cfg.tracking_uri(), run.info.experiment_id, run.info.run_id)
    assert expected.startswith("http") and run.info.run_id in expected

    links = _extra_links("churn__train", dr.run_id, "train_model")
    assert links["MLflow run"] == expected
    # Every link of the plugin is offered; those the task did not publish are disabled (None).
    assert {n: links[n] for n in LINK_NAMES if n != "MLflow run"} == {
        n: None for n in LINK_NAMES if n != "MLflow run"
    }
    # The gate and the promotion link to the version's page in the MLflow registry, where its
    # decision tags and history are.
    version_page = mlflow_version_url(cfg.tracking_uri(), cfg.model_name, "1")
    assert version_page.endswith(f"/#/models/{cfg.model_name}/versions/1")
    for task_id in ("gate", "promote_model"):
        links = _extra_links("churn__train", dr.run_id, task_id)
        assert links["Registry decision"] == version_page, task_id
        assert {n: links[n] for n in LINK_NAMES if n != "Registry decision"} == {
            n: None for n in LINK_NAMES if n != "Registry decision"
        }
    # A task that published nothing has every driftloop link disabled.
    assert {
        n: _extra_links("churn__train", dr.run_id, "record_outcome")[n] for n in LINK_NAMES
    } == dict.fromkeys(LINK_NAMES)
