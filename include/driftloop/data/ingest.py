"""Ingestion of one landed partition: parse, type, validate, and publish or quarantine.

``landing/<D>/features.csv`` is parsed against the dataset schema of the config into
``raw/date=<D>/part-0.parquet`` (typed, byte-identical for identical input), validated with Great
Expectations, and published as ``validated/date=<D>/``; anything wrong goes to
``quarantine/date=<D>/`` with the original bytes and a human-readable ``reason.json``. Labels
delivered in the same landing folder (``labels_<L>.csv``) go to ``labels/date=<L>/`` or
``quarantine/labels/date=<L>/``. Labels whose id was never delivered as an event (not among the ids of
``validated/date=<L>/``) are not accepted: those rows are kept in
``quarantine/labels_unknown_ids/date=<L>/`` with a reason and a count, the known-id rows of the same
file are ingested, and the count is reported (result and a WARNING line). When the label day has no
validated features (not landed, or quarantined), the ids cannot be checked and the file is ingested
whole, as before; the result says ``ids_checked: false``. A delivery holding labels but no
``features.csv`` is ingested by ``ingest_labels_only``. With ``validation.unknown_label_ids: warn``
the unknown-id rows are kept in ``labels/`` instead, counted in the result and logged as a warning.

Events timestamped outside their partition's UTC day (beyond ``validation.partition_tolerance_hours``)
quarantine the day, or with ``validation.out_of_partition: warn`` are accepted and counted
(``out_of_partition_rows``, ``warnings``). Nothing is dropped silently, and every step replaces its
partition whole, so reruns and backfills are idempotent.

Bad data is a result, not an exception: ``ingest_partition`` returns a quarantined
``IngestResult``. Callers that must fail loudly (the Airflow task, the CLI) raise
``DataQuarantined`` or exit non-zero themselves.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from driftloop.core.config import FeatureType, PipelineConfig
from driftloop.core.errors import EXIT_NOTHING_TO_DO, EXIT_QUARANTINED, DriftloopError
from driftloop.core.partition import Zone
from driftloop.core.storage import (
    LABELS,
    QUARANTINE,
    RAW,
    VALIDATED,
    Store,
    as_date,
    landing_prefix,
    open_store,
    parquet_bytes,
)

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

FEATURES_FILE = "features.csv"
PART = "part-0.parquet"
REASON = "reason.json"
GX_RESULT = "validation_result.json"
LABELS_QUARANTINE = Zone.LABELS_QUARANTINE
# Rows of an otherwise valid labels file whose id is not in the validated features of the label day.
UNKNOWN_IDS_QUARANTINE = Zone.LABELS_UNKNOWN_IDS
UNKNOWN_IDS_FILE = "unknown_ids.csv"
SAMPLE_SIZE = 5
_LABELS_FILE = re.compile(r"^labels_(\d{4}-\d{2}-\d{2})\.csv$")
# Files of a delivery whose name is not labels_<valid date>.csv but that look like labels land here,
# per delivery day (the label date is unknown), each with its original name.
BAD_LABEL_NAMES_QUARANTINE = Zone.LABELS_BAD_NAME


class LandingMissing(DriftloopError, FileNotFoundError):
    """``landing/<D>/features.csv`` has not arrived (yet)."""

    exit_code = EXIT_NOTHING_TO_DO


class DataQuarantined(DriftloopError):
    """Raised by callers that must fail after a partition was quarantined; the message says why."""

    exit_code = EXIT_QUARANTINED


class StructuralError(ValueError):
    """A CSV that cannot be read as the declared table (bad CSV, missing columns, bad types)."""


@dataclass(frozen=True)
class LabelsResult:
    """The outcome of one delivered labels file."""

    label_date: str  # the file's name instead when the name carries no valid date
    status: Literal["ingested", "quarantined"]
    uri: str
    rows: int
    message: str
    unknown_ids: int = 0  # rows refused because their id was never delivered as an event
    unknown_ids_uri: str | None = None  # where those rows are kept
    ids_checked: bool = False  # False: the label day had no validated features to check against
    # True: unknown-id rows were kept in labels/ (validation.unknown_label_ids: warn)
    unknown_ids_kept: bool = False


@dataclass(frozen=True)
class IngestResult:
    """The outcome of ingesting one partition; small and JSON-friendly (it travels in XCom)."""

    # labels_only: the delivery held labels but no features.csv (see ``ingest_labels_only``)
    status: Literal["validated", "quarantined", "labels_only"]
    partition: str
    uri: str
    rows: int
    message: str
    stage: Literal["ingest", "validation"] | None = None
    raw_uri: str | None = None
    quarantine_uri: str | None = None
    docs_url: str | None = None
    labels: list[LabelsResult] = field(default_factory=list)
    # Events timestamped outside the partition day (quarantined, or accepted with a warning).
    out_of_partition_rows: int = 0
    warnings: list[str] = field(default_factory=list)  # accepted with a warning, one line each

    @property
    def labels_ingested(self) -> list[str]:
        """Label dates written to ``labels/`` by this run."""
        return [lr.label_date for lr in self.labels if lr.status == "ingested"]

    @property
    def labels_unknown_ids(self) -> int:
        """Label rows whose id was never delivered (quarantined, or kept with a warning)."""
        return sum(lr.unknown_ids for lr in self.labels)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "labels_ingested": self.labels_ingested,
            "labels_unknown_ids": self.labels_unknown_ids,
        }


# -- parsing ---------------------------------------------------------------------------------------
def _read_csv_strings(data: bytes) -> pd.DataFrame:
    """Every column as nullable strings; strict about shape (a short or long row is an error)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not data.strip():
        raise StructuralError("the file is empty (no header, no rows)")
    header = data.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        names = pacsv.read_csv(io.BytesIO(header + b"\n")).column_names
    except pa.ArrowInvalid as err:
        raise StructuralError(f"unreadable CSV header: {err}") from None
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise StructuralError(f"duplicate column names in the header: {dupes}")
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as err:
        raise StructuralError(f"malformed CSV: {err}") from None
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype(na_value=float("nan"))}.get)


def _coerce(name: str, col: pd.Series, kind: str) -> pd.Series:
    """Convert a string column; any non-null value that does not convert is a structural error."""
    import pandas as pd

    if kind == "numeric":
        out = pd.to_numeric(col, errors="coerce").astype("float64")
    elif kind == "timestamp":
        out = pd.to_datetime(col, errors="coerce", utc=True, format="ISO8601").dt.as_unit("us")
    else:
        return col.astype("str")
    bad = col.notna() & out.isna()
    if bad.any():
        sample = col[bad].drop_duplicates().head(SAMPLE_SIZE).tolist()
        raise StructuralError(
            f"column {name!r}: {int(bad.sum())} of {len(col)} values are not {kind}, e.g. {sample}"
        )
    return out


def parse_features(cfg: PipelineConfig, data: bytes) -> pd.DataFrame:
    """Parse a delivered features CSV into the typed frame of the dataset schema.

    id and categorical columns become strings, the timestamp UTC timestamps, numeric features
    float64. Columns the schema does not know are kept (as strings) so validation can flag the
    schema change instead of ingestion hiding it. Raises ``StructuralError``.
    """
    ds = cfg.dataset
    df = _read_csv_strings(data)
    expected = [ds.id_column, ds.timestamp_column, *ds.feature_names]
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise StructuralError(f"missing columns: {missing}")
    if ds.target in df.columns:
        raise StructuralError(
            f"the target column {ds.target!r} must not be delivered with features"
        )
    kinds = {ds.id_column: "string", ds.timestamp_column: "timestamp"}
    kinds |= {f.name: "numeric" if f.type is FeatureType.NUMERIC else "string" for f in ds.features}
    extra = [c for c in df.columns if c not in kinds]
    typed = {c: _coerce(c, df[c], kinds[c]) for c in expected}
    typed |= {c: df[c].astype("str") for c in extra}
    import pandas as pd

    return pd.DataFrame(typed, columns=[*expected, *extra])


def parse_labels(cfg: PipelineConfig, data: bytes) -> pd.DataFrame:
    """Parse a labels CSV (id, target) into strings and the task's target type.

    binary: int64 0/1; multiclass: strings (the class names as written); regression: float64.
    Raises ``StructuralError``.
    """
    ds = cfg.dataset
    df = _read_csv_strings(data)
    missing = [c for c in (ds.id_column, ds.target) if c not in df.columns]
    if missing:
        raise StructuralError(f"missing columns: {missing}")
    extra = [c for c in df.columns if c not in (ds.id_column, ds.target)]
    if extra:
        raise StructuralError(f"unexpected columns: {extra}")
    if ds.task == "multiclass":
        target = df[ds.target].astype("string").str.strip().replace("", None)
    else:
        target = _coerce(ds.target, df[ds.target], "numeric")
    problems = check_labels(df[ds.id_column], target, ds.task, ds.classes)
    if problems:
        raise StructuralError("; ".join(problems))
    import pandas as pd

    dtype = {"binary": "int64", "multiclass": "str", "regression": "float64"}[ds.task]
    return pd.DataFrame(
        {ds.id_column: df[ds.id_column].astype("str"), ds.target: target.astype(dtype)}
    )


def check_labels(
    ids: pd.Series,
    target: pd.Series,
    task: str = "binary",
    classes: list[str] | None = None,
) -> list[str]:
    """Explicit label checks: no null ids or targets, unique ids, some rows, and a target of the
    task: in {0, 1} (binary), in ``classes`` when configured (multiclass), finite (regression)."""
    problems = []
    if len(ids) == 0:
        problems.append("no label rows")
    if ids.isna().any():
        problems.append(f"{int(ids.isna().sum())} null ids")
    if target.isna().any():
        problems.append(f"{int(target.isna().sum())} null targets")
    if task == "binary":
        bad, allowed = target.notna() & ~target.isin([0, 1]), "not in {0, 1}"
    elif task == "regression":
        bad, allowed = target.notna() & ~target.abs().lt(float("inf")), "not finite"
    else:  # multiclass: any label is a class unless the config lists them
        bad, allowed = target.notna() & ~target.isin(classes or target), f"not in {classes}"
    if bad.any():
        sample = target[bad].drop_duplicates().head(SAMPLE_SIZE).tolist()
        problems.append(f"{int(bad.sum())} targets {allowed}, e.g. {sample}")
    dupes = ids[ids.duplicated(keep=False) & ids.notna()]
    if len(dupes):
        sample = dupes.drop_duplicates().head(SAMPLE_SIZE).tolist()
        problems.append(f"{dupes.nunique()} duplicated ids, e.g. {sample}")
    return problems


# -- quarantine ------------------------------------------------------------------------------------
def _quarantine(
    store: Store,
    zone: Zone,
    day: date,
    *,
    original_name: str,
    original: bytes,
    stage: str,
    message: str,
    details: dict[str, Any] | None = None,
    gx_result: dict[str, Any] | None = None,
    extra_files: dict[str, bytes] | None = None,
) -> str:
    reason = {
        "partition": day.isoformat(),
        "stage": stage,
        "summary": message,
        "original": original_name,
        **(details or {}),
    }
    files = {
        original_name: original,
        REASON: (json.dumps(reason, indent=2, sort_keys=True, default=str) + "\n").encode(),
    }
    files |= extra_files or {}
    if gx_result is not None:
        files[GX_RESULT] = json.dumps(gx_result, indent=2, sort_keys=True, default=str).encode()
    return store.write_partition(zone, day, files)


# -- the stage -------------------------------------------------------------------------------------
def ingest_partition(
    cfg: PipelineConfig,
    day: str | date,
    store: Store | None = None,
    *,
    labels_only: bool = False,
) -> IngestResult:
    """Ingest ``landing/<day>/``: features to raw + validated (or quarantine), then its labels.

    Raises ``LandingMissing`` if ``features.csv`` has not arrived; bad data never raises. With
    ``labels_only``, a delivery holding labels files but no ``features.csv`` is ingested instead
    (see ``ingest_labels_only``); ``LandingMissing`` then means nothing landed at all.
    """
    from driftloop.data import validation

    day = as_date(day)
    store = store or open_store(cfg.storage)
    key = f"{landing_prefix(day)}/{FEATURES_FILE}"
    if not store.exists(key):
        if labels_only:
            return ingest_labels_only(cfg, day, store)
        raise LandingMissing(f"{store.uri(key)} has not arrived")
    # A suite that does not match the effective config is a usage error (exit 2), refused before
    # anything is written: validating with it would ignore those settings silently.
    validation.committed_suite(cfg)
    original = store.read_bytes(key)
    result = _ingest_features(cfg, store, day, original)
    labels = ingest_labels(cfg, day, store)
    result = IngestResult(**{**asdict(result), "labels": labels})
    if result.status == "validated":
        log.info("%s -> %s (%d rows)", result.message, result.uri, result.rows)
    else:
        log.warning("%s (quarantine: %s)", result.message, result.uri)
    return result


def ingest_labels_only(
    cfg: PipelineConfig, day: str | date, store: Store | None = None
) -> IngestResult:
    """Ingest the labels files of a delivery that has no ``features.csv`` (a label-only delivery).

    Returns a result with status ``labels_only`` (rows 0, the labels outcomes in ``labels``). The
    features of ``day`` are still to come, so a caller mapping this to an exit code reports
    "nothing to do yet" (``EXIT_NOTHING_TO_DO``, 3) after printing the result, and a later run
    ingests the features (rerunning the labels is idempotent). Raises ``LandingMissing`` if the
    delivery holds no labels file either. If ``features.csv`` has arrived after all (e.g. between
    the caller's check and this call), the whole delivery is ingested by ``ingest_partition``.
    """
    day = as_date(day)
    store = store or open_store(cfg.storage)
    prefix = landing_prefix(day)
    if store.exists(f"{prefix}/{FEATURES_FILE}"):
        return ingest_partition(cfg, day, store)
    labels = ingest_labels(cfg, day, store)
    if not labels:
        raise LandingMissing(
            f"{store.uri(prefix)}: neither {FEATURES_FILE} nor labels have arrived"
        )
    ingested = sum(lr.status == "ingested" for lr in labels)
    message = (
        f"label-only delivery {day}: {FEATURES_FILE} has not arrived; {ingested} of "
        f"{len(labels)} labels file(s) ingested"
    )
    unknown = sum(lr.unknown_ids for lr in labels)
    if unknown:
        verdict = "kept" if cfg.validation.unknown_label_ids == "warn" else "quarantined"
        message += f", {unknown} label rows with unknown ids {verdict}"
    log.warning("%s", message)
    return IngestResult(
        "labels_only", day.isoformat(), store.uri(prefix), 0, message, "ingest", labels=labels
    )


def _ingest_features(cfg: PipelineConfig, store: Store, day: date, original: bytes) -> IngestResult:
    from driftloop.data import validation

    try:
        df = parse_features(cfg, original)
    except StructuralError as err:
        # The landing file does not describe a table of the schema: no raw or validated partition
        # may claim to hold it (a rerun with corrected data replaces them again).
        store.delete_partition(RAW, day)
        store.delete_partition(VALIDATED, day)
        message = f"ingest of {day} failed: {err}"
        uri = _quarantine(
            store,
            QUARANTINE,
            day,
            original_name=FEATURES_FILE,
            original=original,
            stage="ingest",
            message=message,
        )
        return IngestResult("quarantined", day.isoformat(), uri, 0, message, "ingest", None, uri)

    raw_uri = store.write_partition(RAW, day, {PART: parquet_bytes(df)})
    raw = store.read_table(RAW, day)  # validate exactly what downstream will read
    outcome = validation.validate_frame(cfg, raw, day)
    if outcome.success:
        uri = store.write_partition(VALIDATED, day, {PART: parquet_bytes(raw)})
        store.delete_partition(QUARANTINE, day)
        return IngestResult(
            "validated",
            day.isoformat(),
            uri,
            len(raw),
            f"partition {day} validated: {outcome.summary}",
            "validation",
            raw_uri,
            None,
            outcome.docs_url,
            out_of_partition_rows=outcome.out_of_partition_rows,
            warnings=[w.describe() for w in outcome.warnings],
        )
    store.delete_partition(VALIDATED, day)
    message = f"validation of {day} failed: {outcome.summary}"
    uri = _quarantine(
        store,
        QUARANTINE,
        day,
        original_name=FEATURES_FILE,
        original=original,
        stage="validation",
        message=message,
        details={
            "rows": outcome.rows,
            "suite": outcome.suite,
            "failed_expectations": [asdict(f) for f in outcome.failures],
            "warnings": [asdict(w) for w in outcome.warnings],
            "out_of_partition_rows": outcome.out_of_partition_rows,
            "data_docs": outcome.docs_url,
        },
        gx_result=outcome.result,
    )
    return IngestResult(
        "quarantined",
        day.isoformat(),
        uri,
        len(raw),
        message,
        "validation",
        raw_uri,
        uri,
        outcome.docs_url,
        out_of_partition_rows=outcome.out_of_partition_rows,
        warnings=[w.describe() for w in outcome.warnings],
    )


def ingest_labels(
    cfg: PipelineConfig, day: str | date, store: Store | None = None
) -> list[LabelsResult]:
    """Ingest every ``labels_<L>.csv`` delivered in ``landing/<day>/`` to ``labels/date=<L>/``."""
    day = as_date(day)
    store = store or open_store(cfg.storage)
    prefix = landing_prefix(day) + "/"
    results = []
    bad_names: dict[str, str] = {}  # file name -> why its name is refused
    for key in store.list(prefix):
        name = key[len(prefix) :]
        label_day, problem = _label_date(name)
        if problem:
            bad_names[name] = problem
            continue
        if label_day is None:
            continue  # not a labels file (features.csv, ...)
        original = store.read_bytes(key)
        try:
            df = parse_labels(cfg, original)
        except StructuralError as err:
            store.delete_partition(LABELS, label_day)
            message = f"labels of {label_day} (delivered {day}) rejected: {err}"
            uri = _quarantine(
                store,
                LABELS_QUARANTINE,
                label_day,
                original_name=name,
                original=original,
                stage="labels",
                message=message,
                details={"delivered": day.isoformat()},
            )
            results.append(LabelsResult(label_day.isoformat(), "quarantined", uri, 0, message))
            log.warning("%s (quarantine: %s)", message, uri)
            continue
        results.append(_publish_labels(cfg, store, day, label_day, name, original, df))
    if bad_names:
        results.extend(_quarantine_bad_names(store, day, prefix, bad_names))
    else:  # a redelivery with the names fixed replaces the earlier verdict
        store.delete_partition(BAD_LABEL_NAMES_QUARANTINE, day)
    return results


def _known_ids(cfg: PipelineConfig, store: Store, label_day: date) -> pd.Index | None:
    """The event ids of the label day's validated features; None if there are none to check."""
    if not store.partition_exists(VALIDATED, label_day):
        return None
    import pandas as pd

    ids = store.read_table(VALIDATED, label_day)[cfg.dataset.id_column]
    return pd.Index(ids.dropna().astype("str").unique())


def _publish_labels(
    cfg: PipelineConfig,
    store: Store,
    day: date,
    label_day: date,
    name: str,
    original: bytes,
    df: pd.DataFrame,
) -> LabelsResult:
    """Write the parsed labels of ``label_day``; rows with an id never delivered go to quarantine.

    Without validated features for ``label_day`` nothing can be checked: every row is written (the
    behaviour before the check existed) and the result says ``ids_checked=False``.
    """
    store.delete_partition(LABELS_QUARANTINE, label_day)
    id_col = cfg.dataset.id_column
    known = _known_ids(cfg, store, label_day)
    unknown_count, unknown_uri = 0, None
    if known is None:
        log.info(
            "labels of %s (delivered %s): no validated features of %s, ids not checked",
            label_day,
            day,
            label_day,
        )
        store.delete_partition(UNKNOWN_IDS_QUARANTINE, label_day)
    else:
        is_known = df[id_col].isin(known)
        unknown = df[~is_known]
        unknown_count = len(unknown)
        keep = cfg.validation.unknown_label_ids == "warn"
        if not keep:
            df = df[is_known].reset_index(drop=True)
        if unknown_count and keep:
            store.delete_partition(UNKNOWN_IDS_QUARANTINE, label_day)
            log.warning(
                "labels of %s (delivered %s): %d of %d rows have an id never delivered as an "
                "event, e.g. %s (kept: unknown_label_ids=warn)",
                label_day,
                day,
                unknown_count,
                len(df),
                unknown[id_col].head(SAMPLE_SIZE).tolist(),
            )
        elif unknown_count:
            message = (
                f"labels of {label_day} (delivered {day}): {unknown_count} of "
                f"{unknown_count + len(df)} rows have an id never delivered as an event"
            )
            unknown_uri = _quarantine(
                store,
                UNKNOWN_IDS_QUARANTINE,
                label_day,
                original_name=name,
                original=original,
                stage="labels",
                message=message,
                details={
                    "delivered": day.isoformat(),
                    "unknown_ids": unknown_count,
                    "rows": unknown_count + len(df),
                    "sample": unknown[id_col].head(SAMPLE_SIZE).tolist(),
                    "rows_file": UNKNOWN_IDS_FILE,
                },
                extra_files={
                    UNKNOWN_IDS_FILE: unknown.to_csv(index=False, lineterminator="\n").encode()
                },
            )
            log.warning("%s (quarantine: %s)", message, unknown_uri)
        else:  # a redelivery without unknown ids replaces the earlier verdict
            store.delete_partition(UNKNOWN_IDS_QUARANTINE, label_day)
    checked = known is not None
    if df.empty:  # every id unknown: nothing to publish
        store.delete_partition(LABELS, label_day)
        message = f"labels of {label_day} (delivered {day}) rejected: no row has a delivered id"
        return LabelsResult(
            label_day.isoformat(),
            "quarantined",
            unknown_uri or "",
            0,
            message,
            unknown_count,
            unknown_uri,
            checked,
        )
    uri = store.write_partition(LABELS, label_day, {PART: parquet_bytes(df)})
    log.info("labels of %s (delivered %s): %d rows -> %s", label_day, day, len(df), uri)
    message = f"{len(df)} labels of {label_day}"
    kept = unknown_count > 0 and cfg.validation.unknown_label_ids == "warn"
    if unknown_count:
        message += f" ({unknown_count} with unknown ids {'kept' if kept else 'quarantined'})"
    return LabelsResult(
        label_day.isoformat(),
        "ingested",
        uri,
        len(df),
        message,
        unknown_count,
        unknown_uri,
        checked,
        kept,
    )


def _label_date(name: str) -> tuple[date | None, str | None]:
    """(label date, None) for ``labels_<date>.csv``; (None, why) for a labels file with a bad name;
    (None, None) for any other file.

    ``name`` is relative to the delivery folder; an object store can deliver one with separators or
    ``..`` in it (``labels_../../x.csv``), which is a bad name, never a path to follow.
    """
    base = re.split(r"[/\\]", name)[-1]
    if not (name.lower().startswith("labels") or base.lower().startswith("labels")):
        return None, None
    if base != name:
        return (
            None,
            f"the name {name!r} has a path in it (labels files lie directly in the delivery)",
        )
    m = _LABELS_FILE.match(name)
    if not m:
        return None, f"the name {name!r} is not labels_<YYYY-MM-DD>.csv"
    try:
        return date.fromisoformat(m.group(1)), None
    except ValueError as err:
        return None, f"the name {name!r} has no valid label date ({err})"


def _quarantine_bad_names(
    store: Store, day: date, prefix: str, bad_names: dict[str, str]
) -> list[LabelsResult]:
    """Keep every badly named labels file of the delivery, with the reasons, in one partition.

    Each is stored under a name without path separators or a leading dot (``stored_as`` in the
    reason maps the delivered name to it), so no name can write outside the partition or hide.
    """
    stored_as: dict[str, str] = {}
    for name in sorted(bad_names):
        safe = re.sub(r"[/\\]", "_", name)
        safe = "_" + safe if safe.startswith(".") else safe
        while safe in stored_as.values() or safe in (REASON, "_SUCCESS"):
            safe = "_" + safe
        stored_as[name] = safe
    files = {stored_as[name]: store.read_bytes(prefix + name) for name in sorted(bad_names)}
    reason = {
        "partition": day.isoformat(),
        "stage": "labels",
        "summary": f"{len(files)} labels file(s) delivered {day} with a name that has no label date",
        "files": dict(sorted(bad_names.items())),
        "stored_as": stored_as,
    }
    files[REASON] = (json.dumps(reason, indent=2, sort_keys=True) + "\n").encode()
    uri = store.write_partition(BAD_LABEL_NAMES_QUARANTINE, day, files)
    results = []
    for name, problem in sorted(bad_names.items()):
        message = f"labels file {name} (delivered {day}) rejected: {problem}"
        log.warning("%s (quarantine: %s)", message, uri)
        results.append(LabelsResult(name, "quarantined", uri, 0, message))
    return results
