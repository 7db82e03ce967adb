"""MLflow tracking and model registry on the real PostgreSQL: train, gate, promote, roll back.

The production configuration keeps MLflow's metadata (runs, registered models, aliases, tags) in
Postgres. Everything below goes through the library (``train_model``, ``registry``) with the tracking
URI pointing at a fresh database, then reads the outcome back twice: through a new MLflow client and
straight from MLflow's tables with psycopg2, so the aliases are known to live in Postgres.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from driftloop.core.storage import open_store
from driftloop.model import registry
from driftloop.model.train import train_model
from tests.support.data import START, write_days
from tests.support.services import pg_query

DAYS = 8  # labels for the first 5 (label delay 3): 2 training days + 3 holdout days
END = START + timedelta(days=4)  # the newest labelled day
# A one-split stump as the first champion, a real model as the challenger: the gate's verdict
# is then about a clear difference, not noise.
WEAK = {"max_iter": 1, "max_depth": 1}
STRONG = {"max_iter": 40, "max_depth": 3}
MIGRATION_BUDGET_SECONDS = 60


def test_registry_lifecycle_on_postgres(cfg_factory, postgres_db: str, tmp_path: Path) -> None:
    import mlflow
    from mlflow.store.db.utils import _get_latest_schema_revision

    artifacts = (tmp_path / "mlflow-artifacts").resolve().as_uri()
    cfg = cfg_factory(
        mlflow__tracking_uri=postgres_db,
        mlflow__artifact_location=artifacts,
        gate__floor="0.5",
    )
    assert cfg.tracking_uri() == postgres_db

    # A fresh database: the first client creates MLflow's schema with its alembic migrations.
    t0 = time.perf_counter()
    mlflow.MlflowClient(tracking_uri=postgres_db).search_experiments()
    migrate_seconds = time.perf_counter() - t0
    assert migrate_seconds < MIGRATION_BUDGET_SECONDS
    assert pg_query(postgres_db, "SELECT version_num FROM alembic_version") == [
        (_get_latest_schema_revision(),)
    ]

    store = open_store(cfg.storage)
    labelled = write_days(store, cfg, DAYS, rows=600)
    assert labelled[-1] == END

    # -- first model: trained, gated (no champion yet), promoted -------------------------------
    first = train_model(cfg, END, hyperparameters=WEAK, reason="bootstrap")
    assert first.model_version == "1"
    assert first.holdout_partitions == [(END - timedelta(days=i)).isoformat() for i in (2, 1, 0)]
    assert registry.aliases(cfg) == {"challenger": "1"}
    d1 = registry.evaluate_challenger(cfg, "1")
    assert (d1.promote, d1.rule, d1.champion_metrics) == (True, "first_model", None)
    registry.promote(cfg, "1", d1.reason, "gate (auto-promote)", d1)
    assert registry.aliases(cfg) == {"champion": "1"}

    # -- second model: gated against the champion re-scored on the challenger's holdout ----------
    second = train_model(cfg, END, hyperparameters=STRONG, reason="drift_check 2026-01-05")
    assert second.model_version == "2"
    assert registry.aliases(cfg) == {"champion": "1", "challenger": "2"}
    d2 = registry.evaluate_challenger(cfg, "2")
    assert d2.champion_version == "1" and d2.challenger_version == "2"
    assert d2.champion_metrics is not None
    assert d2.challenger_metrics["roc_auc"] == pytest.approx(second.metrics["roc_auc"])
    assert d2.champion_metrics["roc_auc"] == pytest.approx(first.metrics["roc_auc"])
    assert (d2.promote, d2.rule) == (True, "improvement"), d2.reason
    registry.promote(cfg, "2", d2.reason, "gate (auto-promote)", d2)
    assert registry.aliases(cfg) == {"champion": "2", "previous_champion": "1"}

    # The champion alias resolves to loadable model files under the configured artifact root.
    model = mlflow.sklearn.load_model(f"models:/{cfg.model_name}@champion")
    validated = store.read_table("validated", END + timedelta(days=1))
    scores = model.predict_proba(validated[cfg.dataset.feature_names])[:, 1]
    assert len(scores) == len(validated) and ((scores >= 0) & (scores <= 1)).all()
    client = mlflow.MlflowClient(tracking_uri=postgres_db)
    experiment = client.get_experiment_by_name(cfg.experiment_name)
    assert experiment.artifact_location == artifacts
    assert any((tmp_path / "mlflow-artifacts").rglob("MLmodel"))

    # -- rollback: the previous champion is restored, the demoted one is kept as previous --------
    rb = registry.rollback(cfg, "v2 misbehaves in production", "oncall")
    assert (rb["champion"], rb["previous_champion"]) == ("1", "2")

    # A new client sees the same registry state, and so does Postgres itself.
    fresh = mlflow.MlflowClient(tracking_uri=postgres_db, registry_uri=postgres_db)
    rm = fresh.get_registered_model(cfg.model_name)
    assert {k: str(v) for k, v in rm.aliases.items()} == {"champion": "1", "previous_champion": "2"}
    assert sorted(
        pg_query(
            postgres_db,
            "SELECT alias, version FROM registered_model_aliases WHERE name = %s",
            (cfg.model_name,),
        )
    ) == [("champion", 1), ("previous_champion", 2)]
    versions = dict(
        pg_query(
            postgres_db,
            "SELECT version, run_id FROM model_versions WHERE name = %s",
            (cfg.model_name,),
        )
    )
    assert versions == {1: first.run_id, 2: second.run_id}
    tags = dict(
        pg_query(
            postgres_db,
            "SELECT key, value FROM model_version_tags WHERE name = %s AND version = 2",
            (cfg.model_name,),
        )
    )
    assert tags["driftloop.decision"] == "rolled back by oncall"
    assert registry.decision_record(cfg, "2")["gate"]["rule"] == "improvement"
    run_rows = pg_query(
        postgres_db,
        "SELECT r.status, t.value FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
        "WHERE r.run_uuid = %s AND t.key = 'driftloop.trigger_reason'",
        (second.run_id,),
    )
    assert run_rows == [("FINISHED", "drift_check 2026-01-05")]
    v1 = fresh.get_model_version(cfg.model_name, "1")
    assert v1.tags["driftloop.decision"] == "restored to champion by oncall"
    assert "Restored to champion by oncall" in v1.description

    # -- the audit trail: one record per decision, in storage -----------------------------------
    records = {(r["version"], r["action"]): r for r in registry.read_records(cfg)}
    assert set(records) == {
        ("1", "gate"),
        ("1", "promote"),
        ("2", "gate"),
        ("2", "promote"),
        ("1", "rollback-from-v2"),
    }
    assert records[("1", "promote")]["previous_champion"] is None
    assert records[("2", "gate")]["decision"]["champion_metrics"] == d2.champion_metrics
    promote2 = records[("2", "promote")]
    assert (promote2["previous_champion"], promote2["champion"], promote2["changed"]) == (
        "1",
        "2",
        True,
    )
    assert promote2["decision"]["rule"] == "improvement"
    assert promote2["run_id"] == second.run_id and promote2["partition_date"] == END.isoformat()
    rollback = records[("1", "rollback-from-v2")]
    assert rollback["actor"] == "oncall" and rollback["reason"] == "v2 misbehaves in production"
    assert (rollback["champion"], rollback["previous_champion"]) == ("1", "2")

    # Nothing fell back to the test's default sqlite store on the way.
    assert not (tmp_path / "mlflow.db").exists()
    print(f"mlflow schema migration on a fresh Postgres database: {migrate_seconds:.1f} s")
