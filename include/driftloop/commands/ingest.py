"""`driftloop ingest` (one landed partition) and `driftloop gx-suite` (regenerate the GX suite)."""

from __future__ import annotations

import argparse
import sys

from driftloop.cli import _date, command, emit
from driftloop.config import PipelineConfig
from driftloop.errors import EXIT_NOTHING_TO_DO, EXIT_QUARANTINED


def _ingest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date", type=_date, required=True, help="partition to ingest (YYYY-MM-DD)")


@command(
    "ingest",
    "parse, validate (GX) and publish landing/<date>/ to validated/, or quarantine it "
    "(exit 1: quarantined, 3: nothing landed, or labels only: they are ingested, the features are "
    "still to come)",
)(_ingest_args)
def _ingest(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.ingest import ingest_partition

    # Nothing landed at all: LandingMissing, exit 3 by driftloop.cli.main.
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
    from driftloop import validation

    if args.check:
        stale = validation.stale_gx_files(cfg)
        emit({"stale": [str(p) for p in stale]})
        return EXIT_QUARANTINED if stale else 0
    emit({"written": [str(p) for p in validation.write_gx_project(cfg)]})
    return 0
