"""Batch scoring of one validated partition with a concrete model version.

The champion alias is resolved to a version once (:func:`resolve_model`) and the version is what
travels on (XCom, CLI argument): a retry or rerun then scores with the same model even if the alias
moved in between, and rerunning gives byte-identical predictions.

Memory stays bounded by the chunk size: the validated file is read batch by batch
(``pyarrow.parquet.ParquetFile.iter_batches``) and each batch's predictions are appended to a parquet
writer as a row group in a temporary file, which is then put in place atomically as
``predictions/date=<day>/part-0.parquet``. A chunk's rows come from a memory budget
(:data:`CHUNK_FRAME_BYTES` of input frame, measured on the file's first rows): large chunks keep the
estimator's per-call fixed costs (one parallel region per tree) small, the budget keeps wide rows
from holding too much at once.

**Backlog.** Days validated while no champion existed are recorded as unscored and have no
predictions. Once a champion exists, :func:`unscored_days` lists the validated days without
predictions (after a promotion under the scheduler: only those recorded as unscored, since a day
validated meanwhile has its own score run coming) and each is scored once (:func:`score_backlog`, the ``score`` DAG when it runs after a
promotion, ``driftloop score --backlog``): a scored day has a predictions partition and is never in
the backlog again, so reruns neither rescore nor duplicate. A backfilled day's
``monitoring/scoring/date=<day>/status.json`` says ``backlog`` and names the model version (as do
its predictions).

Its columns depend on the task (besides the id and ``model_name``, ``model_version``, ``run_id``):
binary ``score`` (P(positive)) and ``predicted_label`` (0/1 at the run's decision threshold);
multiclass ``predicted_label`` (the most probable class), ``score`` (its probability) and one
``proba_<class>`` per class of the model; regression ``prediction`` (the predicted value).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.core.errors import EXIT_NOTHING_TO_DO, DriftloopError
from driftloop.core.metrics import (
    BINARY,
    DECISION_THRESHOLD,
    MULTICLASS,
    PREDICTED_LABEL,
    PREDICTION,
    SCORE,
    proba_column,
)
from driftloop.core.partition import PART_FILE, Zone
from driftloop.core.storage import (
    PREDICTIONS,
    SCORING,
    VALIDATED,
    Store,
    as_date,
    open_store,
    partition_prefix,
)
from driftloop.tracking.mlflow import mlflow_client, run_id_of

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from driftloop.core.config import PipelineConfig

log = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 50_000  # the chunk when the file has no rows to measure
# A chunk's input frame (pandas, strings included) in bytes; the pipeline's working memory while
# predicting it is several times that (about 10x for the default estimator: ~330k rows of the churn
# features, ~+450 MB). Each chunk runs every tree's parallel region once: on a busy 2-core machine
# ~80k-row chunks scored at 0.56x the model's own predict_proba, ~330k-row chunks at 0.8x.
# ``--chunk-rows`` / ``chunk_rows`` trade that speed for memory.
CHUNK_FRAME_BYTES = 48 * 2**20
MIN_CHUNK_ROWS, MAX_CHUNK_ROWS = 1_000, 1_000_000


class NoChampion(DriftloopError, LookupError):
    """No model has been promoted yet, so there is nothing to score with."""

    exit_code = EXIT_NOTHING_TO_DO


@dataclass(frozen=True)
class ResolvedModel:
    """A concrete registered version (never an alias) and what scoring needs to know about it."""

    name: str
    version: str
    run_id: str
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScoreResult:
    partition: str
    uri: str
    rows: int
    model_name: str
    model_version: str
    run_id: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_model(cfg: PipelineConfig, model_version: str | None = None) -> ResolvedModel:
    """The given version, or the current champion's.

    Raises:
        NoChampion: no version given and nothing has been promoted yet.
    """
    from driftloop.model import registry

    client = mlflow_client(cfg)
    if model_version is None:
        mv = registry.champion(cfg)
        if mv is None:
            raise NoChampion(
                f"{cfg.model_name} has no champion yet: train and promote a model first "
                "(the train DAG or `driftloop train`); nothing was scored"
            )
    else:
        mv = registry.get_version(cfg, str(model_version))
    params = client.get_run(run_id_of(mv)).data.params
    threshold = float(params.get("decision_threshold", DECISION_THRESHOLD))
    return ResolvedModel(cfg.model_name, str(mv.version), run_id_of(mv), threshold)


def score_partition(
    cfg: PipelineConfig,
    day: date | str,
    model_version: str | None = None,
    *,
    chunk_rows: int | None = None,
    backlog: bool = False,
    zone: Zone = PREDICTIONS,
) -> ScoreResult:
    """Score ``validated/date=<day>`` and write ``predictions/date=<day>/`` (replacing it).

    ``chunk_rows``: rows a batch (default: :func:`chunk_rows_for` the file's rows).
    ``backlog``: the day is scored late (it was validated before a champion existed); its scoring
    record then says so. ``zone``: where the predictions go (``predictions/shadow`` for a challenger
    scored in shadow beside the champion).

    Raises:
        NoChampion: no version given and no champion; nothing is written.
        PartitionMissing: the validated partition does not exist.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from driftloop.model.model_io import load_model

    t0 = time.perf_counter()
    day = as_date(day)
    resolved = resolve_model(cfg, model_version)
    model = load_model(cfg, resolved.version)
    store = open_store(cfg.storage)
    ds = cfg.dataset
    key = f"{store.require_partition(VALIDATED, day)}/{PART_FILE}"
    outputs = _output_fields(cfg, model)
    schema = pa.schema(
        [
            (ds.id_column, pa.string()),
            *outputs,
            ("model_name", pa.string()),
            ("model_version", pa.string()),
            ("run_id", pa.string()),
        ]
    )
    rows = 0
    columns = [ds.id_column, *ds.feature_names]
    with (
        store.local_file(key) as path,
        tempfile.TemporaryDirectory(prefix="driftloop-score-") as tmp,
    ):
        source = pq.ParquetFile(path)
        sink = Path(tmp) / PART_FILE
        with pq.ParquetWriter(sink, schema, compression="zstd") as out:
            for batch in source.iter_batches(
                batch_size=chunk_rows or chunk_rows_for(source, columns), columns=columns
            ):
                frame = batch.select(ds.feature_names).to_pandas()
                n = len(frame)
                rows += n
                out.write_table(
                    pa.table(
                        {
                            ds.id_column: _id_strings(batch.column(ds.id_column)),
                            **output_columns(cfg, model, frame, resolved.threshold),
                            "model_name": pa.array([resolved.name] * n, pa.string()),
                            "model_version": pa.array([resolved.version] * n, pa.string()),
                            "run_id": pa.array([resolved.run_id] * n, pa.string()),
                        },
                        schema=schema,
                    )
                )
        uri = store.write_partition(zone, day, {PART_FILE: sink})
    seconds = round(time.perf_counter() - t0, 3)
    log.info(
        "scored %d rows of %s with %s v%s -> %s%s",
        rows,
        day,
        resolved.name,
        resolved.version,
        uri,
        " (backlog: validated before a champion existed)" if backlog else "",
    )
    if backlog:
        _record_backfill(store, day, resolved, rows)
    return ScoreResult(
        partition=day.isoformat(),
        uri=uri,
        rows=rows,
        model_name=resolved.name,
        model_version=resolved.version,
        run_id=resolved.run_id,
        seconds=seconds,
    )


def _id_strings(ids: pa.Array) -> pa.Array:
    """The ids as strings, as ``astype(str)`` writes them (kept in Arrow when they are strings)."""
    import pyarrow as pa

    if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
        return ids.cast(pa.string())
    return pa.array(ids.to_pandas().astype(str), pa.string())


def chunk_rows_for(source: Any, columns: list[str]) -> int:
    """Rows a scoring chunk: :data:`CHUNK_FRAME_BYTES` over the bytes a row takes as a pandas frame
    (measured on the first rows of ``source``, a ``pyarrow.parquet.ParquetFile``)."""
    sample = next(source.iter_batches(batch_size=2_000, columns=columns), None)
    if sample is None or sample.num_rows == 0:
        return DEFAULT_CHUNK_ROWS
    row_bytes = sample.to_pandas().memory_usage(deep=True, index=False).sum() / sample.num_rows
    return int(min(MAX_CHUNK_ROWS, max(MIN_CHUNK_ROWS, CHUNK_FRAME_BYTES // max(row_bytes, 1))))


NO_CHAMPION = "no_champion"  # a scoring record's status: scoring went ahead with no champion


def unscored_days(
    cfg: PipelineConfig, store: Store | None = None, *, recorded_only: bool = False
) -> list[date]:
    """Validated days without predictions, ascending: the backlog a champion scores once.

    Typically the days ingested before the first champion existed (recorded as unscored then).
    ``recorded_only``: only the days whose scoring record says so (status ``no_champion``). A day
    validated a moment ago, whose own score run is still to come, is then left to that run (the
    ``score`` DAG's run after a promotion races with the runs of freshly validated days).
    """
    store = store or open_store(cfg.storage)
    scored = set(store.partitions(PREDICTIONS))
    days = [d for d in store.partitions(VALIDATED) if d not in scored]
    if recorded_only:
        days = [d for d in days if _scoring_status(store, d) == NO_CHAMPION]
    return days


def _scoring_record(store: Store, day: date) -> dict[str, Any]:
    """A day's scoring record (empty without one)."""
    if not store.partition_exists(SCORING, day):
        return {}
    record = store.read_json(f"{partition_prefix(SCORING, day)}/status.json")
    return record if isinstance(record, dict) else {}


def _scoring_status(store: Store, day: date) -> str | None:
    """The status of a day's scoring record, None without one."""
    return _scoring_record(store, day).get("status")


def scored_from_backlog(store: Store, day: date) -> bool:
    """Whether ``day`` was scored late, from the backlog (no champion served it on the day)."""
    return bool(_scoring_record(store, day).get("backlog"))


def write_scoring_status(store: Store, day: date | str, body: dict[str, Any]) -> str:
    """Write a day's scoring record (``monitoring/scoring/date=<day>/status.json``), replacing it."""
    import json

    return store.write_partition(
        SCORING, as_date(day), {"status.json": json.dumps(body, sort_keys=True).encode()}
    )


def _record_backfill(store: Store, day: date, model: ResolvedModel, rows: int) -> None:
    """Replace a day's "unscored" record: scored from the backlog, by which version."""
    body = {
        "status": "scored",
        "backlog": True,
        "model_name": model.name,
        "model_version": model.version,
        "run_id": model.run_id,
        "rows": rows,
    }
    write_scoring_status(store, day, body)


def score_backlog(
    cfg: PipelineConfig,
    model_version: str | None = None,
    *,
    chunk_rows: int | None = None,
) -> list[ScoreResult]:
    """Score every validated day without predictions with one resolved version (the champion's).

    Idempotent: a rerun finds the days scored and does nothing.

    Raises:
        NoChampion: days wait and nothing has been promoted yet (nothing is written).
    """
    days = unscored_days(cfg)
    if not days:
        log.info("backlog: every validated day has predictions; nothing to score")
        return []
    resolved = resolve_model(cfg, model_version)
    log.info(
        "backlog: scoring %d validated day(s) without predictions with %s v%s: %s",
        len(days),
        resolved.name,
        resolved.version,
        ", ".join(d.isoformat() for d in days),
    )
    return [
        score_partition(cfg, d, resolved.version, chunk_rows=chunk_rows, backlog=True) for d in days
    ]


def _output_fields(cfg: PipelineConfig, model: Any) -> list[tuple[str, pa.DataType]]:
    """The task's prediction columns and their types."""
    import pyarrow as pa

    from driftloop.model.pipeline import model_classes

    if cfg.dataset.task == BINARY:
        return [(SCORE, pa.float64()), (PREDICTED_LABEL, pa.int8())]
    if cfg.dataset.task == MULTICLASS:
        probas = [(proba_column(c), pa.float64()) for c in model_classes(model)]
        return [(PREDICTED_LABEL, pa.string()), (SCORE, pa.float64()), *probas]
    return [(PREDICTION, pa.float64())]


def output_columns(
    cfg: PipelineConfig, model: Any, frame: pd.DataFrame, threshold: float
) -> dict[str, pa.Array]:
    """The task's prediction columns for the rows of ``frame`` (what a predictions file holds)."""
    import numpy as np
    import pyarrow as pa

    from driftloop.model.pipeline import model_classes, predict_output

    output = predict_output(model, frame, cfg)
    if cfg.dataset.task == BINARY:
        return {
            SCORE: pa.array(output, pa.float64()),
            PREDICTED_LABEL: pa.array((output >= threshold).astype("int8"), pa.int8()),
        }
    if cfg.dataset.task == MULTICLASS:
        classes = model_classes(model)
        best = output.argmax(axis=1)
        return {
            PREDICTED_LABEL: pa.array(np.asarray(classes, dtype=object)[best], pa.string()),
            SCORE: pa.array(output[np.arange(len(best)), best], pa.float64()),
            **{
                proba_column(c): pa.array(output[:, i], pa.float64()) for i, c in enumerate(classes)
            },
        }
    return {PREDICTION: pa.array(output, pa.float64())}


__all__ = [
    "CHUNK_FRAME_BYTES",
    "DEFAULT_CHUNK_ROWS",
    "NO_CHAMPION",
    "NoChampion",
    "ResolvedModel",
    "ScoreResult",
    "chunk_rows_for",
    "output_columns",
    "resolve_model",
    "score_backlog",
    "score_partition",
    "scored_from_backlog",
    "unscored_days",
    "write_scoring_status",
]
