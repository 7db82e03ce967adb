"""The per-day estimate files: written where the monitoring view reads them, with their keys."""

from __future__ import annotations

from datetime import date

from driftloop.core.storage import LocalStore
from driftloop.monitor.estimates import read_estimates, write_estimate


def test_estimates_round_trip_by_date(tmp_path) -> None:
    store = LocalStore(tmp_path)
    assert read_estimates(store) == {}
    bodies = {
        date(2026, 1, d): {
            "date": f"2026-01-{d:02d}",
            "model_version": "3",
            "metric": "roc_auc",
            "method": "cbpe",
            "value": 0.8 - d / 100,
            "rows": 1000 + d,
            "holdout_value": 0.81,
        }
        for d in (5, 4)
    }
    for day, body in bodies.items():
        uri = write_estimate(store, day, body)
        assert uri.endswith(f"monitoring/estimates/date={day.isoformat()}")
    got = read_estimates(store)
    assert list(got) == [date(2026, 1, 4), date(2026, 1, 5)]
    assert got == bodies
    write_estimate(store, date(2026, 1, 5), {**bodies[date(2026, 1, 5)], "value": None})
    assert read_estimates(store)[date(2026, 1, 5)]["value"] is None  # a rerun replaces the day
