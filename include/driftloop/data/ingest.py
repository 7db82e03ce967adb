"""Ingestion of one landed partition: parse, type, validate, and publish or quarantine.

``landing/<D>/features.csv`` (or ``features.parquet``: its column types checked against the
config, never both in one delivery) is parsed against the dataset schema of the config into
``raw/date=<D>/part-0.parquet`` (typed, byte-identical for identical input), validated with Great
Expectations, and published as ``validated/date=<D>/``; anything wrong goes to
``quarantine/date=<D>/`` with the original bytes and a human-readable ``reason.json``. Labels
delivered in the same landing folder (``labels_<L>.csv`` or ``.parquet``) go to ``labels/date=<L>/`` or
``quarantine/labels/date=<L>/``. Labels whose id was never delivered as an event (not among the ids of
``validated/date=<L>/``) are not accepted: those rows are kept in
``quarantine/labels_unknown_ids/date=<L>/`` with a reason and a count, the known-id rows of the same
file are ingested, and the count is reported (result and a WARNING line). When the label day has no
validated features (not landed, or quarantined), the ids cannot be checked and the file is ingested
whole, as before; the result says ``ids_checked: false``. A delivery holding labels but no
``features.csv`` is ingested by ``ingest_labels_only``. With ``validation.unknown_label_ids: warn``
the unknown-id rows are kept in ``labels/`` instead, counted in the result and logged as a warning.

With ``validation.bad_rows: quarantine_rows``, a day whose only failures are per-row expectations
(ranges, categories, not-null) is split: the failing rows go to ``quarantine/rows/date=<D>/``
(``rows.csv`` with a ``_failed_expectations`` column, and ``reason.json``), the rest is validated
again and published; the split is counted (``quarantined_rows``) and logged. Schema, row count,
uniqueness or null-share failures, or more bad rows than ``validation.max_bad_row_fraction``,
still quarantine the whole day. Rows within a ``mostly`` tolerance are kept and counted
(``tolerated_rows``).

Events timestamped outside their partition's UTC day (beyond ``validation.partition_tolerance_hours``)
quarantine the day, or with ``validation.out_of_partition: warn`` are accepted and counted
(``out_of_partition_rows``, ``warnings``). Nothing is dropped silently, and every step replaces its
partition whole, so reruns and backfills are idempotent.

Memory is bounded by block and batch sizes, not by the day: the CSV is streamed in blocks
(``pyarrow.csv.open_csv``), a Parquet delivery read row group by row group in batches, into a local
typed Parquet file, GX validates that file batch by batch
(``validation.validate_parquet``), and partitions are written from files. A quarantined delivery is
copied as it came, byte for byte.

Bad data is a result, not an exception: ``ingest_partition`` returns a quarantined
``IngestResult``. Callers that must fail loudly (the Airflow task, the CLI) raise
``DataQuarantined`` or exit non-zero themselves.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from driftloop.core.config import FeatureType, PipelineConfig
from driftloop.core.errors import EXIT_NOTHING_TO_DO, EXIT_QUARANTINED, DriftloopError
from driftloop.core.partition import Zone
from driftloop.core.storage import (
    LABELS,
    LANDING_FEATURES,
    QUARANTINE,
    RAW,
    VALIDATED,
    Content,
    Store,
    as_date,
    landing_features_keys,
    landing_prefix,
    open_store,
    parquet_bytes,
)
from driftloop.data.labels import arrival_stats

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.data import validation

log = logging.getLogger(__name__)

FEATURES_FILE = LANDING_FEATURES["csv"]
FEATURES_PARQUET = LANDING_FEATURES["parquet"]
PART = "part-0.parquet"
REASON = "reason.json"
GX_RESULT = "validation_result.json"
LABELS_QUARANTINE = Zone.LABELS_QUARANTINE
# Rows of an otherwise valid labels file whose id is not in the validated features of the label day.
UNKNOWN_IDS_QUARANTINE = Zone.LABELS_UNKNOWN_IDS
UNKNOWN_IDS_FILE = "unknown_ids.csv"
SAMPLE_SIZE = 5
_LABELS_FILE = re.compile(r"^labels_(\d{4}-\d{2}-\d{2})\.(csv|parquet)$")
# Files of a delivery whose name is not labels_<valid date>.csv|.parquet but that look like labels
# land here,
# per delivery day (the label date is unknown), each with its original name.
BAD_LABEL_NAMES_QUARANTINE = Zone.LABELS_BAD_NAME
# Rows set apart by row-level quarantine (validation.bad_rows: quarantine_rows), per day.
ROWS_QUARANTINE = Zone.QUARANTINE_ROWS
ROWS_FILE = "rows.csv"


class LandingMissing(DriftloopError, FileNotFoundError):
    """``landing/<D>/features.csv`` (or ``features.parquet``) has not arrived (yet)."""

    exit_code = EXIT_NOTHING_TO_DO


class DataQuarantined(DriftloopError):
    """Raised by callers that must fail after a partition was quarantined; the message says why."""

    exit_code = EXIT_QUARANTINED


class StructuralError(ValueError):
    """A file that cannot be read as the declared table (bad CSV or Parquet, missing columns, bad
    types)."""


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
    # Row-level quarantine: rows set apart (validated partition holds the rest), and where.
    quarantined_rows: int = 0
    rows_quarantine_uri: str | None = None
    # Rows kept although they miss an expectation, within its ``mostly`` tolerance.
    tolerated_rows: int = 0

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
# Bytes of CSV parsed at a time when a landing file is streamed to Parquet (``write_raw_parquet``).
# Arrow's CSV reader holds some 30x its block size at its peak: 1 MiB blocks keep it near 40 MB.
CSV_BLOCK_BYTES = 1 << 20
# Typed rows gathered into one Parquet row group (blocks are far smaller than a good row group).
ROW_GROUP_ROWS = 128 * 1024
_HEAD_BYTES = 1 << 20


def _header_names(head: bytes, whole: bool) -> list[str]:
    """The column names of a CSV from its first bytes (``whole``: they are the whole file)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if whole and not head.strip():
        raise StructuralError("the file is empty (no header, no rows)")
    header = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        names = pacsv.read_csv(io.BytesIO(header + b"\n")).column_names
    except pa.ArrowInvalid as err:
        raise StructuralError(f"unreadable CSV header: {err}") from None
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise StructuralError(f"duplicate column names in the header: {dupes}")
    return names


def _string_options(names: list[str]) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""]
    )


def _to_strings_frame(table: Any) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa

    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype(na_value=float("nan"))}.get)


def _read_csv_strings(data: bytes) -> pd.DataFrame:
    """Every column as nullable strings; strict about shape (a short or long row is an error)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = _header_names(data[:_HEAD_BYTES], whole=len(data) <= _HEAD_BYTES)
    try:
        table = pacsv.read_csv(io.BytesIO(data), convert_options=_string_options(names))
    except pa.ArrowInvalid as err:
        raise StructuralError(f"malformed CSV: {err}") from None
    return _to_strings_frame(table)


def _iter_csv_strings(path: Path, block_size: int) -> Iterator[pd.DataFrame]:
    """``_read_csv_strings`` of a file, one block of about ``block_size`` bytes at a time (at least
    one frame: an empty one for a header-only file)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with path.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    names = _header_names(head, whole=path.stat().st_size <= _HEAD_BYTES)
    options = _string_options(names)
    try:
        reader = pacsv.open_csv(
            str(path),
            read_options=pacsv.ReadOptions(block_size=block_size, use_threads=False),
            convert_options=options,
        )
        schema, empty = reader.schema, True
        for batch in reader:
            empty = False
            yield _to_strings_frame(pa.Table.from_batches([batch]))
    except pa.ArrowInvalid as err:
        raise StructuralError(f"malformed CSV: {err}") from None
    if empty:
        yield _to_strings_frame(schema.empty_table())


# Rows per batch when a Parquet delivery is read (row group by row group, one batch at a time).
PARQUET_BATCH_ROWS = 64 * 1024
# The Arrow types a Parquet column may have, per kind of column (anything else is refused with the
# column's name and type: a Parquet file says what its columns are, so a wrong one is not guessed at).
_ARROW_KINDS: dict[str, tuple[str, ...]] = {
    "numeric": ("integer", "floating", "decimal"),
    "timestamp": ("timestamp", "date", "string"),  # strings: ISO 8601, parsed as in a CSV
    "string": ("string", "integer"),  # integer ids and category codes as written: 7 -> "7"
    "binary_label": ("integer", "floating", "decimal", "boolean"),
}


def _arrow_family(t: Any) -> str:
    import pyarrow as pa

    checks = {
        "integer": pa.types.is_integer,
        "floating": pa.types.is_floating,
        "decimal": pa.types.is_decimal,
        "boolean": pa.types.is_boolean,
        "timestamp": pa.types.is_timestamp,
        "date": pa.types.is_date,
        "string": lambda x: pa.types.is_string(x) or pa.types.is_large_string(x),
        "null": pa.types.is_null,
    }
    if pa.types.is_dictionary(t):
        t = t.value_type
    return next((name for name, check in checks.items() if check(t)), str(t))


def _check_arrow_types(schema: Any, kinds: dict[str, str]) -> None:
    """Refuse a Parquet schema whose columns of ``kinds`` have types that cannot hold them."""
    wrong = []
    for f in schema:
        kind = kinds.get(f.name)
        family = _arrow_family(f.type)
        if kind is not None and family != "null" and family not in _ARROW_KINDS[kind]:
            wanted = " or ".join(_ARROW_KINDS[kind])
            wrong.append(f"column {f.name!r} has Parquet type {f.type}, expected {wanted}")
    if wrong:
        raise StructuralError("; ".join(wrong))


def _arrow_column(col: Any, kind: str | None) -> Any:
    """One column of a Parquet batch in the form ``_typed`` parses: numbers as float64, timestamps
    as UTC (a zone-less timestamp is UTC, as in a CSV), string kinds as strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    family = _arrow_family(col.type)
    if kind in ("numeric", "binary_label"):
        return pc.cast(col, pa.float64())
    if kind == "timestamp" and family in ("timestamp", "date"):
        return pc.cast(col, pa.timestamp("us", tz="UTC"), safe=False)
    if kind is not None and family != "string":
        return pc.cast(col, pa.string())
    return col


def _arrow_frame(table: Any, kinds: dict[str, str]) -> pd.DataFrame:
    """A Parquet table (or batch) as the frame ``_typed`` / ``parse_labels`` read."""
    import pyarrow as pa

    names = table.schema.names
    columns = [_arrow_column(c, kinds.get(n)) for n, c in zip(names, table.columns, strict=True)]
    return _to_strings_frame(pa.table(columns, names=names))


def _data_columns(schema: Any) -> list[str]:
    """The columns of a Parquet schema, without a pandas index stored as columns; duplicate names
    are refused as in a CSV header."""
    index = {
        c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)
    }
    names = [n for n in schema.names if n not in index]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise StructuralError(f"duplicate column names in the Parquet file: {dupes}")
    return names


def _iter_parquet_frames(
    cfg: PipelineConfig, path: Path, batch_rows: int
) -> Iterator[pd.DataFrame]:
    """A Parquet features file as frames of at most ``batch_rows`` rows, read row group by row
    group (at least one frame: an empty one for a file without rows). Column types are checked
    against the config before any row is read. Raises ``StructuralError``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds = _kinds(cfg)
    try:
        with pq.ParquetFile(path) as pf:
            schema = pf.schema_arrow
            names = _data_columns(schema)
            _check_arrow_types(schema, kinds)
            empty = True
            for batch in pf.iter_batches(batch_size=batch_rows, columns=names, use_threads=False):
                empty = False
                yield _arrow_frame(batch, kinds)
            if empty:
                yield _arrow_frame(schema.empty_table().select(names), kinds)
    except (pa.ArrowException, OSError) as err:
        raise StructuralError(f"unreadable Parquet file: {err}") from None


def _read_parquet_labels(cfg: PipelineConfig, data: bytes) -> pd.DataFrame:
    """A Parquet labels file as the frame ``parse_labels`` checks: the id as strings, the target as
    float64 (binary, regression) or strings (multiclass). Raises ``StructuralError``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ds = cfg.dataset
    target_kind = {"binary": "binary_label", "regression": "numeric"}.get(ds.task, "string")
    kinds = {ds.id_column: "string", ds.target: target_kind}
    try:
        with pq.ParquetFile(io.BytesIO(data)) as pf:
            names = _data_columns(pf.schema_arrow)
            _check_arrow_types(pf.schema_arrow, kinds)
            return _arrow_frame(pf.read(columns=names, use_threads=False), kinds)
    except (pa.ArrowException, OSError) as err:
        raise StructuralError(f"unreadable Parquet file: {err}") from None


def _coerce(
    name: str, col: pd.Series, kind: str, problems: dict[str, list[Any]] | None = None
) -> pd.Series:
    """Convert a string column; any non-null value that does not convert is a structural error.

    With ``problems``, the count and a sample of such values are added to ``problems[name]``
    (``[count, sample]``) instead, so that a file read in blocks is reported whole.
    """
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
        if problems is not None:
            seen = problems.setdefault(name, [0, []])
            seen[0] += int(bad.sum())
            seen[1] = [*seen[1], *(v for v in sample if v not in seen[1])][:SAMPLE_SIZE]
            return out
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
    return _typed(cfg, _read_csv_strings(data))


def _kinds(cfg: PipelineConfig) -> dict[str, str]:
    """The kind each schema column is parsed as: ``string`` (id, categorical), ``timestamp``,
    ``numeric``."""
    ds = cfg.dataset
    kinds = {ds.id_column: "string", ds.timestamp_column: "timestamp"}
    kinds |= {f.name: "numeric" if f.type is FeatureType.NUMERIC else "string" for f in ds.features}
    return kinds


def _typed(
    cfg: PipelineConfig, df: pd.DataFrame, problems: dict[str, list[Any]] | None = None
) -> pd.DataFrame:
    ds = cfg.dataset
    expected = [ds.id_column, ds.timestamp_column, *ds.feature_names]
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise StructuralError(f"missing columns: {missing}")
    if ds.target in df.columns:
        raise StructuralError(
            f"the target column {ds.target!r} must not be delivered with features"
        )
    kinds = _kinds(cfg)
    extra = [c for c in df.columns if c not in kinds]
    typed = {c: _coerce(c, df[c], kinds[c], problems) for c in expected}
    typed |= {c: df[c].astype("str") for c in extra}
    import pandas as pd

    return pd.DataFrame(typed, columns=[*expected, *extra])


def write_raw_parquet(
    cfg: PipelineConfig,
    src: Path,
    dest: Path,
    block_size: int | None = None,
    fmt: str = "csv",
) -> int:
    """Stream the features file ``src`` (``fmt``: csv or parquet) into the typed Parquet file
    ``dest``; returns its rows.

    The same table as ``parse_features`` (row groups of ``ROW_GROUP_ROWS``), in memory bounded by
    the block and row-group sizes, not the file: a CSV is read in blocks of ``block_size`` bytes, a
    Parquet delivery row group by row group in batches of ``PARQUET_BATCH_ROWS`` rows. Raises
    ``StructuralError``; values that do not convert are counted over the whole file before it is
    raised, so the message matches ``parse_features``'.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    ds = cfg.dataset
    order = [ds.id_column, ds.timestamp_column, *ds.feature_names]
    kinds = _kinds(cfg)
    problems: dict[str, list[Any]] = {}
    writer: pq.ParquetWriter | None = None
    pending: list[pa.Table] = []
    rows = 0

    def flush() -> None:
        if pending and not problems:
            assert writer is not None
            writer.write_table(pa.concat_tables(pending))
        pending.clear()

    try:
        frames = (
            _iter_parquet_frames(cfg, src, PARQUET_BATCH_ROWS)
            if fmt == "parquet"
            else _iter_csv_strings(src, block_size or CSV_BLOCK_BYTES)
        )
        for df in frames:
            typed = _typed(cfg, df, problems)
            rows += len(typed)
            if problems:
                continue  # the file is refused: read on only to count
            table = pa.Table.from_pandas(
                typed, preserve_index=False, schema=writer.schema if writer else None
            )
            if writer is None:
                writer = pq.ParquetWriter(
                    dest, table.schema, compression="zstd", write_statistics=True
                )
            pending.append(table)
            if sum(t.num_rows for t in pending) >= ROW_GROUP_ROWS:
                flush()
        flush()
    finally:
        if writer is not None:
            writer.close()
    if problems:
        name = min(problems, key=order.index)
        count, sample = problems[name]
        raise StructuralError(
            f"column {name!r}: {count} of {rows} values are not {kinds[name]}, e.g. {sample}"
        )
    return rows


def parse_labels(cfg: PipelineConfig, data: bytes, fmt: str = "csv") -> pd.DataFrame:
    """Parse a labels file (id, target; ``fmt``: csv or parquet) into strings and the task's target
    type.

    binary: int64 0/1; multiclass: strings (the class names as written); regression: float64. A
    Parquet file's column types are checked first (a binary target may be boolean; integer class
    codes are kept as written). Raises ``StructuralError``.
    """
    ds = cfg.dataset
    df = _read_parquet_labels(cfg, data) if fmt == "parquet" else _read_csv_strings(data)
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
    original: Content,
    stage: str,
    message: str,
    details: dict[str, Any] | None = None,
    gx_result: dict[str, Any] | None = None,
    extra_files: dict[str, Content] | None = None,
) -> str:
    reason = {
        "partition": day.isoformat(),
        "stage": stage,
        "summary": message,
        "original": original_name,
        **(details or {}),
    }
    files: dict[str, Content] = {
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

    The features file is ``features.csv`` or ``features.parquet``; a delivery holding both is
    quarantined (which one is meant cannot be guessed). Raises ``LandingMissing`` if neither has
    arrived; bad data never raises. With ``labels_only``, a delivery holding labels files but no
    features file is ingested instead (see ``ingest_labels_only``); ``LandingMissing`` then means
    nothing landed at all.
    """
    from driftloop.data import validation

    day = as_date(day)
    store = store or open_store(cfg.storage)
    keys = landed_features(store, day)
    if not keys:
        if labels_only:
            return ingest_labels_only(cfg, day, store)
        raise LandingMissing(
            f"{store.uri(landing_prefix(day))}: neither {FEATURES_FILE} nor {FEATURES_PARQUET} "
            "has arrived"
        )
    # A suite that does not match the effective config is a usage error (exit 2), refused before
    # anything is written: validating with it would ignore those settings silently. A pipeline
    # without a suite yet gets the one its config generates.
    validation.ensure_suite(cfg)
    if len(keys) > 1:
        result = _refuse_two_formats(store, day, keys)
    else:
        result = _ingest_features(cfg, store, day, keys[0])
    labels = ingest_labels(cfg, day, store)
    result = IngestResult(**{**asdict(result), "labels": labels})
    if result.status == "validated":
        log.info("%s -> %s (%d rows)", result.message, result.uri, result.rows)
    else:
        log.warning("%s (quarantine: %s)", result.message, result.uri)
    return result


def landed_features(store: Store, day: date) -> list[str]:
    """The features files of the delivery of ``day`` that have arrived (CSV and/or Parquet)."""
    return [k for k in landing_features_keys(day) if store.exists(k)]


def _refuse_two_formats(store: Store, day: date, keys: list[str]) -> IngestResult:
    """Quarantine a delivery holding both ``features.csv`` and ``features.parquet``: both files
    are kept as they came, and no raw or validated partition may claim the day."""
    names = [k.rsplit("/", 1)[-1] for k in keys]
    for zone in (RAW, VALIDATED, ROWS_QUARANTINE):
        store.delete_partition(zone, day)
    message = (
        f"ingest of {day} refused: the delivery holds both {' and '.join(names)}; deliver one "
        "format per day (remove the other and ingest again)"
    )
    with contextlib.ExitStack() as stack:
        files = {
            name: stack.enter_context(store.local_file(k))
            for name, k in zip(names, keys, strict=True)
        }
        first, *others = names
        uri = _quarantine(
            store,
            QUARANTINE,
            day,
            original_name=first,
            original=files[first],
            stage="ingest",
            message=message,
            details={"originals": names},
            extra_files={name: files[name] for name in others},
        )
    return IngestResult("quarantined", day.isoformat(), uri, 0, message, "ingest", None, uri)


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
    if landed_features(store, day):
        return ingest_partition(cfg, day, store)
    labels = ingest_labels(cfg, day, store)
    if not labels:
        raise LandingMissing(
            f"{store.uri(prefix)}: neither features ({FEATURES_FILE} or {FEATURES_PARQUET}) nor "
            "labels have arrived"
        )
    ingested = sum(lr.status == "ingested" for lr in labels)
    message = (
        f"label-only delivery {day}: {FEATURES_FILE} or {FEATURES_PARQUET} has not arrived; "
        f"{ingested} of {len(labels)} labels file(s) ingested"
    )
    unknown = sum(lr.unknown_ids for lr in labels)
    if unknown:
        verdict = "kept" if cfg.validation.unknown_label_ids == "warn" else "quarantined"
        message += f", {unknown} label rows with unknown ids {verdict}"
    log.warning("%s", message)
    return IngestResult(
        "labels_only", day.isoformat(), store.uri(prefix), 0, message, "ingest", labels=labels
    )


def _ingest_features(cfg: PipelineConfig, store: Store, day: date, key: str) -> IngestResult:
    """Stream ``key`` (the features CSV or Parquet file) to raw Parquet, validate it, publish or
    quarantine it.

    Memory stays bounded by the block and batch sizes, not by the day: the CSV is parsed in blocks
    (a Parquet delivery read in batches) into a local Parquet file, GX validates that file batch by
    batch, and the partitions are written from files. Only a quarantined delivery is copied whole
    (its original bytes are kept, under its own name).
    """
    name = key.rsplit("/", 1)[-1]
    with (
        store.local_file(key) as src,
        tempfile.TemporaryDirectory(prefix="driftloop-ingest-") as tmp,
    ):
        return _ingest_file(cfg, store, day, src, Path(tmp), name)


def _ingest_file(
    cfg: PipelineConfig, store: Store, day: date, src: Path, tmp: Path, name: str = FEATURES_FILE
) -> IngestResult:
    from driftloop.data import validation

    raw_path = tmp / PART
    fmt = "parquet" if name == FEATURES_PARQUET else "csv"
    try:
        write_raw_parquet(cfg, src, raw_path, fmt=fmt)
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
            original_name=name,
            original=src,
            stage="ingest",
            message=message,
        )
        return IngestResult("quarantined", day.isoformat(), uri, 0, message, "ingest", None, uri)

    raw_uri = store.write_partition(RAW, day, {PART: raw_path})
    # Validated: the file just written, byte for byte what downstream reads from raw/.
    outcome = validation.validate_parquet(cfg, raw_path, day)
    split = _quarantine_rows(cfg, store, day, raw_path, outcome, tmp)
    if split is not None:
        published, outcome, rows_uri, bad = split
    else:
        store.delete_partition(ROWS_QUARANTINE, day)  # a rerun replaces an earlier split
        published, rows_uri, bad = raw_path, None, 0
    if outcome.success:
        uri = store.write_partition(VALIDATED, day, {PART: published}, {"rows": outcome.rows})
        store.delete_partition(QUARANTINE, day)
        split_note = f"; {bad} row(s) quarantined ({rows_uri})" if bad else ""
        return IngestResult(
            "validated",
            day.isoformat(),
            uri,
            outcome.rows,
            f"partition {day} validated: {outcome.summary}{split_note}",
            "validation",
            raw_uri,
            None,
            outcome.docs_url,
            out_of_partition_rows=outcome.out_of_partition_rows,
            warnings=[w.describe() for w in outcome.warnings],
            quarantined_rows=bad,
            rows_quarantine_uri=rows_uri,
            tolerated_rows=outcome.tolerated_rows,
        )
    store.delete_partition(VALIDATED, day)
    store.delete_partition(ROWS_QUARANTINE, day)
    message = f"validation of {day} failed: {outcome.summary}"
    uri = _quarantine(
        store,
        QUARANTINE,
        day,
        original_name=name,
        original=src,
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
        outcome.rows,
        message,
        "validation",
        raw_uri,
        uri,
        outcome.docs_url,
        out_of_partition_rows=outcome.out_of_partition_rows,
        warnings=[w.describe() for w in outcome.warnings],
    )


def _quarantine_rows(
    cfg: PipelineConfig,
    store: Store,
    day: date,
    raw_path: Path,
    outcome: validation.ValidationOutcome,
    tmp: Path,
) -> tuple[Path, validation.ValidationOutcome, str, int] | None:
    """Row-level quarantine (``validation.bad_rows: quarantine_rows``) of a failed ``outcome``.

    Returns (the kept rows' Parquet file, their GX outcome, rows-quarantine URI, bad row count)
    once the bad rows are written to ``quarantine/rows/``, or None when the whole partition's
    verdict stands: not enabled, passed, a partition-level failure, or more bad rows than
    ``max_bad_row_fraction``. The kept rows are validated again by GX, so the published partition
    passed the whole suite. Both files are written batch by batch (bounded memory).
    """
    from driftloop.data import validation

    v = cfg.validation
    if v.bad_rows != "quarantine_rows" or outcome.success:
        return None
    if any(not validation.is_row_level(f) for f in outcome.failures):
        return None
    good_path, bad_path = tmp / "kept.parquet", tmp / ROWS_FILE
    kept_rows, bad_rows, counts = _split_file(raw_path, outcome, good_path, bad_path)
    total = kept_rows + bad_rows
    if bad_rows > v.max_bad_row_fraction * total:
        log.warning(
            "partition %s: %d of %d rows fail per-row expectations, more than "
            "validation.max_bad_row_fraction=%s: the whole partition is quarantined",
            day,
            bad_rows,
            total,
            v.max_bad_row_fraction,
        )
        return None
    kept = validation.validate_parquet(cfg, good_path, day)
    if not kept.success:
        return None  # e.g. too few rows left: the first verdict (the whole day) stands
    message = (
        f"{bad_rows} of {total} rows of {day} fail per-row expectations and are quarantined; "
        f"the other {kept_rows} are validated"
    )
    reason = {
        "partition": day.isoformat(),
        "stage": "validation",
        "summary": message,
        "rows": total,
        "quarantined_rows": bad_rows,
        "validated_rows": kept_rows,
        "by_expectation": dict(sorted(counts.items())),
        "failed_expectations": [asdict(f) for f in outcome.failures],
        "rows_file": ROWS_FILE,
        "reason_column": validation.REASON_COLUMN,
    }
    uri = store.write_partition(
        ROWS_QUARANTINE,
        day,
        {
            ROWS_FILE: bad_path,
            REASON: (json.dumps(reason, indent=2, sort_keys=True, default=str) + "\n").encode(),
        },
    )
    log.warning("%s (quarantine: %s)", message, uri)
    return good_path, kept, uri, bad_rows


def _split_file(
    raw_path: Path, outcome: validation.ValidationOutcome, good_path: Path, bad_path: Path
) -> tuple[int, int, dict[str, int]]:
    """Write the rows of ``raw_path`` that pass ``outcome``'s failed per-row expectations to
    ``good_path`` (Parquet) and the others, with their reasons, to ``bad_path`` (CSV), batch by
    batch; returns (kept rows, bad rows, bad rows by failed expectation)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from driftloop.data import validation

    source = pq.ParquetFile(raw_path)
    kept = bad = 0
    counts: dict[str, int] = {}
    with (
        pq.ParquetWriter(
            good_path, source.schema_arrow, compression="zstd", write_statistics=True
        ) as writer,
        bad_path.open("w", encoding="utf-8", newline="") as out,
    ):
        for batch in source.iter_batches(batch_size=validation.BATCH_ROWS):
            good, rejected = validation.split_rows(batch.to_pandas(), outcome)
            writer.write_table(
                pa.Table.from_pandas(good, preserve_index=False, schema=source.schema_arrow)
            )
            rejected.to_csv(out, index=False, header=bad == 0, lineterminator="\n")
            kept, bad = kept + len(good), bad + len(rejected)
            for reasons in rejected[validation.REASON_COLUMN]:
                for name in reasons.split("; "):
                    counts[name] = counts.get(name, 0) + 1
    return kept, bad, counts


def ingest_labels(
    cfg: PipelineConfig, day: str | date, store: Store | None = None
) -> list[LabelsResult]:
    """Ingest every ``labels_<L>.csv`` or ``labels_<L>.parquet`` delivered in ``landing/<day>/``
    to ``labels/date=<L>/``. Both formats of the same ``L`` in one delivery are refused together
    (quarantined with a reason): which one is meant cannot be guessed."""
    day = as_date(day)
    store = store or open_store(cfg.storage)
    prefix = landing_prefix(day) + "/"
    results = []
    bad_names: dict[str, str] = {}  # file name -> why its name is refused
    by_day: dict[date, list[str]] = {}
    for key in store.list(prefix):
        name = key[len(prefix) :]
        label_day, problem = _label_date(name)
        if problem:
            bad_names[name] = problem
        elif label_day is not None:  # else not a labels file (features.csv, ...)
            by_day.setdefault(label_day, []).append(name)
    for label_day, names in sorted(by_day.items()):
        if len(names) > 1:
            results.append(_refuse_two_label_formats(store, day, label_day, prefix, names))
            continue
        (name,) = names
        original = store.read_bytes(prefix + name)
        try:
            df = parse_labels(cfg, original, "parquet" if name.endswith(".parquet") else "csv")
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


def _refuse_two_label_formats(
    store: Store, day: date, label_day: date, prefix: str, names: list[str]
) -> LabelsResult:
    """Quarantine ``labels_<L>.csv`` and ``labels_<L>.parquet`` delivered together (both kept)."""
    store.delete_partition(LABELS, label_day)
    message = (
        f"labels of {label_day} (delivered {day}) rejected: the delivery holds both "
        f"{' and '.join(names)}; deliver one format"
    )
    first, *others = names
    uri = _quarantine(
        store,
        LABELS_QUARANTINE,
        label_day,
        original_name=first,
        original=store.read_bytes(prefix + first),
        stage="labels",
        message=message,
        details={"delivered": day.isoformat(), "originals": names},
        extra_files={name: store.read_bytes(prefix + name) for name in others},
    )
    log.warning("%s (quarantine: %s)", message, uri)
    return LabelsResult(label_day.isoformat(), "quarantined", uri, 0, message)


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
    # The marker keeps the delivery day: decisions read labels as of the day they are made for.
    stats = arrival_stats(df, day)
    uri = store.write_partition(LABELS, label_day, {PART: parquet_bytes(df)}, stats)
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
    """(label date, None) for ``labels_<date>.csv`` or ``.parquet``; (None, why) for a labels file
    with a bad name;
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
        return None, f"the name {name!r} is not labels_<YYYY-MM-DD>.csv or .parquet"
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
