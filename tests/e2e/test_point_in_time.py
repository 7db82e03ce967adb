"""Every decision of day D sees only what had landed by D: backfills and reruns decide the same.

One synthetic history (bootstrap, a covariate shift, a retrain and a promotion) is lived through the
real DAGs twice, each in its own process (:mod:`tests.support.lived_history`): day by day, and as a
backfill with every day and label ingested before the first check. Then each day's check of the
day-by-day run is rerun with every label landed and the later promotion made.
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.process import clean_env, run_loop

ROOT = Path(__file__).resolve().parents[2]
DAYS, DRIFT_DAY, ROWS, LABEL_DELAY = 13, 6, 500, 1
# A short loop: labels a day late, the first model after 4 labelled days, a retrain 4 labelled
# days after the onset.
SETTINGS = {
    "DATASET__LABEL_DELAY_DAYS": str(LABEL_DELAY),
    "RETRAIN__BOOTSTRAP_LABELLED_DAYS": "4",
    "RETRAIN__MIN_LABELLED_DAYS_AFTER_DRIFT": "4",
    "RETRAIN__COOLDOWN_DAYS": "2",
}


def _live(out: Path, mode: str) -> dict[str, Any]:
    """Run the history in ``mode`` in a process of its own; its ``history.json``."""
    env = clean_env({f"DRIFTLOOP__{k}": v for k, v in SETTINGS.items()})
    args = [mode, str(out), str(DAYS), str(DRIFT_DAY), str(ROWS)]
    cmd = [sys.executable, "-m", "tests.support.lived_history", *args]
    run_loop(cmd, out, env, mode, cwd=ROOT, timeout=2400)
    found: dict[str, Any] = json.loads((out / "history.json").read_text())
    return found


@pytest.fixture(scope="module")
def lived(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _live(tmp_path_factory.mktemp("day_by_day"), "day_by_day")


def _decisions(reports: dict[str, str]) -> list[tuple[str, Any, Any]]:
    """Per day: the champion judged and the decision, for a readable failure message."""
    out = []
    for day, text in sorted(reports.items()):
        body = json.loads(text)
        out.append((day, body.get("champion_version"), body["decision"]["reason"]))
    return out


def test_the_history_exercises_the_whole_loop(lived: dict[str, Any]) -> None:
    """The history trains a first model and retrains on the shift, so the comparisons below cover
    bootstrap, live metrics, estimates, decay, onsets and a retrain window."""
    actions = list(lived["actions"].values())
    assert "bootstrap training, promoted" in actions, actions
    assert "retrain, promoted" in actions, actions
    assert lived["champion"] == "2"


def test_a_backfill_decides_as_the_days_lived_one_by_one(
    lived: dict[str, Any], tmp_path: Path
) -> None:
    """The same history landed at once gives byte-identical reports, day by day."""
    backfill = _live(tmp_path / "backfill", "backfill")

    assert _decisions(backfill["reports"]) == _decisions(lived["reports"])
    assert backfill["reports"] == lived["reports"]
    assert backfill["actions"] == lived["actions"]


def test_a_rerun_reproduces_the_record_of_its_day(lived: dict[str, Any]) -> None:
    """Rerunning a past day's check after more labels landed and a later promotion rewrites the
    same report byte for byte, judging the champion that was serving that day."""
    assert _decisions(lived["reruns"]) == _decisions(lived["reports"])
    assert lived["reruns"] == lived["reports"]
    retrained = next(d for d, a in lived["actions"].items() if a == "retrain, promoted")
    body = json.loads(lived["reruns"][retrained])
    assert body["champion_version"] == "1" != lived["champion"]
    # Labels arrive a day after their events: the newest label day it may count is D - 1.
    assert body["as_of"]["labels_landed_by"] == retrained
    assert body["as_of"]["label_days"]
    newest = date.fromisoformat(max(body["as_of"]["label_days"]))
    assert newest <= date.fromisoformat(retrained) - timedelta(days=LABEL_DELAY)
