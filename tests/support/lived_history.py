"""Live a synthetic history through the real DAGs, day by day or as a backfill, in its own process.

``python -m tests.support.lived_history MODE OUT DAYS DRIFT_DAY ROWS`` runs the in-process demo driver
(``dag.test()`` of ingest, score, drift_check and train, real GX and an MLflow SQLite store) over
``DAYS`` days of a covariate shift starting on day ``DRIFT_DAY``, and writes ``OUT/history.json``:
each day's report.json (the storage root replaced by ``<root>`` so two runs compare), the actions
taken and the champion at the end.

* ``day_by_day``: each day is delivered, then ingested, scored and checked (the live order); then
  every day's check is rerun (``reruns``), with all labels landed and the later promotions made.
* ``backfill``: every day and every label is delivered and ingested before the first check runs,
  then the days are scored and checked in order.

A process of its own: the demo driver sets Airflow's environment before Airflow is first imported.
"""

from __future__ import annotations

import functools
import json
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

START = date(2026, 1, 1)
SEED = 7


def _report(store: Any, day: date) -> str:
    from driftloop.core.storage import DRIFT, partition_prefix

    text = store.read_bytes(f"{partition_prefix(DRIFT, day)}/report.json").decode()
    return text.replace(store.root, "<root>")


def live(mode: str, out: Path, n_days: int, drift_day: int, rows: int) -> dict[str, Any]:
    """Run the history in ``mode``; returns what ``history.json`` holds."""
    from driftloop.core.storage import open_store
    from driftloop.data import synth
    from driftloop.demo.run import DemoRunner, drive_day
    from driftloop.model import registry
    from driftloop.monitor.daily_check import run_daily_check

    runner = DemoRunner(out / "state")
    cfg = runner.cfg
    store = open_store(cfg.storage)
    scenario = synth.Scenario("covariate_shift", START + timedelta(days=drift_day))
    days = [START + timedelta(days=i) for i in range(n_days)]

    def deliver(day: date) -> None:
        synth.write_day(store, cfg, day, scenario, SEED, rows, first_day=START)

    if mode == "backfill":
        for day in days:  # the whole history lands and is ingested before any check
            deliver(day)
            runner.run("ingest", day)
    records = []
    for day in days:
        delivery = functools.partial(deliver, day) if mode == "day_by_day" else lambda: None
        records.append(drive_day(runner, day, delivery))
    reports = {day.isoformat(): _report(store, day) for day in days}
    champion = registry.champion(cfg)
    result: dict[str, Any] = {
        "mode": mode,
        "reports": reports,
        "actions": {r.day: r.action for r in records},
        "champion": None if champion is None else str(champion.version),
    }
    if mode == "day_by_day":
        reruns = {}
        for day in days:
            run_daily_check(cfg, day, store=store)
            reruns[day.isoformat()] = _report(store, day)
        result["reruns"] = reruns
    return result


def main(argv: list[str]) -> None:
    mode, out, n_days, drift_day, rows = argv
    found = live(mode, Path(out), int(n_days), int(drift_day), int(rows))
    (Path(out) / "history.json").write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
