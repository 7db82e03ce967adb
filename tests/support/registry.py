"""Registry fixtures: a gate setting and registered versions backed by a bare run (no model files)."""

from __future__ import annotations

from driftloop.core.config import Gate, PipelineConfig
from driftloop.model import registry

GATE = Gate(
    primary_metric="roc_auc",
    min_improvement=0.01,
    floor=0.6,
    guards={"log_loss": 0.05, "pr_auc": 0.03},
)


def register_version(cfg: PipelineConfig, partition_date: str) -> str:
    """A version backed by a run (no model files: alias moves do not read them)."""
    from driftloop.tracking.mlflow import TAG_PARTITION_DATE, ensure_experiment, mlflow_client

    client = mlflow_client(cfg)
    exp = ensure_experiment(client, cfg)
    run = client.create_run(exp, tags={TAG_PARTITION_DATE: partition_date})
    if not registry.aliases(cfg) and not client.search_model_versions(f"name='{cfg.model_name}'"):
        client.create_registered_model(cfg.model_name)
    mv = client.create_model_version(
        cfg.model_name, f"runs:/{run.info.run_id}/model", run.info.run_id
    )
    return str(mv.version)
