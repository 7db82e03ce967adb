"""Replay a user's own history through the loop: ``driftloop replay``.

The source table is cut into partitions by its own timestamps (:mod:`driftloop.data.history`), and
each partition is landed and driven through the real DAGs exactly as the demo drives a simulated
day (:func:`driftloop.demo.run.drive_day`): ingest, score, drift check, and a training whenever the
retrain policy asks for one. Labels arrive ``--label-delay`` days after their partition, with the
first partition delivered on or after that day. The outcome is the demo's table and its
summary.json / summary.png / summary.html in ``out``.

All state (storage, MLflow store, Airflow DB) lives in ``<out>/state`` and is wiped at the start.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from driftloop.core.config import load_config
from driftloop.data import history
from driftloop.demo.run import DayRecord, DemoRunner, drive_day, live_metric_name, write_outcome
from driftloop.demo.summary import format_row, header

# The config key of the DAGs' start date (schedule.start_date), as an environment override.
START_DATE_ENV = "DRIFTLOOP__SCHEDULE__START_DATE"
PERIOD_WORD = {"day": "daily", "week": "weekly", "month": "monthly"}


def replay_env(
    config_path: str | None, period: history.Period, label_delay: int | None
) -> dict[str, str]:
    """The config overrides a replay needs: the label delay asked for, and a partition tolerance
    that covers a week or a month when partitions are that long (said in the output)."""
    cfg = load_config(config_path)
    env: dict[str, str] = {}
    if label_delay is not None:
        env["DRIFTLOOP__DATASET__LABEL_DELAY_DAYS"] = str(label_delay)
    need = history.PERIOD_HOURS[period]
    if period != "day" and cfg.validation.partition_tolerance_hours < need:
        env["DRIFTLOOP__VALIDATION__PARTITION_TOLERANCE_HOURS"] = f"{need:g}"
    return env


def run_replay(
    source: str | Path,
    out: Path = Path("replay-out"),
    *,
    config_path: str | None = None,
    period: history.Period = "day",
    label_delay: int | None = None,
    echo: Callable[[str], None] = print,
) -> list[DayRecord]:
    """Replay ``source`` partition by partition through the DAGs; write the summary into ``out``."""
    from driftloop.core.storage import open_store
    from driftloop.data.validation import ensure_suite

    overrides = replay_env(config_path, period, label_delay)
    # Read and cut before any state is wiped: a bad source costs nothing.
    before = load_config(config_path, environ={**os.environ, **overrides})
    # The suite every partition is validated with: generated if the pipeline has none; a stale one
    # stops the replay here (exit 2, one line), not in the first ingest task.
    ensure_suite(before)
    frame = history.read_source(source, before)
    # The DAGs' schedules start with the history (runs before a DAG's start make no tasks).
    first = frame[before.dataset.timestamp_column].iloc[0].date()
    overrides[START_DATE_ENV] = history.period_start(first, period).isoformat()
    os.environ.update(overrides)
    out = out.resolve()
    runner = DemoRunner(out / "state", config_path)
    cfg = runner.cfg
    store = open_store(cfg.storage)
    deliveries = [d for d in history.deliveries(frame, cfg, period) if len(d.features)]
    ignored = history.ignored_columns(frame, cfg)
    echo(
        f"Replaying {len(frame)} rows of {source} as {len(deliveries)} {PERIOD_WORD[period]} "
        "partitions "
        f"({deliveries[0].day} .. {deliveries[-1].day}); labels arrive "
        f"{cfg.dataset.label_delay_days} day(s) later"
    )
    for key, value in sorted(overrides.items()):
        echo(f"  with {key}={value}")
    if ignored:
        echo(f"  columns not in the config (not delivered): {', '.join(ignored)}")
    if cfg.dataset.target not in frame.columns:
        echo(f"  no {cfg.dataset.target} column: events only, no labels, no training")

    records: list[DayRecord] = []
    t_all = time.perf_counter()
    echo(header(live_metric_name(cfg)))
    for delivery in deliveries:
        rec = drive_day(
            runner,
            delivery.day,
            functools.partial(history.write_delivery, store, cfg, delivery),
            labelled=max(delivery.labels, default=None),
        )
        records.append(rec)
        echo(format_row(asdict(rec)))
    meta = {
        "mode": "replay",
        "source": str(source),
        "config": cfg.source,
        "period": period,
        "label_delay_days": cfg.dataset.label_delay_days,
        "partitions": len(deliveries),
        "rows": len(frame),
        "start": deliveries[0].day.isoformat(),
        "end": deliveries[-1].day.isoformat(),
        "overrides": overrides,
        "ignored_columns": ignored,
        "live_metric_name": live_metric_name(cfg),
    }
    write_outcome(records, out, meta, t_all, echo, store, cfg)
    return records


__all__ = ["replay_env", "run_replay"]
