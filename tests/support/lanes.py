"""Run the test tiers in lanes side by side: ``python -m tests.support.lanes LANE [LANE...] [-- ARGS]``.

A lane is a comma-separated list of tiers run one after another, each tier its own pytest process
(``pytest tests/<tier>``); the lanes run at the same time. ``make test`` puts the tiers that compute
(dags, unit, integration, e2e, reliability) in one lane and those that mostly wait for servers
they start (service, live, browser) in another, so the waits overlap with the computing. Every
pytest process has its own session folder and temp folders (tests/conftest.py), every server a
free port, so the lanes (and another run on the machine) do not meet.

Each tier's output goes to ``<run folder>/<tier>.log`` and is printed whole when the tier ends
(never two tiers' lines interleaved), then a table of tiers, outcomes and times. Exit status 1 if
any tier failed, was empty or was stopped; every tier runs whatever the others do. ARGS after
``--`` go to every pytest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import REPO


@dataclass
class TierRun:
    tier: str
    lane: int
    log: Path
    code: int | None = None
    seconds: float = 0.0
    load: str = ""


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class Lanes:
    def __init__(self, lanes: list[list[str]], pytest_args: list[str], out: Path) -> None:
        self.lanes = lanes
        self.pytest_args = pytest_args
        self.out = out
        self.runs: list[TierRun] = []
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.print_lock = threading.Lock()
        self.stopping = threading.Event()

    def _run_lane(self, index: int, tiers: list[str]) -> None:
        for tier in tiers:
            run = TierRun(tier, index, self.out / f"{tier}.log")
            self.runs.append(run)
            if self.stopping.is_set():
                run.code = -1
                continue
            argv = [sys.executable, "-m", "pytest", f"tests/{tier}", "-p", "no:cacheprovider"]
            argv += self.pytest_args
            t0 = time.monotonic()
            with run.log.open("wb") as log:
                proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
                self.procs[tier] = proc
                run.code = proc.wait()
            if run.code == 2:  # pytest interrupted (Ctrl-C reaches the tiers first): no next tier
                self.stopping.set()
            run.seconds = time.monotonic() - t0
            run.load = _load()
            with self.print_lock:
                outcome = "passed" if run.code == 0 else f"FAILED (exit {run.code})"
                print(
                    f"\n===== tier {tier}: {outcome} in {_minutes(run.seconds)} =====", flush=True
                )
                sys.stdout.write(run.log.read_text(errors="replace"))
                sys.stdout.flush()

    def run(self) -> int:
        t0 = time.monotonic()
        print(
            f"lanes side by side: {' | '.join(','.join(t) for t in self.lanes)}; logs in {self.out}"
        )
        threads = [
            threading.Thread(target=self._run_lane, args=(i, tiers), daemon=True)
            for i, tiers in enumerate(self.lanes)
        ]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(timeout=0.5)
        except KeyboardInterrupt:
            self.stop()
            raise
        return self.report(time.monotonic() - t0)

    def stop(self) -> None:
        """Stop the running tiers (their fixtures' finalizers still run: SIGINT, not SIGKILL)."""
        self.stopping.set()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)

    def report(self, wall: float) -> int:
        failed = [r for r in self.runs if r.code != 0]
        print(f"\n{'tier':<12} {'lane':>4} {'outcome':<14} {'time':>8}  load at end (1/5/15 min)")
        for r in self.runs:
            outcome = "passed" if r.code == 0 else ("not run" if r.code == -1 else f"exit {r.code}")
            print(f"{r.tier:<12} {r.lane:>4} {outcome:<14} {_minutes(r.seconds):>8}  {r.load}")
        print(f"all tiers: {_minutes(wall)} wall; logs in {self.out}")
        if failed:
            print(f"FAILED tiers: {', '.join(r.tier for r in failed)}")
        return 1 if failed else 0


def main(argv: list[str]) -> int:
    if "--" in argv:
        cut = argv.index("--")
        lane_args, pytest_args = argv[:cut], argv[cut + 1 :]
    else:
        lane_args, pytest_args = argv, []
    lanes = [[t for t in arg.split(",") if t] for arg in lane_args]
    tiers = [t for lane in lanes for t in lane]
    unknown = [t for t in tiers if not (REPO / "tests" / t).is_dir()]
    if not lanes or unknown or len(set(tiers)) != len(tiers):
        print(f"usage: lanes TIER[,TIER...] ... [-- PYTEST_ARGS] (unknown or repeated: {unknown})")
        return 2
    out = Path(tempfile.mkdtemp(prefix="driftloop-tiers-"))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return Lanes(lanes, pytest_args, out).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
