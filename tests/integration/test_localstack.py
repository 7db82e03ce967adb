"""The local stack's bookkeeping with stand-in processes: what counts as running, what stop stops.

The servers are replaced by `sleep`-like processes, so these run in a second; the real servers are
covered by tests/live/test_local_stack.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from driftloop.local import stack
from driftloop.local.stack import ProcessRef, Service, StackState

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
# A leader whose child puts itself into a process group of its own (as Airflow does with each task)
# and ignores SIGTERM: only the session ties it to the leader.
STUBBORN_CHILD = [
    sys.executable,
    "-c",
    "import os, signal, subprocess, sys, time\n"
    "code = 'import os, signal, time; os.setpgid(0, 0); "
    "signal.signal(signal.SIGTERM, signal.SIG_IGN); print(os.getpid(), flush=True); time.sleep(600)'\n"
    "child = subprocess.Popen([sys.executable, '-c', code], stdout=sys.stdout)\n"
    "time.sleep(600)",
]


def _dead_ref(name: str) -> ProcessRef:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    ref = ProcessRef.of(name, proc.pid)
    proc.wait()
    return ref


@pytest.fixture
def service(tmp_path: Path):
    started: list[Service] = []

    def make(argv: list[str] = SLEEPER, name: str = "airflow") -> Service:
        svc = Service(name, argv, {}, tmp_path / "logs" / f"{name}.log")
        svc.start(port=1, url="http://127.0.0.1:1")
        started.append(svc)
        return svc

    yield make
    for svc in started:
        svc.stop(timeout=1)


def test_nothing_running_without_state_or_lock(tmp_path: Path) -> None:
    assert stack.status(tmp_path) is None
    assert stack.stop(tmp_path) == []


def test_a_stale_state_file_after_everything_died_is_ignored_and_removed(tmp_path: Path) -> None:
    state = StackState(str(tmp_path), _dead_ref("supervisor"), {"airflow": _dead_ref("airflow")})
    (tmp_path / stack.STATE_FILE).write_text(state.to_json())
    assert stack.status(tmp_path) is None
    assert stack.stop(tmp_path) == []
    assert not (tmp_path / stack.STATE_FILE).exists()


def test_servers_outliving_a_killed_supervisor_block_a_start_and_stop_ends_them(
    tmp_path: Path, service
) -> None:
    svc = service()
    state = StackState(str(tmp_path), _dead_ref("supervisor"), {"airflow": svc.ref})
    (tmp_path / stack.STATE_FILE).write_text(state.to_json())

    running = stack.status(tmp_path)
    assert running is not None and running.services["airflow"].pid == svc.ref.pid
    assert "gone" in running.describe()[0]
    with pytest.raises(stack.AlreadyRunning):
        stack.start(tmp_path, port=stack.free_port(), mlflow_port=stack.free_port())

    assert stack.stop(tmp_path, timeout=5) == [svc.ref]
    assert not svc.ref.group()
    assert stack.status(tmp_path) is None


def test_a_held_lock_means_running(tmp_path: Path) -> None:
    state = StackState(str(tmp_path), ProcessRef.of("supervisor", psutil.Process().pid))
    (tmp_path / stack.STATE_FILE).write_text(state.to_json())
    with stack._exclusive(tmp_path) as locked:
        assert locked
        assert stack.status(tmp_path) == state
        with stack._exclusive(tmp_path) as again:
            assert not again  # a second supervisor would not start
    assert stack.status(tmp_path) is None


def test_a_recycled_pid_is_never_signalled() -> None:
    me = psutil.Process()
    stranger = ProcessRef("airflow", me.pid, me.create_time() - 1000)
    assert not stranger.alive()
    assert stranger.group() == []
    assert stack.stop_group(stranger) is False


def test_stop_ends_the_whole_session_even_a_child_in_its_own_group_that_ignores_term(
    service,
) -> None:
    svc = service(STUBBORN_CHILD)
    child_pid = int(
        stack.wait_until(lambda: svc.log_path.read_text().strip(), 20, "the child's pid", 0.1)
    )
    assert child_pid in {p.pid for p in svc.ref.group()}
    assert psutil.Process(child_pid).pid != svc.ref.pid and os.getpgid(child_pid) == child_pid

    svc.stop(timeout=1)

    assert not svc.ref.group()
    assert not psutil.pid_exists(child_pid) or (
        psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE
    )


def test_port_checks(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        assert not stack.port_free(busy)
        with pytest.raises(stack.PortInUse, match=str(busy)):
            stack.start(tmp_path, port=busy, mlflow_port=stack.free_port())
    assert stack.port_free(stack.free_port())


def test_mlflow_server_argv() -> None:
    mlflow = str(Path(sys.executable).parent / "mlflow")
    common = [mlflow, "server", "--host", "127.0.0.1", "--port", "5001", "--workers", "1"]
    # The local stack: clients write artifacts next to the store.
    local = stack.mlflow_server_argv(5001, "sqlite:///m.db", artifact_root="/h/mlruns")
    assert local == [
        *common,
        *("--backend-store-uri", "sqlite:///m.db", "--default-artifact-root", "/h/mlruns"),
    ]
    # The compose shape: artifacts proxied to S3, the Host headers it is reached by.
    proxied = stack.mlflow_server_argv(
        5001,
        "postgresql+psycopg2://u@h/db",
        artifacts_destination="s3://b/mlflow/artifacts",
        allowed_hosts=["127.0.0.1:5001", "localhost:5001"],
    )
    assert proxied == [
        *common,
        *("--backend-store-uri", "postgresql+psycopg2://u@h/db"),
        *("--artifacts-destination", "s3://b/mlflow/artifacts"),
        *("--allowed-hosts", "127.0.0.1:5001,localhost:5001"),
    ]
