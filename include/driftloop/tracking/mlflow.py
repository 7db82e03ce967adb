"""MLflow plumbing: the client, experiments, the names of tags and artifacts, artifact reading.

Every other module asks this one for a client (:func:`mlflow_client`) instead of building an
``MlflowClient`` itself, so retries, timeouts and the one-time SQLite schema set-up apply everywhere;
and names what it tags or logs with the constants below, so a writer and its readers cannot drift
apart. Calls name the run explicitly (a client with a run id) instead of relying on the active run,
so concurrent trainings in one process cannot log into each other's runs.

This module imports nothing from :mod:`driftloop.model` or :mod:`driftloop.monitor`.
"""

from __future__ import annotations

import logging
import os
import subprocess
from typing import TYPE_CHECKING

from driftloop.core.config import project_root

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    from driftloop.core.config import PipelineConfig

log = logging.getLogger(__name__)

# -- tags of a training run ------------------------------------------------------------------------
TAG_REASON = "driftloop.trigger_reason"
TAG_PARTITIONS = "driftloop.partitions"
# The partition date (window end) of a training run: cooldown, lineage and the champion's training
# end are all read from it.
TAG_PARTITION_DATE = "driftloop.partition_date"
TAG_REPORT_URI = "driftloop.report_uri"
TAG_ALGORITHM = "driftloop.algorithm"
TAG_DAG_ID = "airflow.dag_id"
TAG_DAG_RUN_ID = "airflow.run_id"
TAG_TASK_ID = "airflow.task_id"
TAG_GIT_COMMIT = "mlflow.source.git.commit"

# -- tags of a model version -----------------------------------------------------------------------
# On a version whose training run failed after registering it (no checksum or challenger alias
# may have been set): never to be promoted; the value says why.
TAG_ORPHAN = "driftloop.orphan"
# sha256 of the registered model file, recorded at registration, checked at every load.
TAG_SHA256 = "driftloop.model_sha256"
# The skops types a registered version needs, recorded at registration (model_io checks them).
TAG_TRUSTED_TYPES = "driftloop.trusted_types"
# The newest daily check of the version: "<date>: <monitoring run id>".
TAG_LAST_DRIFT_CHECK = "driftloop.last_drift_check"
# What a person reads on a version in the registry UI; the full decisions (every metric of both
# models, thresholds, who did what and when) are in the training run's DECISION_ARTIFACT.
# The latest decision on the version ("gate: promote (improvement)", "promoted to champion by ...",
# "promotion rejected by ...", "rolled back by ...") and its reason.
TAG_DECISION = "driftloop.decision"
TAG_DECISION_REASON = "driftloop.reason"
# The gate's primary metric on the holdout: "roc_auc 0.8123 (champion v1: 0.8011)".
TAG_PRIMARY_METRIC = "driftloop.primary_metric"
# The training window ("2026-01-01..2026-01-21") and why the training ran.
TAG_TRAINED_WINDOW = "driftloop.trained_window"
TAG_TRIGGER = "driftloop.trigger"

# -- tags of a monitoring run (the daily check) ----------------------------------------------------
TAG_CHECK_DATE = "driftloop.check_date"
TAG_MODEL_NAME = "driftloop.model_name"
TAG_MODEL_VERSION = "driftloop.model_version"
TAG_CHECK_STATUS = "driftloop.status"
TAG_RETRAIN = "driftloop.retrain"
TAG_NOTE = "mlflow.note.content"

# -- artifacts of a training run -------------------------------------------------------------------
HOLDOUT_ARTIFACT = "holdout/holdout.json"
PROFILE_ARTIFACT = "reference/reference_profile.json"
# The gate decision and the history of promotions, rejections and rollbacks of the run's version.
DECISION_ARTIFACT = "decision.json"
MODEL_NAME_IN_RUN = "model"

MONITORING_SUFFIX = "-monitoring"

_READY_STORES: set[str] = set()  # SQLite stores whose schema this process has seen ready


def uri_client(uri: str) -> MlflowClient:
    """A client whose tracking and registry stores are both ``uri`` (no other set-up)."""
    import mlflow

    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def mlflow_client(cfg: PipelineConfig) -> MlflowClient:
    """A client on the pipeline's tracking/registry store; also points the fluent API at it.

    ``log_model`` and ``load_model`` use the process-wide tracking URI, so it is set here too; every
    task of a pipeline uses the same URI, so sharing it across threads is harmless.
    """
    import mlflow

    # Bounded retries against an MLflow server (MLflow reads these per request); an MLFLOW_* variable
    # set in the environment wins.
    for name, value in (
        ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", cfg.mlflow.max_retries),
        ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", cfg.mlflow.retry_backoff),
        ("MLFLOW_HTTP_REQUEST_TIMEOUT", cfg.mlflow.request_timeout),
    ):
        os.environ.setdefault(name, str(value))
    uri = cfg.tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if not uri.startswith("sqlite:///") or uri in _READY_STORES:
        return uri_client(uri)
    # MLflow creates a SQLite store's tables on first use; two processes doing that at once on a
    # fresh file fail ("table ... already exists", alembic version mismatch): one at a time, once
    # per process. (Postgres stores are created by the deployment before any task runs.)
    from pathlib import Path

    from driftloop.core.locking import file_lock

    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(db.with_name(f"{db.name}.schema.lock"), 300, f"the schema set-up of {db}"):
        client = uri_client(uri)
        client.search_experiments(max_results=1)  # the tracking store's tables
        client.search_registered_models(max_results=1)  # the registry store's
    _READY_STORES.add(uri)
    return client


def _ensure(client: MlflowClient, name: str, artifact_location: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location)


def ensure_experiment(client: MlflowClient, cfg: PipelineConfig) -> str:
    """The experiment id, creating it with the configured artifact location (never ./mlruns)."""
    return _ensure(client, cfg.experiment_name, cfg.artifact_location())


def ensure_monitoring_experiment(client: MlflowClient, cfg: PipelineConfig) -> str:
    """The ``<experiment>-monitoring`` experiment of the daily checks (created on first use).

    Separate from the training experiment, so training-run queries (cooldown, lineage) never see
    monitoring runs.
    """
    return _ensure(
        client,
        f"{cfg.experiment_name}{MONITORING_SUFFIX}",
        f"{cfg.artifact_location()}/monitoring",
    )


def git_commit() -> str:
    """The checked-out commit of the project, or "unknown" (e.g. in an image without .git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_root(),
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        log.info("git commit unknown: %s", err)
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def mark_failed_run(
    client: MlflowClient, model_name: str, run_id: str, version: str | None, err: BaseException
) -> None:
    """Best effort after a failed training: run FAILED; a version registered by it tagged orphan.

    Never masks ``err`` (MLflow may be the thing that failed): problems here are only logged.
    """
    steps = [("mark the run FAILED", lambda: client.set_terminated(run_id, "FAILED"))]
    if version is not None:
        why = f"its training run {run_id} failed after registration: {type(err).__name__}: {err}"
        steps.append(
            (
                f"tag v{version} as an orphan",
                lambda: client.set_model_version_tag(
                    model_name, version, TAG_ORPHAN, why.splitlines()[0][:500]
                ),
            )
        )
    for what, step in steps:
        try:
            step()
        except Exception as problem:  # reported, and the training's own error is raised
            log.warning("could not %s: %s", what, problem)


def download(tracking_uri: str, artifact_uri: str, dst: str) -> str:
    """Download an artifact (``runs:/``, ``models:/``...) into ``dst``; returns the local path."""
    import mlflow

    return mlflow.artifacts.download_artifacts(
        artifact_uri=artifact_uri,
        dst_path=dst,
        tracking_uri=tracking_uri,
        registry_uri=tracking_uri,
    )


def run_id_of(version: ModelVersion) -> str:
    """The MLflow run that produced a registered version (every driftloop version has one)."""
    if not version.run_id:
        raise ValueError(f"model version {version.name} v{version.version} has no source run")
    return version.run_id


def read_run_text(cfg: PipelineConfig, run_id: str, artifact_path: str) -> str:
    """The text of one artifact of a run (e.g. :data:`HOLDOUT_ARTIFACT`)."""
    import tempfile
    from pathlib import Path

    import mlflow

    with tempfile.TemporaryDirectory(prefix="driftloop-artifact-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path=artifact_path,
            dst_path=tmp,
            tracking_uri=cfg.tracking_uri(),
        )
        return Path(local).read_text()


__all__ = [
    "DECISION_ARTIFACT",
    "HOLDOUT_ARTIFACT",
    "MODEL_NAME_IN_RUN",
    "MONITORING_SUFFIX",
    "PROFILE_ARTIFACT",
    "TAG_ALGORITHM",
    "TAG_CHECK_DATE",
    "TAG_CHECK_STATUS",
    "TAG_DAG_ID",
    "TAG_DAG_RUN_ID",
    "TAG_DECISION",
    "TAG_DECISION_REASON",
    "TAG_GIT_COMMIT",
    "TAG_LAST_DRIFT_CHECK",
    "TAG_MODEL_NAME",
    "TAG_MODEL_VERSION",
    "TAG_NOTE",
    "TAG_ORPHAN",
    "TAG_PARTITIONS",
    "TAG_PARTITION_DATE",
    "TAG_PRIMARY_METRIC",
    "TAG_REASON",
    "TAG_REPORT_URI",
    "TAG_RETRAIN",
    "TAG_SHA256",
    "TAG_TASK_ID",
    "TAG_TRAINED_WINDOW",
    "TAG_TRIGGER",
    "TAG_TRUSTED_TYPES",
    "download",
    "ensure_experiment",
    "ensure_monitoring_experiment",
    "git_commit",
    "mark_failed_run",
    "mlflow_client",
    "read_run_text",
    "run_id_of",
    "uri_client",
]
