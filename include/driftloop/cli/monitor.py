"""``driftloop drift --date D``: the daily drift check of the champion, its report and decision."""

from __future__ import annotations

import argparse
from pathlib import Path

from driftloop.cli.app import command, emit, iso_date
from driftloop.core.config import PipelineConfig


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date", type=iso_date, required=True, help="partition day to check")
    p.add_argument("--profile", type=Path, help="reference profile JSON (default: the champion's)")
    p.add_argument(
        "--training-active",
        action="store_true",
        help="a training run is queued or running: report, but do not ask for another",
    )


@command("drift", "daily drift and performance check of the champion; writes the drift report")(
    _args
)
def _drift(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop.monitor.daily_check import run_daily_check

    outcome = run_daily_check(
        cfg, args.date, training_active=args.training_active, profile_path=args.profile
    )
    emit(outcome.summary())
    return 0
