"""Pipeline configuration: one YAML file per pipeline, validated with pydantic.

A user brings their own dataset by writing one of these files (plus a GX expectation suite), not by
editing code. Any key can be overridden from the environment with ``DRIFTLOOP__`` and ``__`` between
nested keys, e.g. ``DRIFTLOOP__STORAGE__ROOT=s3://bucket/prefix``; the value is parsed as YAML, so
numbers and booleans come through typed.

``${VAR}`` and ``${VAR:-default}`` inside string values are expanded from the environment.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from driftloop.core.alert_config import Alerts

# format_duration: re-exported, callers import it from here.
from driftloop.core.durations import format_duration as format_duration
from driftloop.core.durations import parse_duration
from driftloop.core.errors import EXIT_USAGE, DriftloopError
from driftloop.core.metrics import (
    BINARY,
    MULTICLASS,
    REGRESSION,
    TABLES,
    metric_table,
    proba_column,
)

_BINARY_PRIMARY = metric_table(BINARY).primary
_BINARY_GUARDS = metric_table(BINARY).default_guards

ENV_PREFIX = "DRIFTLOOP__"
CONFIG_ENV = "DRIFTLOOP_CONFIG"
HOME_ENV = "DRIFTLOOP_HOME"


class ConfigError(DriftloopError, ValueError):
    """A configuration file is missing, unreadable or invalid; the message names key and problem."""

    exit_code = EXIT_USAGE


def project_root() -> Path:
    """The repository root (where dags/, great_expectations/ and configs/ live)."""
    return Path(__file__).resolve().parents[3]


def driftloop_home() -> Path:
    """The local state folder: storage root, MLflow store and Airflow home for local runs."""
    return Path(os.environ.get(HOME_ENV) or project_root() / ".driftloop").resolve()


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or project_root() / "configs" / "churn.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureType(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class Feature(_Strict):
    """One model input column."""

    name: str
    type: FeatureType
    min: float | None = None
    max: float | None = None
    # Numbers are accepted as written in YAML (``categories: [1, 2, 3]``) and kept as strings: the
    # CSV is read as text, so data and config compare as strings everywhere.
    categories: list[str] | None = None
    nullable: bool = True
    critical: bool = Field(False, description="drift on this feature alone triggers a retrain")
    mostly: float | None = Field(
        None,
        gt=0,
        le=1,
        description="share of rows that must satisfy this feature's range/category expectation; "
        "default: validation.mostly",
    )

    @field_validator("categories", mode="before")
    @classmethod
    def _categories_as_text(cls, v: Any) -> Any:
        if not isinstance(v, list):
            return v
        out = []
        for item in v:
            if isinstance(item, bool):  # YAML reads yes/no/on/off/true/false as booleans
                raise ValueError(
                    f"category {item!r} was read as a boolean: quote it in YAML (e.g. 'yes')"
                )
            out.append(str(item) if isinstance(item, int | float) else item)
        return out

    @model_validator(mode="after")
    def _check(self) -> Feature:
        if self.type is FeatureType.CATEGORICAL and self.min is not None:
            raise ValueError(f"feature {self.name!r}: min/max apply only to numeric features")
        if self.type is FeatureType.NUMERIC and self.categories:
            raise ValueError(
                f"feature {self.name!r}: categories apply only to categorical features"
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"feature {self.name!r}: min {self.min} > max {self.max}")
        return self


Task = Literal["binary", "multiclass", "regression"]


class Dataset(_Strict):
    """Column roles of the tabular dataset, and what the target is (the task type)."""

    id_column: str
    timestamp_column: str
    target: str
    task: Task = Field("binary", description="binary | multiclass | regression")
    positive_label: int = Field(1, description="binary only: the target value that is positive")
    # Multiclass labels are categories, kept as strings everywhere (labels, model, predictions);
    # numbers are accepted as written (``[0, 1, 2]`` matches a label delivered as ``0``).
    classes: list[str] | None = Field(
        None,
        description="multiclass only: the label set (default: the labels of the training window)",
    )
    features: list[Feature] = Field(min_length=1)
    label_delay_days: int = Field(3, ge=0, description="days between an event and its label")

    @field_validator("classes", mode="before")
    @classmethod
    def _classes_as_written(cls, v: Any) -> Any:
        if isinstance(v, list):
            if any(isinstance(c, bool) or not isinstance(c, str | int | float) for c in v):
                raise ValueError("class labels must be strings or numbers")
            return [c if isinstance(c, str) else str(c) for c in v]
        return v

    @model_validator(mode="after")
    def _unique(self) -> Dataset:
        names = [self.id_column, self.timestamp_column, self.target, *self.feature_names]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"column names used twice: {dupes}")
        if self.task != BINARY and "positive_label" in self.model_fields_set:
            raise ValueError(f"positive_label applies only to task binary (this is {self.task})")
        if self.classes is not None:
            if self.task != MULTICLASS:
                raise ValueError(f"classes applies only to task multiclass (this is {self.task})")
            columns = [proba_column(c) for c in self.classes]
            if len(self.classes) < 2 or len(set(columns)) != len(columns):
                raise ValueError(f"classes must hold at least two distinct labels: {self.classes}")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def numeric(self) -> list[str]:
        return [f.name for f in self.features if f.type is FeatureType.NUMERIC]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.type is FeatureType.CATEGORICAL]

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)


class Storage(_Strict):
    """Where partitions live: a local folder or ``s3://bucket/prefix``."""

    root: str
    s3_endpoint_url: str | None = Field(None, description="e.g. MinIO or a local S3 stand-in")

    @field_validator("root")
    @classmethod
    def _root(cls, v: str) -> str:
        if not v:
            raise ValueError("must not be empty")
        if v.startswith("s3://") and len(v) <= len("s3://"):
            raise ValueError("s3:// URI needs a bucket")
        if "://" in v and not v.startswith(("s3://", "file://")):
            raise ValueError(f"unsupported scheme in {v!r}: use a local path or s3://")
        return v


class Validation(_Strict):
    """Great Expectations settings and the row-count/null bounds of the demo suite."""

    suite: str
    gx_root: str | None = Field(
        None, description="GX project folder; default: repo great_expectations/"
    )
    data_docs_dir: str | None = Field(None, description="default: $DRIFTLOOP_HOME/data_docs")
    min_rows: int = Field(100, ge=1)
    max_rows: int = Field(1_000_000, ge=1)
    max_null_fraction: float = Field(0.05, ge=0, le=1)
    # Events whose timestamp lies outside their partition's UTC day by more than the tolerance:
    # "quarantine" the whole day (the safe default: a file of the wrong day, or a clock years off,
    # must not train a model), or "warn" (kept, counted in the result, logged as a warning).
    out_of_partition: Literal["quarantine", "warn"] = "quarantine"
    partition_tolerance_hours: float = Field(
        1.0,
        ge=0,
        le=24 * 366,
        description="how far (hours) an event may lie before or after its partition's UTC day",
    )
    # Label rows whose id was never delivered as an event: "quarantine" them (kept in
    # quarantine/labels_unknown_ids/, the rest of the file ingested), or "warn" (kept, counted).
    unknown_label_ids: Literal["quarantine", "warn"] = "quarantine"
    # Tolerance of the per-row range/category expectations: the share of rows that must satisfy
    # them (GX ``mostly``); a feature's own ``mostly`` wins. Rows within the tolerance are kept.
    mostly: float = Field(1.0, gt=0, le=1)
    # What an expectation failing on some rows costs: the whole day ("quarantine_partition"), or
    # only those rows ("quarantine_rows": they go to quarantine/rows/ with the failed
    # expectations named per row, the rest is validated and published). Schema, row count,
    # uniqueness and null-share failures always quarantine the whole partition.
    bad_rows: Literal["quarantine_partition", "quarantine_rows"] = "quarantine_partition"
    max_bad_row_fraction: float = Field(
        0.1,
        ge=0,
        le=1,
        description="with quarantine_rows: above this share of bad rows the whole partition is "
        "quarantined (a broken feed, not a few outliers)",
    )
    extra_expectations: str | None = Field(
        None,
        description="JSON/YAML file of extra GX expectations ({type, kwargs}) added to the suite "
        "derived from this config; relative to the config file",
    )

    @model_validator(mode="after")
    def _rows(self) -> Validation:
        if self.min_rows > self.max_rows:
            raise ValueError(f"min_rows {self.min_rows} > max_rows {self.max_rows}")
        return self


class Algorithm(StrEnum):
    """Estimator families; each maps to a classifier or a regressor by task (model/pipeline)."""

    LOGISTIC_REGRESSION = "logistic_regression"  # classification only
    GRADIENT_BOOSTING = "gradient_boosting"
    RANDOM_FOREST = "random_forest"
    LINEAR = "linear"  # logistic regression (classification) or ridge (regression)


class Training(_Strict):
    window_days: int = Field(21, ge=2)
    holdout_days: int = Field(3, ge=1)
    algorithm: Algorithm = Algorithm.GRADIENT_BOOSTING
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    min_train_rows: int = Field(500, ge=1)
    random_state: int = 0

    @model_validator(mode="after")
    def _window(self) -> Training:
        if self.holdout_days >= self.window_days:
            raise ValueError("holdout_days must be smaller than window_days")
        return self


class Gate(_Strict):
    """Champion/challenger promotion rule, in the terms of the task's metric table.

    Defaults depend on ``dataset.task`` (filled in by :class:`PipelineConfig`; a bare ``Gate()`` has
    the binary ones). Directions come from the table: for a lower-is-better primary metric (rmse,
    log_loss) the floor is a ceiling and an improvement is a decrease.
    """

    primary_metric: str = _BINARY_PRIMARY
    min_improvement: float = Field(0.005, ge=0)
    floor: float | None = Field(
        0.6, description="worst acceptable primary metric (a ceiling if lower is better)"
    )
    # metric -> allowed regression, in the metric's own direction.
    guards: dict[str, float] = Field(default_factory=lambda: dict(_BINARY_GUARDS))
    auto_promote: bool = True
    approvers: list[str] = Field(
        default_factory=list,
        description="user ids who may answer the approval step (empty: any user allowed to "
        "answer it by their role)",
    )
    approval_timeout: timedelta = Field(
        timedelta(days=7),
        description="how long the approval step waits; then the promotion is rejected "
        "(e.g. 7d, 12h, 30m, or seconds)",
    )

    shadow_partitions: int = Field(
        0,
        ge=0,
        description="labelled live partitions a challenger that passed the gate is scored on "
        "beside the champion before it is promoted or rejected (0: no shadow, promote at once)",
    )
    shadow_margin: float = Field(
        0.0,
        ge=0,
        description="how much the challenger must beat the champion by in shadow, on the primary "
        "metric over the same rows (a tie keeps the champion)",
    )
    shadow_max_days: int = Field(
        30,
        ge=1,
        description="days after the shadow starts by which it must have its labelled partitions; "
        "then the challenger is rejected",
    )

    @field_validator("approval_timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("approval_timeout")
    @classmethod
    def _positive_timeout(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("approval_timeout must be positive")
        return value

    @field_validator("guards")
    @classmethod
    def _guards(cls, guards: dict[str, float]) -> dict[str, float]:
        # Names are checked against the task's table by PipelineConfig; signs can be checked here.
        negative = sorted(k for k, v in guards.items() if v < 0)
        if negative:
            raise ValueError(f"guard tolerances must be >= 0: {', '.join(negative)}")
        return guards

    @field_validator("floor")
    @classmethod
    def _floor(cls, floor: float | None) -> float | None:
        if floor is not None and floor != floor:  # NaN
            raise ValueError("floor must be a number")
        return floor

    def check_task(self, task: str) -> None:
        """Raise ``ValueError("gate.<key>: ...")`` when a metric is not in the task's table, or the
        floor lies outside the primary metric's range (e.g. a roc_auc floor of 1.5)."""
        table = metric_table(task)
        known = ", ".join(table.names)
        if self.primary_metric not in table.names:
            raise ValueError(
                f"gate.primary_metric: {self.primary_metric!r} is not a {task} metric; "
                f"known: {known}"
            )
        unknown = sorted(set(self.guards) - set(table.names))
        if unknown:
            raise ValueError(
                f"gate.guards: unknown guard metric(s) {', '.join(unknown)}; known: {known}"
            )
        spec = table.spec(self.primary_metric)
        if self.floor is not None and not spec.in_range(self.floor):
            raise ValueError(
                f"gate.floor: {self.floor:g} is outside the range of {self.primary_metric} "
                f"{spec.describe_range()}: the gate could never (or would always) pass it"
            )


class Drift(_Strict):
    """Drift thresholds; defaults are effect sizes, safe at any sample size."""

    window_days: int = Field(3, ge=1)
    bins: int = Field(10, ge=2)
    min_samples: int = Field(500, ge=1)
    psi_threshold: float = Field(0.2, gt=0)
    js_threshold: float = Field(0.1, gt=0, le=1)
    wasserstein_threshold: float = Field(0.15, gt=0)
    drift_share: float = Field(0.3, gt=0, le=1, description="share of drifted features to alarm")
    prediction_psi_threshold: float = Field(0.2, gt=0)
    performance_window_days: int = Field(7, ge=1)
    performance_tolerance: float = Field(
        0.05,
        ge=0,
        description="allowed worsening of the primary metric, in its direction and units",
    )
    min_labelled_samples: int = Field(500, ge=1)
    estimated_tolerance: float | None = Field(
        None,
        ge=0,
        description="allowed worsening of the primary metric as estimated without labels (CBPE / "
        "direct loss estimation) before it is a signal; default: performance_tolerance",
    )
    reference: Literal["champion_window", "same_period_last_cycle"] = Field(
        "champion_window",
        description="what current data is compared with: the champion's training data, or the "
        "validated data of the same period one cycle earlier (seasonal data), in the champion's "
        "bins; the champion's profile when that period has too little data (the report says so)",
    )
    reference_cycle_days: int = Field(
        365, ge=1, description="length of a cycle for same_period_last_cycle, in days"
    )

    @property
    def estimated_tolerance_value(self) -> float:
        """``estimated_tolerance``, or ``performance_tolerance`` when unset."""
        if self.estimated_tolerance is None:
            return self.performance_tolerance
        return self.estimated_tolerance

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        # Named here so that an old config gets the new key, not just "extra inputs not permitted".
        moved = sorted(set(data) & set(Retrain.model_fields)) if isinstance(data, dict) else []
        if moved:
            raise ValueError(
                "; ".join(
                    f"drift.{k} moved to retrain.{k} (the retrain policy section)" for k in moved
                )
            )
        return data


class Retrain(_Strict):
    """The retrain policy: when a drift or decay signal (or no champion yet) starts a training."""

    cooldown_days: int = Field(
        7, ge=0, description="days after the last training's window end during which signals wait"
    )
    min_labelled_days_after_drift: int = Field(
        7, ge=0, description="labelled days since the drift onset before retraining (0: don't wait)"
    )
    bootstrap_labelled_days: int = Field(
        7, ge=1, description="labelled days before the first model is trained (no champion yet)"
    )
    estimated_drop_signal: bool = Field(
        True,
        description="use the performance estimated without labels as a signal (false: drift alone "
        "retrains, as before estimates existed)",
    )
    on_drift_without_estimated_drop: bool = Field(
        True,
        description="retrain on feature/prediction drift even when the estimated primary metric "
        "did not drop (false: such drift is reported, not acted on; for data that drifts often "
        "and harmlessly, e.g. seasonal)",
    )
    min_labelled_days_after_estimated_drop: int | None = Field(
        None,
        ge=0,
        description="labelled days since the drift onset before retraining when the estimate "
        "dropped (evidence that the shift hurts); at most min_labelled_days_after_drift; default: "
        "training.holdout_days + 1 (the fewest the trainer accepts), capped by that",
    )

    @model_validator(mode="after")
    def _estimated_wait(self) -> Retrain:
        wait = self.min_labelled_days_after_estimated_drop
        if wait is not None and wait > self.min_labelled_days_after_drift:
            raise ValueError(
                f"min_labelled_days_after_estimated_drop "
                f"({self.min_labelled_days_after_estimated_drop}) must not exceed "
                f"min_labelled_days_after_drift ({self.min_labelled_days_after_drift}): an "
                "estimated drop is more evidence, not less"
            )
        return self


class Mlflow(_Strict):
    tracking_uri: str | None = Field(None, description="default: sqlite store in DRIFTLOOP_HOME")
    experiment: str | None = None
    registered_model: str | None = None
    artifact_location: str | None = Field(
        None,
        description="experiment artifact root; default: beside a sqlite store, else <storage root>/mlflow-artifacts",
    )
    max_retries: int = Field(
        3, ge=0, description="retries of an MLflow server request (MLflow's own default: 7, ~4 min)"
    )
    retry_backoff: int = Field(1, ge=0, description="backoff factor between those retries, seconds")
    request_timeout: int = Field(30, ge=1, description="seconds per MLflow server request")
    lock_uri: str | None = Field(
        None,
        description="where champion decisions take their lock: a postgresql:// URL (advisory lock) "
        "or a folder (file lock); default: the tracking store if sqlite or postgresql, else "
        "$DRIFTLOOP_HOME/locks",
    )


class Execution(_Strict):
    """Where heavy steps (train, score) run: in the Airflow worker, or as Kubernetes pods."""

    mode: Literal["local", "kubernetes"] = "local"
    image: str = "driftloop:latest"
    namespace: str = "default"
    config_map: str = Field("driftloop-env", description="ConfigMap with DRIFTLOOP__* settings")
    secret: str = Field("driftloop-secrets", description="Secret with credentials (optional)")
    cpu: str = "1"
    memory: str = "2Gi"


class Arrival(_Strict):
    """How ingest learns that a partition has landed.

    ``sensor`` (the default and the fallback): ingest runs on ``schedule.interval`` and a deferrable
    sensor waits in the triggerer for ``landing/<day>/features.csv``. ``queue``: ingest is scheduled
    on the pipeline's ``landed`` asset, whose ``AssetWatcher`` listens on a message queue; each
    message names the landed day or object key (an S3 object-created notification, a key, a day) and
    starts ingest of that partition at once, with no polling of the store.
    """

    mode: Literal["sensor", "queue"] = "sensor"
    scheme: str = Field(
        "redis+list",
        description="redis+list: a Redis list (producers LPUSH; tested); or a MessageQueueTrigger "
        "scheme: redis+pubsub, or sqs / kafka with their provider and the trigger's arguments in "
        "params",
    )
    queue: str | None = Field(
        None, description="Redis list or channel (default: driftloop.<pipeline>.landed)"
    )
    conn_id: str = Field("redis_default", description="Redis schemes: the Airflow connection")
    poll_interval: float = Field(1.0, gt=0, description="seconds between reads of an empty queue")
    params: dict[str, Any] = Field(
        default_factory=dict, description="further arguments of the scheme's trigger"
    )


class Schedule(_Strict):
    """When the pipeline's DAGs run; read where the DAGs are parsed (no environment needed)."""

    start_date: date = Field(date(2026, 1, 1), description="first logical day (UTC) of the DAGs")
    interval: str = Field(
        "@daily", description="schedule of ingest and drift_check: a cron expression or preset"
    )
    catchup: bool = Field(True, description="run the days between start_date and today")


class PipelineConfig(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    dataset: Dataset
    storage: Storage
    validation: Validation
    training: Training = Training()
    gate: Gate = Gate()
    drift: Drift = Drift()
    retrain: Retrain = Retrain()
    mlflow: Mlflow = Mlflow()
    execution: Execution = Execution()
    schedule: Schedule = Schedule()
    arrival: Arrival = Arrival()
    alerts: Alerts = Field(Alerts(), description="who is told what, through which channels")
    source: str | None = Field(None, description="file the config was loaded from")

    @model_validator(mode="before")
    @classmethod
    def _task_defaults(cls, data: Any) -> Any:
        # The gate's defaults are the task's (primary metric, guards, floor): fill in the keys the
        # file leaves out before the gate is validated.
        if not isinstance(data, dict) or not isinstance(data.get("dataset"), dict):
            return data
        task = data["dataset"].get("task", BINARY)
        table = TABLES.get(task) if isinstance(task, str) else None
        gate = data.get("gate", {})
        if table is None or not isinstance(gate, dict):
            return data
        gate = dict(gate)
        gate.setdefault("primary_metric", table.primary)
        gate.setdefault("guards", dict(table.default_guards))
        gate.setdefault("floor", table.default_floor)
        return {**data, "gate": gate}

    @model_validator(mode="after")
    def _task_metrics(self) -> PipelineConfig:
        self.gate.check_task(self.dataset.task)
        gate, delay = self.gate, self.dataset.label_delay_days
        if gate.shadow_partitions and gate.shadow_max_days < gate.shadow_partitions + delay:
            raise ValueError(
                f"gate.shadow_max_days: {gate.shadow_max_days} is too short for "
                f"gate.shadow_partitions {gate.shadow_partitions} with labels arriving after "
                f"dataset.label_delay_days {delay}: it needs at least "
                f"{gate.shadow_partitions + delay} days, or every shadow would be rejected"
            )
        if (
            self.dataset.task == REGRESSION
            and self.training.algorithm == Algorithm.LOGISTIC_REGRESSION
        ):
            raise ValueError(
                "training.algorithm: logistic_regression is a classifier; use linear (ridge) "
                "for task regression"
            )
        wait = self.retrain.min_labelled_days_after_estimated_drop
        if wait is not None and 0 < wait <= self.training.holdout_days:
            raise ValueError(
                f"retrain.min_labelled_days_after_estimated_drop: {wait} labelled days cannot be "
                f"trained on: training.holdout_days ({self.training.holdout_days}) of them are held "
                f"out, so set it above {self.training.holdout_days} (or 0: don't wait)"
            )
        return self

    @property
    def task(self) -> str:
        return self.dataset.task

    @property
    def estimated_drop_wait(self) -> int:
        """Labelled days since the onset before retraining on an estimated drop (the default is the
        fewest days the trainer accepts: the holdout days plus one to train on)."""
        r = self.retrain
        if r.min_labelled_days_after_estimated_drop is not None:
            return r.min_labelled_days_after_estimated_drop
        return min(r.min_labelled_days_after_drift, self.training.holdout_days + 1)

    @property
    def experiment_name(self) -> str:
        return self.mlflow.experiment or self.name

    @property
    def model_name(self) -> str:
        return self.mlflow.registered_model or f"{self.name}-model"

    def tracking_uri(self) -> str:
        return self.mlflow.tracking_uri or f"sqlite:///{driftloop_home() / 'mlflow' / 'mlflow.db'}"

    def artifact_location(self) -> str:
        if self.mlflow.artifact_location:
            return self.mlflow.artifact_location
        uri = self.tracking_uri()
        if uri.startswith("sqlite:///"):
            return (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
        return f"{self.storage.root.rstrip('/')}/mlflow-artifacts"

    def gx_root(self) -> Path:
        return (
            Path(self.validation.gx_root)
            if self.validation.gx_root
            else project_root() / "great_expectations"
        )

    def data_docs_dir(self) -> Path:
        return Path(self.validation.data_docs_dir or driftloop_home() / "data_docs")


# ${NAME}, ${NAME:-default}; a default may itself hold ${OTHER} (one level), e.g.
# ${DRIFTLOOP_STORAGE_BASE:-${DRIFTLOOP_HOME}}: a deployment-wide base, else the local state folder.
_VAR = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-((?:[^${}]|\$(?!\{)|\$\{[A-Za-z_][A-Za-z0-9_]*\})*))?\}"
)


def _expand(value: Any) -> Any:
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name == HOME_ENV:
                return os.environ.get(name) or str(driftloop_home())
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return str(_expand(default))
            raise ConfigError(f"environment variable {name} is not set (used as ${{{name}}})")

        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    for key, raw in sorted(environ.items()):
        if not key.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p]
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = yaml.safe_load(raw) if raw != "" else ""
    return data


# Parts of a pydantic error location that name a union member or a validator, not a key.
_UNION_PART = re.compile(r"[\[\](]|^(function-|tagged-union|union|json-or-python|lax-|strict-)")
MAX_ERROR_LINES = 6
# A check across sections names its key itself ("gate.guards: ...").
_KEYED = re.compile(r"^([a-z_]+(?:\.[a-z_]+)+): (.*)$", re.DOTALL)


def _format_errors(err: ValidationError, source: str) -> str:
    """A few lines naming the keys: union members collapsed, list items of one key merged."""
    by_key: dict[str, list[str]] = {}
    for e in err.errors():
        parts = [str(p) for p in e["loc"] if not _UNION_PART.search(str(p))]
        # dataset.features.8.categories.0 -> dataset.features.8.categories (items merged below)
        if len(parts) > 1 and parts[-1].isdigit() and parts[-2] != "features":
            parts.pop()
        loc = ".".join(parts) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        keyed = _KEYED.match(msg) if not e["loc"] else None
        if keyed:  # a check across sections names its key itself ("gate.guards: ...")
            loc, msg = keyed.group(1), keyed.group(2)
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        elif e["type"] != "value_error" and not isinstance(e.get("input"), dict | list | None):
            msg += f" (got {e['input']!r})"
        msgs = by_key.setdefault(loc, [])
        if msg not in msgs:
            msgs.append(msg)
    lines = [f"invalid config {source}:"]
    for loc, msgs in by_key.items():
        # A value matching no member of a union yields one message per member: keep the first.
        extra = f" (and {len(msgs) - 1} more)" if len(msgs) > 1 else ""
        lines.append(f"  {loc}: {msgs[0]}{extra}")
    if len(lines) > MAX_ERROR_LINES + 1:
        hidden = len(lines) - 1 - MAX_ERROR_LINES
        lines = [*lines[: MAX_ERROR_LINES + 1], f"  ... and {hidden} more key(s)"]
    return "\n".join(lines)


def parse_config(
    data: dict[str, Any], source: str = "<dict>", environ: dict[str, str] | None = None
) -> PipelineConfig:
    """Validate a config mapping (after env overrides and ${VAR} expansion)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"invalid config {source}: top level must be a mapping, got {type(data).__name__}"
        )
    data = _apply_env(dict(data), dict(os.environ if environ is None else environ))
    data = _expand(data)
    data.setdefault("source", source)
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, source)) from None


def load_config(
    path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None
) -> PipelineConfig:
    """Load, override from the environment and validate a pipeline config file."""
    p = Path(path) if path else default_config_path()
    try:
        text = p.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read config {p}: {err.strerror or err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"config {p} is not valid YAML: {err}") from None
    return parse_config(data or {}, source=str(p), environ=environ)
