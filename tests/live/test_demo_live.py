"""`driftloop demo --live`: days land, a real scheduler ingests and scores them, the table is read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from driftloop.local import stack

pytestmark = pytest.mark.timeout(500)


def test_live_demo_lands_days_and_reports_what_the_scheduler_did(tmp_path: Path) -> None:
    out = tmp_path / "live"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DRIFTLOOP"))},
        "PYTHONPYCACHEPREFIX": os.environ.get("PYTHONPYCACHEPREFIX")
        or str(Path.home() / ".cache" / "driftloop-pycache"),
    }
    args = ["demo", "--live", "--days", "2", "--rows", "400", "--out", str(out)]
    args += ["--port", str(stack.free_port()), "--mlflow-port", str(stack.free_port())]
    try:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "driftloop"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=480,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    except BaseException:
        print(stack.log_tails(out / "state", 80))
        raise
    finally:
        stack.stop(out / "state")

    lines = done.stdout.splitlines()
    assert any(line.startswith("day ") for line in lines), done.stdout
    rows = [line for line in lines if line.startswith("2026-01-0")]
    assert [r.split()[0] for r in rows] == ["2026-01-01", "2026-01-02"], done.stdout
    assert all("validated" in r for r in rows)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta"]["mode"] == "live"
    for day in summary["days"]:
        # The scheduler did it: the sensor's run ingested the day, its asset event started score.
        assert day["validation"] == "validated" and day["rows"] > 200
        assert {"ingest", "score", "drift_check"} <= set(day["dag_seconds"]), day
        assert day["drift_status"] == "no_champion" and "bootstrap pending" in day["reason"]
    assert (out / "summary.png").exists() and (out / "summary.html").exists()

    # The demo stopped its stack.
    assert stack.status(out / "state") is None
