"""Acting before the labels land: the estimated-performance signal in the closed loop.

Each scenario runs the demo twice, with the estimate signal on (the default) and off
(``retrain.estimated_drop_signal: false``: drift alone retrains, as before estimates existed), and
compares when, or whether, the loop retrains. The estimator's error (estimated vs realised primary
metric per day, same model version and rows) is read from the daily reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean
from typing import Any

import pytest

from tests.e2e.test_closed_loop import day_index, drift_retrains, run_demo

pytestmark = pytest.mark.e2e

OFF = {"RETRAIN__ESTIMATED_DROP_SIGNAL": "false"}
DRIFT_DAY = 14


def estimation_errors(out: Path) -> dict[str, float]:
    """Estimated minus realised primary metric by day, from every day's report."""
    errors: dict[str, float] = {}
    for report in sorted((out / "state" / "data" / "monitoring" / "drift").glob("*/report.json")):
        body = json.loads(report.read_text())
        for e in (body.get("estimated_performance") or {}).get("errors") or []:
            errors[e["date"]] = e["error"]
    return errors


def first_retrain(days: list[dict[str, Any]]) -> dict[str, Any]:
    retrains = drift_retrains(days)
    assert retrains, [(d["day"], d["reason"]) for d in days]
    return retrains[0]


def test_a_harmful_shift_is_acted_on_sooner(tmp_path: Path) -> None:
    days = 26
    on = run_demo(tmp_path, "covariate_shift", days, DRIFT_DAY, name="on")["days"]
    off = run_demo(tmp_path, "covariate_shift", days, DRIFT_DAY, OFF, name="off")["days"]
    sooner, later = first_retrain(on), first_retrain(off)
    assert "estimated drop" in sooner["reason"], sooner["reason"]
    saved = day_index(later) - day_index(sooner)
    errors = estimation_errors(tmp_path / "on")
    print(f"covariate_shift: retrain day {day_index(sooner)} vs {day_index(later)}, saved {saved}")
    print(
        f"covariate_shift: estimator MAE {mean(map(abs, errors.values())):.4f} on {len(errors)} days"
    )
    assert saved > 0
    assert sooner["promoted"], sooner
    assert errors and mean(map(abs, errors.values())) < 0.05, errors


def test_a_harmless_shift_is_reported_but_not_retrained(tmp_path: Path) -> None:
    days = 22
    on = run_demo(tmp_path, "harmless_shift", days, DRIFT_DAY, name="on")["days"]
    alarms = [d for d in on if d["drift_status"] == "drift"]
    assert alarms and all(day_index(d) >= DRIFT_DAY for d in alarms)
    assert drift_retrains(on) == [], [(d["day"], d["reason"]) for d in drift_retrains(on)]
    assert any("drift reported, not acted on" in (d["reason"] or "") for d in alarms)
    errors = estimation_errors(tmp_path / "on")
    print(
        f"harmless_shift: estimator MAE {mean(map(abs, errors.values())):.4f} on {len(errors)} days"
    )
    assert errors and mean(map(abs, errors.values())) < 0.05, errors
    # The realised metric did not drop: the shift is harmless indeed.
    lag = 3
    pre = [d["live_metric"] for d in on if d["live_metric"] and day_index(d) - lag < DRIFT_DAY]
    post = [d["live_metric"] for d in on if d["live_metric"] and day_index(d) - lag >= DRIFT_DAY]
    assert pre and post and mean(post) >= mean(pre) - 0.02, (pre, post)

    off = run_demo(tmp_path, "harmless_shift", days, DRIFT_DAY, OFF, name="off")["days"]
    assert drift_retrains(off), "drift alone retrains when the estimate is off"
