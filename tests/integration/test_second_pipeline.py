"""Two pipelines side by side: the second one (configs/churn_eu.yaml) through its own DAGs.

With ``DRIFTLOOP_CONFIGS`` pointing at a folder holding churn.yaml and churn_eu.yaml, dag.test()
runs ``churn_eu__ingest`` on simulated deliveries (real sensor, real GX) and then
``churn_eu__train`` (real MLflow): everything lands in churn_eu's storage, assets, experiment and
registered model, and nothing in churn's.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftloop.core.config import project_root
from driftloop.core.pipelines import STAGES, dag_id, find_pipeline
from driftloop.core.storage import LABELS, RAW, VALIDATED, open_store
from driftloop.data import synth
from driftloop.model import registry
from tests.support.data import START, logical

DAYS = 10  # label delay 3: labels for the first 7 days
END = START + timedelta(days=DAYS - 1)
LAST_LABELLED = START + timedelta(days=DAYS - 4)


def _write_config(folder: Path, stem: str, tmp: Path, mlflow_uri: str) -> None:
    """The repo's config ``stem`` with storage, Data Docs and MLflow under ``tmp`` (in the file:
    ``DRIFTLOOP__*`` overrides would apply to every pipeline alike)."""
    cfg = yaml.safe_load((project_root() / "configs" / f"{stem}.yaml").read_text())
    cfg["storage"] = {"root": str(tmp / stem / "data")}
    cfg["validation"]["data_docs_dir"] = str(tmp / stem / "data_docs")
    cfg["mlflow"] = {"tracking_uri": mlflow_uri}
    cfg["training"]["hyperparameters"] = {"max_iter": 20, "max_depth": 3}
    cfg["schedule"]["start_date"] = START  # churn_eu starts later: runs before it would not run
    (folder / f"{stem}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


@pytest.fixture
def two_pipelines(airflow_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    folder = tmp_path / "configs"
    folder.mkdir()
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for stem in ("churn", "churn_eu"):
        _write_config(folder, stem, tmp_path, mlflow_uri)
    monkeypatch.setenv("DRIFTLOOP_CONFIGS", str(folder))
    bag = DagBag(dag_folder=str(project_root() / "dags"))
    assert bag.import_errors == {}
    assert sorted(bag.dags) == sorted(dag_id(p, s) for p in ("churn", "churn_eu") for s in STAGES)
    return bag.dags


def _last_event_id() -> int:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(select(func.max(AssetEvent.id))) or 0


def _asset_events(uri: str, after_id: int) -> list[dict[str, Any]]:
    """Extras of the events of the asset ``uri`` since event ``after_id`` (the DB is shared)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == uri, AssetEvent.id > after_id)
            .order_by(AssetEvent.id)
        ).all()
        return [dict(r.extra) for r in rows]


def test_second_pipeline_ingests_and_trains_in_its_own_storage_and_registry(two_pipelines) -> None:
    import mlflow

    from driftloop.airflow.assets import pipeline_assets

    eu, churn = find_pipeline("churn_eu"), find_pipeline("churn")
    assert (eu.model_name, eu.experiment_name) == ("churn_eu-model", "churn_eu")
    assert eu.training.window_days != churn.training.window_days  # its own thresholds
    store, churn_store = open_store(eu.storage), open_store(churn.storage)
    synth.write_days(store, eu, START, DAYS, synth.Scenario("none"), seed=5, rows=400)
    before = _last_event_id()

    days = [START + timedelta(days=i) for i in range(DAYS)]
    assert two_pipelines["churn_eu__ingest"].start_date.date() == START  # from the config
    for day in days:
        run = two_pipelines["churn_eu__ingest"].test(logical_date=logical(day))
        assert str(run.state) == "success", f"churn_eu__ingest {day}: {run.state}"
    assert store.partitions(VALIDATED) == days and store.partitions(RAW) == days
    assert store.partitions(LABELS) == days[: DAYS - 3]
    assert churn_store.partitions(VALIDATED) == []  # nothing leaked into the other pipeline
    assert (Path(eu.data_docs_dir()) / "index.html").is_file()
    eu_assets = pipeline_assets("churn_eu")
    events = _asset_events(eu_assets.validated.uri, before)
    assert [e["partition"] for e in events] == [d.isoformat() for d in days]
    assert _asset_events(pipeline_assets("churn").validated.uri, before) == []

    run = two_pipelines["churn_eu__train"].test(
        logical_date=logical(END),
        run_conf={"date": LAST_LABELLED.isoformat(), "reason": "bootstrap: first model"},
    )
    assert str(run.state) == "success"
    assert registry.aliases(eu) == {"champion": "1"}
    assert registry.champion(churn) is None
    client = mlflow.MlflowClient(eu.tracking_uri())
    mv = client.get_model_version("churn_eu-model", "1")
    mlflow_run = client.get_run(mv.run_id)
    assert client.get_experiment(mlflow_run.info.experiment_id).name == "churn_eu"
    assert mlflow_run.data.tags["airflow.dag_id"] == "churn_eu__train"
    model_events = _asset_events(eu_assets.model.uri, before)
    assert [e["model_version"] for e in model_events] == ["1"]
    assert _asset_events(pipeline_assets("churn").model.uri, before) == []


def test_a_broken_config_is_recorded_without_making_other_dags_stale(
    airflow_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the dag-processor writes: the good pipeline's DAGs active, one import error elsewhere.

    Airflow marks every DAG of a file that has an import error stale, so this goes through the
    same DB update as the dag-processor (``sync_bag_to_db``), not only a DagBag.
    """
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session
    from sqlalchemy import select

    folder = tmp_path / "configs"
    folder.mkdir()
    _write_config(folder, "churn", tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}")
    broken = folder / "churn_eu.yaml"
    broken.write_text((folder / "churn.yaml").read_text().replace("name: churn", "name: churn_eu"))
    monkeypatch.setenv("DRIFTLOOP_CONFIGS", str(folder))
    dags = project_root() / "dags"
    with create_session() as session:  # the bundle the dag-processor registers first
        if session.get(DagBundleModel, "dags-folder") is None:
            session.add(DagBundleModel(name="dags-folder"))
    bag = DagBag(dag_folder=str(dags), bundle_path=dags, bundle_name="dags-folder")
    sync_bag_to_db(bag, "dags-folder", None)

    with create_session() as session:
        stale = dict(
            session.execute(
                select(DagModel.dag_id, DagModel.is_stale).where(DagModel.dag_id.like("churn%"))
            ).all()
        )
        errors = dict(
            session.execute(
                select(ParseImportError.filename, ParseImportError.stacktrace).where(
                    ParseImportError.bundle_name == "dags-folder"
                )
            ).all()
        )
    assert {d: stale[d] for d in (dag_id("churn", s) for s in STAGES)} == dict.fromkeys(
        (dag_id("churn", s) for s in STAGES), False
    )
    assert list(errors) == ["pipeline_configs.py"]
    assert f"invalid config {broken}" in errors["pipeline_configs.py"]
    assert f"storage.root: same as {folder / 'churn.yaml'}" in errors["pipeline_configs.py"]
