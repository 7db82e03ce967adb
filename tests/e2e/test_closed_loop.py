"""Closed-loop scenarios: simulated days through the real DAGs (``driftloop demo`` in a subprocess).

Each scenario runs in its own process with its own Airflow DB, MLflow store and storage root (the
demo's state folder), exactly as a user's ``make demo`` does, and the assertions read the
summary.json it writes plus the registry decisions it recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from statistics import mean
from typing import Any

import pytest

START = date(2026, 1, 1)
BIN = Path(sys.executable).parent


def run_demo(
    tmp_path: Path,
    scenario: str,
    days: int,
    drift_day: int | None,
    settings: dict[str, str] | None = None,
    name: str | None = None,
    args: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run the demo; ``settings`` are config overrides (``{"RETRAIN__X": "v"}`` as DRIFTLOOP__ vars),
    ``args`` more demo options (``--rows``, ``--baseline``)."""
    out = tmp_path / (name or scenario)
    cmd = [str(BIN / "driftloop"), "demo", "--days", str(days), "--scenario", scenario]
    cmd += ["--seed", "7", "--out", str(out), "--start", START.isoformat(), *args]
    if drift_day is not None:
        cmd += ["--drift-start", (START + timedelta(days=drift_day)).isoformat()]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DRIFTLOOP__"))}
    env.update({f"DRIFTLOOP__{k}": v for k, v in (settings or {}).items()})
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        log = out / "state" / "tasks.log"
        tail = log.read_text()[-6000:] if log.exists() else ""
        pytest.fail(
            f"demo failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n{tail}"
        )
    summary = json.loads((out / "summary.json").read_text())
    assert (out / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert len(summary["days"]) == days
    return summary


def day_index(record: dict[str, Any]) -> int:
    return (date.fromisoformat(record["day"]) - START).days


def drift_retrains(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Training runs started by the drift check (the first model's bootstrap excluded)."""
    return [d for d in days if d["retrain_triggered"] and "bootstrap" not in d["action"]]


def test_stationary_data_never_retrains(tmp_path: Path) -> None:
    days = run_demo(tmp_path, "none", days=22, drift_day=None)["days"]
    assert [d["action"] for d in days if d["retrain_triggered"]] == ["bootstrap training, promoted"]
    assert drift_retrains(days) == []
    checked = [d for d in days if d["drift_status"] not in (None, "no_champion")]
    assert len(checked) >= 10
    assert all(d["drift_status"] != "drift" for d in checked), [d["reason"] for d in checked]
    assert all(d["validation"] == "validated" for d in days)


def test_covariate_shift_is_detected_retrained_once_and_recovers(tmp_path: Path) -> None:
    drift_day = 14
    days = run_demo(tmp_path, "covariate_shift", days=34, drift_day=drift_day)["days"]
    alarms = [day_index(d) for d in days if d["drift_status"] == "drift"]
    assert alarms and alarms[0] <= drift_day + 3, "drift not detected by D+3"
    assert all(i >= drift_day for i in alarms), "alarm before the shift: a false positive"
    shifted = {"monthly_charges", "days_since_last_login"}
    first = next(d for d in days if d["drift_status"] == "drift")
    assert set(first["drifted_features"]) == shifted

    retrains = drift_retrains(days)
    assert len(retrains) == 1, [(d["day"], d["reason"]) for d in retrains]
    assert retrains[0]["promoted"], retrains[0]
    new_champion = retrains[0]["champion_version"]

    # Live ROC AUC (the primary metric), by the day whose labels arrived: before the shift (old champion) vs once the new
    # champion scored the shifted data.
    lag = 3
    pre = [d["live_metric"] for d in days if d["live_metric"] and day_index(d) - lag < drift_day]
    promoted_at = day_index(retrains[0])
    post = [d["live_metric"] for d in days if d["live_metric"] and day_index(d) - lag > promoted_at]
    assert len(pre) >= 3 and len(post) >= 3
    assert mean(post) >= mean(pre) - 0.02, (pre, post)
    assert days[-1]["champion_version"] == new_champion


def test_concept_drift_is_caught_by_performance_monitoring(tmp_path: Path) -> None:
    drift_day = 14
    days = run_demo(tmp_path, "concept_drift", days=30, drift_day=drift_day)["days"]
    # The inputs do not move, so no feature drift alarm; the labels tell.
    assert all(d["drift_status"] != "drift" for d in days), [(d["day"], d["reason"]) for d in days]
    retrains = drift_retrains(days)
    assert retrains, "no retrain after concept drift"
    first = retrains[0]
    assert "performance decay" in first["reason"]
    assert day_index(first) > drift_day + 3  # needs the labels of drifted days (3 days late)
    assert first["promoted"], first
    # The decay is visible in the live ROC AUC once labels land, and the new champion repairs it.
    lag = 3
    decayed = [
        d["live_metric"]
        for d in days
        if d["live_metric"] and drift_day <= day_index(d) - lag <= day_index(first)
    ]
    repaired = [
        d["live_metric"] for d in days if d["live_metric"] and day_index(d) - lag > day_index(first)
    ]
    assert decayed and repaired
    assert mean(repaired) > mean(decayed) + 0.2, (decayed, repaired)


def test_data_quality_incident_is_quarantined_without_false_alarms(tmp_path: Path) -> None:
    drift_day = 12
    days = run_demo(tmp_path, "data_quality", days=20, drift_day=drift_day)["days"]
    quarantined = [day_index(d) for d in days if d["validation"] == "quarantined"]
    assert quarantined == [drift_day, drift_day + 1, drift_day + 2]
    assert drift_retrains(days) == []
    assert all(d["drift_status"] != "drift" for d in days)
