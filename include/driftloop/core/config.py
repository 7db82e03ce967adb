"""Pipeline configuration: one YAML file per pipeline, validated with pydantic.

A user brings their own dataset by writing one of these files, not by editing code. Only ``name``,
``dataset`` (columns, target, task, features) and ``storage`` are required; every other section
has defaults (the expectation suite is named after the pipeline and generated from the config). Any key can be overridden from the environment with ``DRIFTLOOP__`` and ``__`` between
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
from driftloop.core.modules import MODEL_REF, missing_module

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

    name: str = Field(description="the column's name in the delivered files")
    type: FeatureType = Field(
        description="numeric (a number, range-checked) or categorical (text, set-checked)"
    )
    min: float | None = Field(
        None, description="numeric only: smallest valid value (checked by validation)"
    )
    max: float | None = Field(
        None, description="numeric only: largest valid value (checked by validation)"
    )
    # Numbers are accepted as written in YAML (``categories: [1, 2, 3]``) and kept as strings: the
    # CSV is read as text, so data and config compare as strings everywhere.
    categories: list[str] | None = Field(
        None,
        description="categorical only: the allowed values (numbers as written, compared as text); "
        "default: any value",
    )
    nullable: bool = Field(
        True,
        description="missing values allowed (up to validation.max_null_fraction); false: none",
    )
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

    id_column: str = Field(description="unique id of an event; labels join on it")
    timestamp_column: str = Field(
        description="event time (ISO 8601; without an offset it is UTC); decides the partition"
    )
    target: str = Field(description="the label column, delivered in the labels files only")
    task: Task = Field("binary", description="binary | multiclass | regression")
    positive_label: int = Field(1, description="binary only: the target value that is positive")
    # Multiclass labels are categories, kept as strings everywhere (labels, model, predictions);
    # numbers are accepted as written (``[0, 1, 2]`` matches a label delivered as ``0``).
    classes: list[str] | None = Field(
        None,
        description="multiclass only: the label set (default: the labels of the training window)",
    )
    features: list[Feature] = Field(
        min_length=1, description="the model's inputs, each with its checks"
    )
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

    root: str = Field(
        description="the pipeline's storage root: a folder or s3://bucket/prefix (${VAR} expanded); "
        "one per pipeline"
    )
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
    """Great Expectations settings and the row-count/null bounds of the suite derived from the config."""

    suite: str = Field(
        description="name of the expectation suite (and checkpoint) in the GX project; default: "
        "<pipeline name>_batch",
    )
    gx_root: str | None = Field(
        None, description="GX project folder; default: repo great_expectations/"
    )
    data_docs_dir: str | None = Field(None, description="default: $DRIFTLOOP_HOME/data_docs")
    min_rows: int = Field(100, ge=1, description="fewest rows a day may have; fewer quarantines it")
    max_rows: int = Field(
        1_000_000,
        ge=1,
        description="most rows a day may have; more quarantines it (a runaway feed)",
    )
    max_null_fraction: float = Field(
        0.05, ge=0, le=1, description="largest share of empty values a nullable feature may have"
    )
    # Events whose timestamp lies outside their partition's UTC day by more than the tolerance:
    # "quarantine" the whole day (the safe default: a file of the wrong day, or a clock years off,
    # must not train a model), or "warn" (kept, counted in the result, logged as a warning).
    out_of_partition: Literal["quarantine", "warn"] = Field(
        "quarantine",
        description="events outside their day's UTC bounds (beyond partition_tolerance_hours): "
        "quarantine the day, or warn and keep them (counted in the result)",
    )
    partition_tolerance_hours: float = Field(
        1.0,
        ge=0,
        le=24 * 366,
        description="how far (hours) an event may lie before or after its partition's UTC day",
    )
    # Label rows whose id was never delivered as an event: "quarantine" them (kept in
    # quarantine/labels_unknown_ids/, the rest of the file ingested), or "warn" (kept, counted).
    unknown_label_ids: Literal["quarantine", "warn"] = Field(
        "quarantine",
        description="label rows whose id was never delivered as an event: quarantine those rows "
        "(quarantine/labels_unknown_ids/), or warn and keep them",
    )
    # Tolerance of the per-row range/category expectations: the share of rows that must satisfy
    # them (GX ``mostly``); a feature's own ``mostly`` wins. Rows within the tolerance are kept.
    mostly: float = Field(
        1.0,
        gt=0,
        le=1,
        description="share of rows that must satisfy each range/category expectation (GX mostly); "
        "a feature's own mostly wins",
    )
    # What an expectation failing on some rows costs: the whole day ("quarantine_partition"), or
    # only those rows ("quarantine_rows": they go to quarantine/rows/ with the failed
    # expectations named per row, the rest is validated and published). Schema, row count,
    # uniqueness and null-share failures always quarantine the whole partition.
    bad_rows: Literal["quarantine_partition", "quarantine_rows"] = Field(
        "quarantine_partition",
        description="what rows failing an expectation cost: the whole day, or only those rows "
        "(quarantine/rows/, the rest validated)",
    )
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
    LIGHTGBM = "lightgbm"  # native categoricals, early stopping on the training part's last days
    XGBOOST = "xgboost"  # idem


class Search(_Strict):
    """Hyperparameter search of a training (off unless ``training.search`` is given)."""

    method: Literal["random", "halving"] = Field(
        "random",
        description="random: RandomizedSearchCV; halving: HalvingRandomSearchCV (scikit-learn)",
    )
    n_trials: int = Field(10, ge=1, description="candidates drawn from the distributions")
    time_budget_seconds: float = Field(
        600, gt=0, description="no new trial starts after this; the best so far is refitted"
    )
    cv_splits: int = Field(3, ge=2, description="time-ordered folds of the training part, by day")
    params: dict[str, Any] = Field(
        min_length=1,
        description="per hyperparameter: a list of values, or {low, high[, log: true]} "
        "(integers if both bounds are integers)",
    )

    @field_validator("params")
    @classmethod
    def _distributions(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name, spec in v.items():
            if isinstance(spec, list) and spec:
                continue
            ok = isinstance(spec, dict) and {"low", "high"} <= set(spec) <= {"low", "high", "log"}
            if not ok or not spec["low"] < spec["high"]:
                raise ValueError(
                    f"{name}: give a non-empty list of values or {{low, high[, log]}} with low < high"
                )
        return v


class Training(_Strict):
    window_days: int = Field(21, ge=2, description="labelled days a training window spans")
    holdout_days: int = Field(
        3, ge=1, description="newest labelled days of the window held out for the gate's metrics"
    )
    algorithm: Algorithm = Field(
        Algorithm.GRADIENT_BOOSTING,
        description="built-in model family (used when training.model is not set)",
    )
    model: str | None = Field(
        None,
        description='your own model: "package.module:function" returning an unfitted '
        "scikit-learn estimator (see docs/models.md); wins over algorithm",
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description="types your model holds that the project does not trust by default (skops "
        'names, e.g. "lightgbm.sklearn.LGBMClassifier"), reviewed here',
    )
    hyperparameters: dict[str, Any] = Field(
        default_factory=dict,
        description="hyperparameters over the family's defaults (or handed to training.model)",
    )
    search: Search | None = Field(
        None, description="a bounded hyperparameter search before the fit (off when unset)"
    )
    min_train_rows: int = Field(
        500, ge=1, description="fewest labelled rows to train on (after the holdout)"
    )
    random_state: int = Field(0, description="seed of the model and of the search")

    @field_validator("model")
    @classmethod
    def _model_ref(cls, v: str | None) -> str | None:
        if v is not None and not MODEL_REF.match(v):
            raise ValueError(f'{v!r} is not "package.module:function"')
        return v

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

    primary_metric: str = Field(
        _BINARY_PRIMARY,
        description="the metric the gate compares, from the task's metric table",
    )
    min_improvement: float = Field(
        0.005,
        ge=0,
        description="how much the challenger must improve the primary metric over the champion on "
        "the same holdout, in the metric's direction",
    )
    floor: float | None = Field(
        0.6, description="worst acceptable primary metric (a ceiling if lower is better)"
    )
    # metric -> allowed regression, in the metric's own direction.
    guards: dict[str, float] = Field(
        default_factory=lambda: dict(_BINARY_GUARDS),
        description="metric -> how far it may worsen (in its own direction) for a promotion",
    )
    auto_promote: bool = Field(
        True,
        description="promote a challenger that passes the gate at once (false: ask for approval "
        "in Airflow)",
    )
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


_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
# Defaults by the metric's scale: an absolute step for a metric bounded to [0, 1], a share of the
# holdout value for one in the data's units (a fixed step would be noise for one dataset and a
# collapse for another: 0.05 of an rmse of 1,000 retrains on a 0.005% rise).
DEFAULT_BOUNDED_TOLERANCE = 0.05
DEFAULT_RELATIVE_TOLERANCE = "5%"


def default_tolerance(task: str, metric: str) -> float | str:
    """The tolerance of ``metric`` when the config sets none (see :data:`DEFAULT_RELATIVE_TOLERANCE`)."""
    spec = metric_table(task).spec(metric)
    bounded = spec.low is not None and spec.high is not None
    return DEFAULT_BOUNDED_TOLERANCE if bounded else DEFAULT_RELATIVE_TOLERANCE


def resolve_tolerance(
    form: float | str | None, task: str, metric: str, holdout: float | None
) -> float | None:
    """A tolerance (a number, ``"N%"`` or None for the default) in ``metric``'s units; None for a
    share without a holdout value (there is nothing to worsen from)."""
    if form is None:
        form = default_tolerance(task, metric)
    if isinstance(form, str):
        match = _PERCENT.match(form)
        if match is None:
            raise ValueError(f"{form!r} is not a tolerance")
        if holdout is None:
            return None
        return float(match.group(1)) / 100 * abs(holdout)
    return float(form)


def check_tolerance(form: float | str | None, task: str, metric: str) -> str | None:
    """Why ``form`` cannot be a tolerance of ``metric`` (None: it can).

    A share needs a metric whose value is a scale (r2 or anything that can be negative is not:
    5% of an r2 near 0 is nothing); a number must be smaller than the metric's range, or no
    worsening could ever exceed it.
    """
    spec = metric_table(task).spec(metric)
    if isinstance(form, str):
        if spec.low is None or spec.low < 0:
            return (
                f"a share of the holdout value does not fit {metric} (its values are not a "
                "scale): give a number in its units"
            )
        return None
    bounded = spec.low is not None and spec.high is not None
    if form is not None and bounded and form >= spec.high - spec.low:  # type: ignore[operator]
        return (
            f"{form:g} is not smaller than the range of {metric} {spec.describe_range()}: "
            "no worsening could exceed it"
        )
    return None


class Drift(_Strict):
    """Drift thresholds; defaults are effect sizes, safe at any sample size."""

    window_days: int = Field(3, ge=1, description="days of current data compared each check")
    bins: int = Field(10, ge=2, description="quantile bins of a numeric feature's profile")
    min_samples: int = Field(
        500,
        ge=1,
        description="fewest current rows before drift is judged (else: insufficient data)",
    )
    psi_threshold: float = Field(
        0.2, gt=0, description="population stability index above which a feature drifted"
    )
    js_threshold: float = Field(
        0.1, gt=0, le=1, description="Jensen-Shannon distance above which a feature drifted"
    )
    wasserstein_threshold: float = Field(
        0.15,
        gt=0,
        description="Wasserstein distance, in reference standard deviations, above which a numeric "
        "feature drifted",
    )
    drift_share: float = Field(0.3, gt=0, le=1, description="share of drifted features to alarm")
    prediction_psi_threshold: float = Field(
        0.2,
        gt=0,
        description="population stability index of the model's output above which it drifted",
    )
    performance_window_days: int = Field(
        7, ge=1, description="labelled days the live metric is computed over"
    )
    performance_tolerance: float | str | None = Field(
        None,
        description="allowed worsening of the primary metric (in its direction) before it is "
        "decay: a number in the metric's units (absolute, e.g. 0.05 of roc_auc or 2.0 minutes of "
        "rmse), or a share of the champion's holdout value ('5%'); default: 0.05 for a metric "
        "bounded to [0, 1] (roc_auc, f1, accuracy, brier), '5%' for one whose scale is the data's "
        "(rmse, mae, mape, log_loss). The daily report states it in the metric's units",
    )
    min_labelled_samples: int = Field(
        500, ge=1, description="fewest labelled rows before the live metric is judged"
    )
    estimated_tolerance: float | str | None = Field(
        None,
        description="allowed worsening of the primary metric as estimated without labels (CBPE / "
        "direct loss estimation) before it is a signal, in the same forms; default: "
        "performance_tolerance",
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

    @field_validator("performance_tolerance", "estimated_tolerance", mode="before")
    @classmethod
    def _tolerance_form(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and _PERCENT.match(value)):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
        raise ValueError(
            f"{value!r} is not a tolerance: a number >= 0 in the metric's units, or a share of "
            "the holdout value such as '5%'"
        )

    @property
    def estimated_tolerance_value(self) -> float | str | None:
        """``estimated_tolerance`` as configured, or ``performance_tolerance`` when unset."""
        if self.estimated_tolerance is None:
            return self.performance_tolerance
        return self.estimated_tolerance

    def tolerance(
        self, task: str, metric: str, holdout: float | None, *, estimated: bool = False
    ) -> float | None:
        """The allowed worsening of ``metric`` in its own units, for a champion whose holdout
        value is ``holdout`` (the realised tolerance, or with ``estimated`` the estimated one).

        None: a share of a holdout value that is unknown (no worsening can be measured then).
        """
        form = self.estimated_tolerance_value if estimated else self.performance_tolerance
        return resolve_tolerance(form, task, metric, holdout)

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
    """Where runs, models and the registry live, and how MLflow is called."""

    tracking_uri: str | None = Field(None, description="default: sqlite store in DRIFTLOOP_HOME")
    experiment: str | None = Field(None, description="experiment of the runs; default: the name")
    registered_model: str | None = Field(
        None, description="registered model of the champion; default: <name>-model"
    )
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

    mode: Literal["local", "kubernetes"] = Field(
        "local",
        description="local: train and score in the Airflow worker; kubernetes: in a pod each "
        "(KubernetesPodOperator running driftloop <stage>)",
    )
    image: str = Field("driftloop:latest", description="kubernetes: the pods' image")
    namespace: str = Field("default", description="kubernetes: the pods' namespace")
    config_map: str = Field("driftloop-env", description="ConfigMap with DRIFTLOOP__* settings")
    secret: str = Field("driftloop-secrets", description="Secret with credentials (optional)")
    cpu: str = Field("1", description="kubernetes: CPU request of a pod")
    memory: str = Field("2Gi", description="kubernetes: memory request of a pod")


class Arrival(_Strict):
    """How ingest learns that a partition has landed.

    ``sensor`` (the default and the fallback): ingest runs on ``schedule.interval`` and a deferrable
    sensor waits in the triggerer for ``landing/<day>/features.csv``. ``queue``: ingest is scheduled
    on the pipeline's ``landed`` asset, whose ``AssetWatcher`` listens on a message queue; each
    message names the landed day or object key (an S3 object-created notification, a key, a day) and
    starts ingest of that partition at once, with no polling of the store.
    """

    mode: Literal["sensor", "queue"] = Field(
        "sensor",
        description="sensor: ingest runs on schedule.interval and waits for the landing file; "
        "queue: ingest runs when a message on the queue names a landed day",
    )
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
    """One pipeline: its data, where it is stored, and every rule of its loop."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_-]*$",
        description="the pipeline's name: prefix of its DAG ids (<name>__<stage>), assets and "
        "defaults (experiment, registered model)",
    )
    dataset: Dataset
    storage: Storage
    validation: Validation = Field(
        description="Great Expectations settings; optional: every key has a default"
    )
    training: Training = Training()
    gate: Gate = Gate()
    drift: Drift = Drift()
    retrain: Retrain = Retrain()
    mlflow: Mlflow = Mlflow()
    execution: Execution = Execution()
    schedule: Schedule = Schedule()
    arrival: Arrival = Arrival()
    alerts: Alerts = Field(Alerts(), description="who is told what, through which channels")
    source: str | None = Field(
        None, description="file the config was loaded from (set when loading; not written by hand)"
    )

    @model_validator(mode="before")
    @classmethod
    def _named_defaults(cls, data: Any) -> Any:
        # Defaults that depend on the pipeline's name: the suite is <name>_batch (the name the
        # committed suites of the examples already have), so a config may leave validation out.
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return data
        validation = data.get("validation")
        if validation is None:
            validation = {}
        if not isinstance(validation, dict) or "suite" in validation:
            return data
        return {**data, "validation": {**validation, "suite": f"{data['name']}_batch"}}

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
        if self.training.model is not None:
            missing = missing_module(self.training.model, self.source)
            if missing:
                raise ValueError(f"training.model: {self.training.model!r}: {missing}")
        for key in ("performance_tolerance", "estimated_tolerance"):
            problem = check_tolerance(
                getattr(self.drift, key), self.dataset.task, self.gate.primary_metric
            )
            if problem:
                raise ValueError(f"drift.{key}: {problem}")
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
