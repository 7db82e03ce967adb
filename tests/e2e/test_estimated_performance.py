"""Acting before the labels land: the estimated-performance signal in the closed loop.

The scenario runs the demo twice: with drift that the estimate does not confirm left alone
(``retrain.on_drift_without_estimated_drop: false``) and with the default (drift retrains, after the
usual wait for labelled days of the new data), and compares what the loop decides. The estimator's error (estimated vs realised primary
metric per day, same model version and rows) is read from the daily reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean

import pytest

from tests.e2e.test_closed_loop import day_index, drift_retrains, run_demo

pytestmark = pytest.mark.e2e

ESTIMATE_DECIDES = {"RETRAIN__ON_DRIFT_WITHOUT_ESTIMATED_DROP": "false"}
DRIFT_DAY = 14


def estimation_errors(out: Path) -> dict[str, float]:
    """Estimated minus realised primary metric by day, from every day's report."""
    errors: dict[str, float] = {}
    for report in sorted((out / "state" / "data" / "monitoring" / "drift").glob("*/report.json")):
        body = json.loads(report.read_text())
        for e in (body.get("estimated_performance") or {}).get("errors") or []:
            errors[e["date"]] = e["error"]
    return errors


def test_a_harmless_shift_is_reported_but_not_retrained(tmp_path: Path) -> None:
    days = 20
    on = run_demo(tmp_path, "harmless_shift", days, DRIFT_DAY, ESTIMATE_DECIDES, name="on")["days"]
    alarms = [d for d in on if d["drift_status"] == "drift"]
    assert alarms and all(day_index(d) >= DRIFT_DAY for d in alarms)
    assert drift_retrains(on) == [], [(d["day"], d["reason"]) for d in drift_retrains(on)]
    assert all("drift reported, not acted on" in d["reason"] for d in alarms), alarms
    errors = estimation_errors(tmp_path / "on")
    print(
        f"harmless_shift: estimator MAE {mean(map(abs, errors.values())):.4f} on {len(errors)} days"
    )
    assert len(errors) >= 5 and mean(map(abs, errors.values())) < 0.03, errors
    # The realised metric did not drop: the shift is harmless indeed.
    lag = 3
    pre = [d["live_metric"] for d in on if d["live_metric"] and day_index(d) - lag < DRIFT_DAY]
    post = [d["live_metric"] for d in on if d["live_metric"] and day_index(d) - lag >= DRIFT_DAY]
    assert pre and post and mean(post) >= mean(pre) - 0.02, (pre, post)

    # The default acts on the same drift: it waits for labelled days of the new data to retrain.
    default = run_demo(tmp_path, "harmless_shift", days, DRIFT_DAY, name="default")["days"]
    pending = [d for d in default if d["drift_status"] == "drift"]
    assert all(d["reason"].startswith(("retrain pending", "suppressed: cooldown")) for d in pending)
    assert any(d["reason"].startswith("retrain pending") for d in pending), pending
