"""Run a loop (the demo, a scenario) in a process of its own, as a user's command would.

The demo driver sets Airflow's environment before Airflow is first imported, so each loop needs a
fresh process; a failure shows the command's output and the tail of the tasks' log.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest


def clean_env(settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without Airflow's or driftloop's settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DRIFTLOOP__"))}
    env.update(settings or {})
    return env


def run_loop(
    cmd: list[str],
    out: Path,
    env: Mapping[str, str],
    what: str,
    cwd: Path | None = None,
    timeout: float = 1200,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (whose state folder is ``out/state``); fails the test when it fails."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        log = out / "state" / "tasks.log"
        tail = log.read_text()[-6000:] if log.exists() else ""
        pytest.fail(f"{what} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n{tail}")
    return proc
