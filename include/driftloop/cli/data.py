"""`driftloop ingest` (one landed partition) and `driftloop gx-suite` (regenerate the GX suite)."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

from driftloop.cli.app import command, emit, iso_date
from driftloop.core.config import PipelineConfig
from driftloop.core.errors import EXIT_NOTHING_TO_DO, EXIT_QUARANTINED


def _ingest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date", type=iso_date, required=True, help="partition to ingest (YYYY-MM-DD)")


@command(
    "ingest",
    "parse, validate (GX) and publish landing/<date>/ to validated/, or quarantine it "
    "(exit 1: quarantined, 2: bad config, or a committed GX suite that does not match it (run "
    "gx-suite), 3: nothing landed, or labels only: they are ingested, the features are still to "
    "come)",
)(_ingest_args)
def _ingest(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.data.ingest import ingest_partition

    # Nothing landed at all: LandingMissing, exit 3 by driftloop.cli.main.main.
    result = ingest_partition(cfg, args.date, labels_only=True)
    emit(result.to_dict())
    if result.status == "labels_only":
        print(f"driftloop ingest: {result.message}", file=sys.stderr)
        return EXIT_NOTHING_TO_DO
    if result.status == "quarantined":
        print(f"driftloop ingest: quarantined: {result.message}", file=sys.stderr)
        print(f"  quarantine: {result.quarantine_uri}", file=sys.stderr)
        return EXIT_QUARANTINED
    # A quarantined labels file is logged as a warning by the library (stderr), one line each.
    return 0


def _gx_suite_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--check",
        action="store_true",
        help="only report whether the committed suite matches the config (exit 1 if not)",
    )


@command(
    "gx-suite",
    "write the GX expectation suite and checkpoint JSON derived from the config into the GX project",
)(_gx_suite_args)
def _gx_suite(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.data import validation

    if args.check:
        stale = validation.stale_gx_files(cfg)
        emit({"stale": [str(p) for p in stale]})
        return EXIT_QUARANTINED if stale else 0
    emit({"written": [str(p) for p in validation.write_gx_project(cfg)]})
    return 0


# -- synth ---------------------------------------------------------------------------------------
def _synth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--start", type=iso_date, required=True, help="first day (YYYY-MM-DD)")
    p.add_argument("--days", type=int, default=7)
    p.add_argument(
        "--scenario",
        default="none",
        help="none | covariate_shift | concept_drift | data_quality | harmless_shift | harmful_shift",
    )
    p.add_argument(
        "--drift-start", type=iso_date, help="day the scenario starts (default: mid-way)"
    )
    p.add_argument("--features", help="comma-separated features to shift (covariate_shift)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rows", type=int, default=2000, help="mean rows per day")
    p.add_argument(
        "--task",
        choices=("binary", "multiclass", "regression"),
        help="target to generate (default: the config's dataset.task)",
    )


@command("synth", "write demo batches (and their late labels) into landing/")(_synth_args)
def _synth(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.core.storage import open_store
    from driftloop.data import synth

    kwargs: dict[str, Any] = {"name": args.scenario}
    if args.scenario != "none":
        kwargs["drift_start"] = args.drift_start or args.start + timedelta(days=args.days // 2)
    if args.features:
        kwargs["features"] = tuple(f.strip() for f in args.features.split(",") if f.strip())
    scenario = synth.Scenario(**kwargs)
    store = open_store(cfg.storage)
    keys = synth.write_days(
        store, cfg, args.start, args.days, scenario, args.seed, args.rows, task=args.task
    )
    emit(
        {
            "root": store.root,
            "written": keys,
            "scenario": scenario.name,
            "drift_start": scenario.drift_start,
        }
    )
    return 0


# -- land ----------------------------------------------------------------------------------------
def add_history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        required=True,
        help="the history: a CSV or Parquet table with the config's timestamp, feature and "
        "target columns (the id column is optional)",
    )
    p.add_argument(
        "--period",
        choices=("day", "week", "month"),
        default="day",
        help="one partition per day (default), week (from Monday) or month",
    )
    p.add_argument(
        "--label-delay",
        type=int,
        default=None,
        help="days between a partition and its labels (default: dataset.label_delay_days)",
    )


def _land_args(p: argparse.ArgumentParser) -> None:
    add_history_args(p)
    p.add_argument(
        "--format",
        choices=("csv", "parquet"),
        default="csv",
        help="file format of the landing files: features.csv + labels_<day>.csv (default), or "
        "features.parquet + labels_<day>.parquet",
    )


@command(
    "land",
    "write a history table into the landing layout (features + labels_<day> files per "
    "partition, CSV or Parquet) for the scheduler to ingest",
)(_land_args)
def _land(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.core.storage import open_store
    from driftloop.data import history, validation

    history.check_tolerance(cfg, args.period)
    validation.ensure_suite(cfg)  # what ingest will validate with: generated, or refused if stale
    frame = history.read_source(args.source, cfg)
    store = open_store(cfg.storage)
    written: list[str] = []
    partitions = 0
    for delivery in history.deliveries(frame, cfg, args.period, args.label_delay):
        partitions += bool(len(delivery.features))
        written += history.write_delivery(store, cfg, delivery, args.format)
    emit(
        {
            "root": store.root,
            "rows": len(frame),
            "partitions": partitions,
            "files": len(written),
            "format": args.format,
            "first": written[0] if written else None,
            "last": written[-1] if written else None,
            "ignored_columns": history.ignored_columns(frame, cfg),
        }
    )
    return 0
