"""The local stack: Airflow (``airflow standalone``) and the MLflow UI on this machine.

One stack per state folder (``DRIFTLOOP_HOME``). ``start()`` launches a small supervisor process
(``python -m driftloop.local.stack``) that

- holds an exclusive ``flock`` on ``<home>/stack.lock`` for its whole life (the kernel drops it when
  the supervisor dies, however it dies, so a stale file never blocks a start);
- starts each server in its own process group and records them in ``<home>/stack.json`` (pids,
  process start times, ports, URLs, logs);
- stops both when it gets TERM/INT/HUP, or when one of them exits on its own, then removes the state.

``stop()`` asks the supervisor to stop and then makes sure no process of the recorded groups is left
(they are identified by pid *and* start time, so a recycled pid is never signalled). This also
covers a supervisor killed with ``kill -9``: its servers keep running, the lock is free, and the
state file still names them; ``start()`` refuses until they are stopped.

Everything here is plain processes and HTTP: it never imports Airflow.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psutil
import requests

from driftloop.core.errors import EXIT_NOTHING_TO_DO, EXIT_UNAVAILABLE, EXIT_USAGE, DriftloopError
from driftloop.local.env import airflow_env

T = TypeVar("T")

LOCK_FILE = "stack.lock"
STATE_FILE = "stack.json"
LOG_DIR = "logs"
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
EXIT_ALREADY_RUNNING = EXIT_NOTHING_TO_DO
AIRFLOW_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
LOG_SERVER_PORT_VARS = (
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
)


class StackError(DriftloopError):
    """The local stack cannot be started or reached; the message says why and what to do."""

    exit_code = EXIT_UNAVAILABLE


class AlreadyRunning(StackError):
    """A stack already runs from this state folder: nothing to start (stop it, or use another)."""

    exit_code = EXIT_ALREADY_RUNNING

    def __init__(self, state: StackState) -> None:
        self.state = state
        super().__init__(f"a local stack is already running from {state.home}")


class PortInUse(StackError):
    """A port asked for is taken: pick others."""

    exit_code = EXIT_USAGE


class StartFailed(StackError):
    """A server exited or was not ready in time; the message holds the last log lines."""


# -- processes -------------------------------------------------------------------------------------
@dataclass
class ProcessRef:
    """A process we started, identified by pid and start time (pids are recycled)."""

    name: str
    pid: int
    create_time: float
    port: int | None = None
    url: str | None = None
    log: str | None = None

    @classmethod
    def of(cls, name: str, pid: int, **kw: Any) -> ProcessRef:
        return cls(name, pid, psutil.Process(pid).create_time(), **kw)

    def alive(self) -> bool:
        """The very process we started is still there (not a zombie, not a recycled pid)."""
        try:
            p = psutil.Process(self.pid)
            return (
                abs(p.create_time() - self.create_time) < 0.5 and p.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.Error:
            return False

    def group(self) -> list[psutil.Process]:
        """Live processes started under this one: its session (``start_new_session``).

        The session, not only the process group: Airflow runs each task in a process group of its
        own, inside the same session.
        """
        try:
            if abs(psutil.Process(self.pid).create_time() - self.create_time) >= 0.5:
                return []  # the pid was recycled, so our session had emptied: nothing of ours
        except psutil.NoSuchProcess:
            pass
        # While any process of a session lives, Linux does not hand its id out as a new pid, so the
        # members of a session whose leader has exited are still ours.
        members = []
        for p in psutil.process_iter():
            try:
                if os.getsid(p.pid) == self.pid and p.status() != psutil.STATUS_ZOMBIE:
                    members.append(p)
            except (ProcessLookupError, PermissionError, psutil.Error):
                continue
        return members


def stop_group(ref: ProcessRef, timeout: float = 60.0) -> bool:
    """TERM the process group of ``ref`` (its leader stops its children), wait for every process
    of its session to exit, KILL what is left after ``timeout``. Returns whether any was running."""
    if not ref.group():
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(ref.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while ref.group() and time.monotonic() < deadline:
        time.sleep(0.2)
    for p in ref.group():
        with contextlib.suppress(psutil.Error):
            p.kill()
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not ref.group(), 10, f"{ref.name} to exit after SIGKILL", 0.2)
    return True


class Service:
    """One command in its own process group (a new session), its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.ref: ProcessRef | None = None

    def start(self, **ref_fields: Any) -> ProcessRef:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as a whole
            )
        self.ref = ProcessRef.of(self.name, self.proc.pid, log=str(self.log_path), **ref_fields)
        return self.ref

    def exited(self) -> int | None:
        """The exit code once the leader has exited, else None."""
        return None if self.proc is None else self.proc.poll()

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc is None or self.ref is None:
            return
        stop_group(self.ref, timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)  # reap the leader

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_path, lines)


def log_tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    every: float = 1.0,
    check: Callable[[], None] | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy; ``check`` may raise to give up early."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


# -- ports and health ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def airflow_health(base_url: str) -> dict[str, Any] | None:
    """The api-server's health document, or None while it does not answer."""
    try:
        r = requests.get(f"{base_url}/api/v2/monitor/health", timeout=3)
    except requests.RequestException:
        return None
    return r.json() if r.status_code == 200 else None


def airflow_ready(base_url: str) -> bool:
    """The api-server answers and every component (scheduler, triggerer, ...) reports healthy."""
    health = airflow_health(base_url)
    return health is not None and all(
        (health.get(c) or {}).get("status") == "healthy" for c in AIRFLOW_COMPONENTS
    )


def mlflow_ready(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/health", timeout=3).status_code == 200
    except requests.RequestException:
        return False


# -- Airflow REST ----------------------------------------------------------------------------------
class AirflowClient:
    """A small client of Airflow's REST API v2, logged in as ``admin`` (SimpleAuthManager)."""

    def __init__(self, base_url: str, password: Callable[[], str], user: str = "admin") -> None:
        self.base_url = base_url
        self._password = password
        self.user = user
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            r = requests.post(
                f"{self.base_url}/auth/token",
                json={"username": self.user, "password": self._password()},
                timeout=10,
            )
            r.raise_for_status()
            self._token = r.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v2/<path>``; raises on HTTP errors, returns the JSON body (or None).

        Idempotent calls (GET, PATCH, PUT) are retried a few times on a server error: on the
        local SQLite metadata DB a busy scheduler makes the api-server answer 500 ("database is
        locked") now and then. Other calls are never repeated (a POST could trigger twice).
        """
        attempts = 4 if method.upper() in ("GET", "PATCH", "PUT") else 1
        for attempt in range(attempts):
            r = requests.request(
                method,
                f"{self.base_url}/api/v2/{path.lstrip('/')}",
                headers={"Authorization": f"Bearer {self.token()}"},
                timeout=15,
                **kwargs,
            )
            if r.status_code < 500 or attempt == attempts - 1:
                break
            time.sleep(1 + 2 * attempt)
        r.raise_for_status()
        return r.json() if r.content else None


def admin_password(home: Path) -> str:
    """The admin password SimpleAuthManager generated for the stack under ``home``."""
    path = home / "airflow" / PASSWORD_FILE
    return str(json.loads(path.read_text())["admin"])


# -- state -----------------------------------------------------------------------------------------
@dataclass
class StackState:
    """What ``<home>/stack.json`` records about a running stack."""

    home: str
    supervisor: ProcessRef
    services: dict[str, ProcessRef] = field(default_factory=dict)
    started_at: str = ""

    @property
    def airflow_url(self) -> str | None:
        return self.services["airflow"].url if "airflow" in self.services else None

    @property
    def mlflow_url(self) -> str | None:
        return self.services["mlflow"].url if "mlflow" in self.services else None

    def refs(self) -> list[ProcessRef]:
        return [*self.services.values(), self.supervisor]

    def describe(self) -> list[str]:
        gone = "" if self.supervisor.alive() else " (gone; the servers it started still run)"
        lines = [f"supervisor pid {self.supervisor.pid}{gone}"]
        for name, ref in self.services.items():
            lines.append(f"{name} {ref.url or ''} (process group {ref.pid})".replace("  ", " "))
        return lines

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackState:
        return cls(
            home=data["home"],
            supervisor=ProcessRef(**data["supervisor"]),
            services={k: ProcessRef(**v) for k, v in data.get("services", {}).items()},
            started_at=data.get("started_at", ""),
        )


def read_state(home: Path) -> StackState | None:
    try:
        return StackState.from_dict(json.loads((home / STATE_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(home: Path, state: StackState) -> None:
    tmp = home / f".{STATE_FILE}.tmp"
    tmp.write_text(state.to_json())
    tmp.replace(home / STATE_FILE)


def _open_lock(home: Path) -> int:
    home.mkdir(parents=True, exist_ok=True)
    return os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)


def _lock_held(home: Path) -> bool:
    """Whether a supervisor holds the lock of ``home`` (the lock file itself is never deleted)."""
    fd = _open_lock(home)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we just took
    return False


def status(home: Path) -> StackState | None:
    """The stack running from ``home``, or None. Running means: a supervisor holds the lock, or
    a process recorded in the state file is still alive (e.g. after the supervisor was killed)."""
    home = home.resolve()
    state = read_state(home)
    if _lock_held(home):
        if state is None:  # the supervisor is between taking the lock and writing the state
            time.sleep(1)
            state = read_state(home)
        return state or StackState(str(home), ProcessRef("supervisor", -1, 0.0))
    if state is not None and any(ref.group() for ref in state.services.values()):
        return state
    return None


# -- start / stop ----------------------------------------------------------------------------------
def stack_env(
    home: Path,
    *,
    port: int,
    mlflow_port: int | None,
    extra_env: dict[str, str] | None = None,
    inherit: bool = True,
) -> dict[str, str]:
    """The environment of the stack's processes (``mlflow_port`` None: Airflow alone).

    ``inherit=False`` drops AIRFLOW* and DRIFTLOOP* variables of the calling shell (an isolated
    stack, e.g. the live demo or a test); ``make airflow`` inherits them (a user's overrides).
    """
    base = dict(os.environ)
    if not inherit:
        base = {k: v for k, v in base.items() if not k.startswith(("AIRFLOW", "DRIFTLOOP"))}
    env = {**base, **airflow_env(home, port=port)}
    if mlflow_port is not None:
        # Task links to MLflow runs point at this UI.
        env["DRIFTLOOP_MLFLOW_UI_URL"] = f"http://127.0.0.1:{mlflow_port}"
        # One worker, no job runner: ~0.5 GiB instead of 2.5 GiB.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    # Airflow's log servers (worker 8793, triggerer 8794 by default) on ports of this stack's own:
    # with the defaults a second stack on the machine (a test's, the live demo's) cannot bind them.
    # A port the calling shell or the caller sets wins.
    for key in LOG_SERVER_PORT_VARS:
        env.setdefault(key, str(free_port()))
    env.update(extra_env or {})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def mlflow_server_argv(
    port: int,
    backend_store_uri: str,
    *,
    artifact_root: str | None = None,
    artifacts_destination: str | None = None,
    allowed_hosts: Sequence[str] = (),
) -> list[str]:
    """The ``mlflow server`` command of a stack: this venv's mlflow on 127.0.0.1, one worker.

    ``artifact_root``: where clients write artifacts themselves (the local stack: next to the
    store). ``artifacts_destination``: the server proxies artifacts to it (compose: S3).
    ``allowed_hosts``: the Host headers the server accepts, when its defaults do not cover them.
    """
    argv = [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", "1", "--backend-store-uri", backend_store_uri]
    if artifact_root is not None:
        argv += ["--default-artifact-root", artifact_root]
    if artifacts_destination is not None:
        argv += ["--artifacts-destination", artifacts_destination]
    if allowed_hosts:
        argv += ["--allowed-hosts", ",".join(allowed_hosts)]
    return argv


def start(
    home: Path,
    *,
    port: int = 8080,
    mlflow_port: int = 5000,
    extra_env: dict[str, str] | None = None,
    inherit_env: bool = True,
    foreground: bool = False,
    ready_timeout: float = 240.0,
) -> tuple[StackState, subprocess.Popen[bytes]]:
    """Start the stack of ``home`` and wait until Airflow and MLflow are ready.

    Returns the recorded state and the supervisor process. With ``foreground`` the supervisor stays
    in the caller's session (Ctrl-C in the terminal reaches it); otherwise it is detached and
    outlives the caller. Raises AlreadyRunning, PortInUse or StartFailed.
    """
    home = home.resolve()
    running = status(home)
    if running is not None:
        raise AlreadyRunning(running)
    for what, p in (("Airflow", port), ("MLflow", mlflow_port)):
        if not port_free(p):
            raise PortInUse(f"port {p} (for {what}) is in use by another program")
    if port == mlflow_port:
        raise PortInUse(f"Airflow and MLflow cannot share port {port}")
    env = stack_env(
        home, port=port, mlflow_port=mlflow_port, extra_env=extra_env, inherit=inherit_env
    )
    log_dir = home / LOG_DIR
    log_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "driftloop.local.stack", "--home", str(home)]
    argv += ["--port", str(port), "--mlflow-port", str(mlflow_port)]
    with (log_dir / "stack.log").open("ab") as log:
        sup = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=not foreground,
        )

    def supervisor_alive() -> None:
        code = sup.poll()
        if code == EXIT_ALREADY_RUNNING:
            other = status(home)
            if other is not None:
                raise AlreadyRunning(other)
        if code is not None:
            raise StartFailed(f"the stack exited ({code}) while starting:\n{log_tails(home)}")

    def ready() -> StackState | None:
        state = read_state(home)
        if state is None or state.supervisor.pid != sup.pid or len(state.services) < 2:
            return None
        if airflow_ready(state.airflow_url or "") and mlflow_ready(state.mlflow_url or ""):
            # The password file is written when the api-server starts; wait for it to be complete.
            with contextlib.suppress(OSError, ValueError, KeyError):
                admin_password(home)
                return state
        return None

    try:
        state = wait_until(ready, ready_timeout, "Airflow and MLflow", 1.0, supervisor_alive)
    except TimeoutError as err:
        stop(home)
        raise StartFailed(f"{err}; stopped again. Last log lines:\n{log_tails(home)}") from None
    except StartFailed:
        stop(home)
        raise
    except KeyboardInterrupt:
        stop(home)
        raise
    return state, sup


def stop(home: Path, timeout: float = 60.0) -> list[ProcessRef]:
    """Stop the stack of ``home``: what it recorded, and only that. Returns the servers that ran."""
    home = home.resolve()
    state = read_state(home)
    if state is None:
        return []
    running = [ref for ref in state.services.values() if ref.group()]
    if _lock_held(home) and state.supervisor.alive():
        # The supervisor stops its servers and reaps them; give it their timeout and some.
        os.kill(state.supervisor.pid, signal.SIGTERM)
        wait_until(lambda: not _lock_held(home), timeout + 20, "the supervisor to stop", 0.2)
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: not state.supervisor.alive(), 10, "the supervisor to exit", 0.1)
    for ref in state.services.values():
        stop_group(ref, timeout)  # what a supervisor killed with -9 left behind
    if not _lock_held(home):
        (home / STATE_FILE).unlink(missing_ok=True)
    return running


def log_tails(home: Path, lines: int = 30) -> str:
    parts = []
    for name in ("stack", "airflow", "mlflow"):
        tail = log_tail(home / LOG_DIR / f"{name}.log", lines)
        if tail:
            parts.append(f"--- {home / LOG_DIR / name}.log ---\n{tail}")
    return "\n".join(parts)


def banner(state: StackState, *, stop_hint: str = "make stop  (or: driftloop stop)") -> str:
    """What a person needs to use the stack: URLs, login, logs, how to stop it."""
    home = Path(state.home)
    try:
        password = admin_password(home)
    except (OSError, ValueError, KeyError):
        password = f"(not generated yet: see {home / 'airflow' / PASSWORD_FILE})"
    return "\n".join(
        [
            f"Airflow UI  {state.airflow_url}   user admin   password {password}",
            f"MLflow UI   {state.mlflow_url}",
            f"Logs        {home / LOG_DIR}/ (stack.log, airflow.log, mlflow.log); "
            f"task logs in {home / 'airflow' / 'logs'}/",
            f"Alerts      {home / 'mail'}/ (emails caught by the local mail catcher)",
            f"Stop        {stop_hint}",
        ]
    )


# -- the supervisor --------------------------------------------------------------------------------
def _log(msg: str) -> None:
    print(f"{datetime.now(UTC).isoformat(timespec='seconds')} {msg}", flush=True)


@contextlib.contextmanager
def _exclusive(home: Path) -> Iterator[bool]:
    """Hold the stack lock of ``home`` for the block; yields False if someone else holds it."""
    fd = _open_lock(home)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def supervise(home: Path, port: int, mlflow_port: int) -> int:
    """Run both servers until asked to stop (TERM/INT/HUP) or until one of them exits."""
    from driftloop.core.config import load_config

    home = home.resolve()
    with _exclusive(home) as locked:
        if not locked:
            _log(f"another supervisor holds {home / LOCK_FILE}: not starting")
            return EXIT_ALREADY_RUNNING
        previous = read_state(home)
        if previous is not None and any(ref.group() for ref in previous.services.values()):
            _log("processes of an earlier stack are still running: run `driftloop stop` first")
            return EXIT_ALREADY_RUNNING

        stopping = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            _log(f"got {signal.Signals(signum).name}: stopping")
            stopping.set()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, on_signal)

        state = StackState(
            str(home),
            ProcessRef.of("supervisor", os.getpid()),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        _write_state(home, state)  # first, so that `stop` can find the supervisor at once
        cfg = load_config()  # in the stack's environment: its home, its config
        (home / "airflow").mkdir(parents=True, exist_ok=True)
        (home / "mlflow").mkdir(parents=True, exist_ok=True)
        bindir = Path(sys.executable).parent
        env = dict(os.environ)
        # Alerts land in a folder a newcomer can read: $DRIFTLOOP_HOME/mail/ (no mail account).
        from driftloop.local.mailcatcher import MAIL_DIR, MailCatcher, local_alert_env

        mail = MailCatcher(home / MAIL_DIR).start()
        env.update(local_alert_env(mail.port, env))
        _log(f"mail catcher on port {mail.port}: alerts saved in {mail.folder}/")
        services = [
            Service(
                "airflow",
                [str(bindir / "airflow"), "standalone"],
                env,
                home / LOG_DIR / "airflow.log",
            ),
            Service(
                "mlflow",
                mlflow_server_argv(
                    mlflow_port, cfg.tracking_uri(), artifact_root=cfg.artifact_location()
                ),
                env,
                home / LOG_DIR / "mlflow.log",
            ),
        ]
        code = 0
        try:
            for svc, p in zip(services, (port, mlflow_port), strict=True):
                if stopping.is_set():
                    break
                state.services[svc.name] = svc.start(port=p, url=f"http://127.0.0.1:{p}")
                _write_state(home, state)
                _log(f"started {svc.name} (process group {svc.ref.pid}) on port {p}")  # type: ignore[union-attr]
            while not stopping.wait(1.0):
                dead = [s for s in services if s.exited() is not None]
                if dead:
                    for s in dead:
                        _log(f"{s.name} exited ({s.exited()}); stopping the stack")
                    code = 1
                    break
        finally:
            for svc in reversed(services):
                svc.stop()
                _log(f"stopped {svc.name}")
            mail.stop()
            (home / STATE_FILE).unlink(missing_ok=True)
        return code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="supervise the local stack (started by `driftloop airflow`)"
    )
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mlflow-port", type=int, required=True)
    args = p.parse_args(argv)
    return supervise(args.home, args.port, args.mlflow_port)


if __name__ == "__main__":
    sys.exit(main())
