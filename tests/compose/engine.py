"""A Docker engine of the compose tier's own, and every image the stack needs, built here.

No image registry is reachable from this project's machines, so nothing is pulled:

1. a Debian bookworm minbase root file system from ``debootstrap``, imported as
   ``driftloop-base:bookworm``;
2. stand-ins for the third-party images under the names docker-compose.yaml uses
   (``tests/compose/images/``: ``python:3.11-slim-bookworm``, ``postgres:16``,
   ``redis:7.2-bookworm``, ``minio/minio:...`` and ``minio/mc:...``), each honouring the parts of
   the official image's contract the compose file relies on;
3. the project's image from the repository's unchanged ``Dockerfile``.

The engine (``dockerd``) gets its own data root, exec root, socket and pidfile under the cache
folder (``DRIFTLOOP_COMPOSE_CACHE``, default ``/var/tmp/driftloop-docker``, outside the
repository): the debootstrap tarball and the engine's images and build cache stay there between
runs, so only the first run on a machine builds from cold. ``python -m tests.compose.engine build``
builds everything and prints the timings; ``... stop`` stops an engine left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import REPO

IMAGES = REPO / "tests" / "compose" / "images"
CACHE = Path(os.environ.get("DRIFTLOOP_COMPOSE_CACHE", "/var/tmp/driftloop-docker"))
BASE_IMAGE = "driftloop-base:bookworm"
PROJECT_IMAGE = "driftloop:latest"
# The stand-ins: build folder under tests/compose/images/ -> the names docker-compose.yaml uses.
STANDINS = {
    "python": ["python:3.11-slim-bookworm"],
    "postgres": ["postgres:16"],
    "redis": ["redis:7.2-bookworm"],
    "minio": ["minio/minio:RELEASE.2025-04-22T22-12-26Z", "minio/mc:RELEASE.2025-04-16T18-13-26Z"],
}
# Certificate authorities of this machine beyond Debian's (an egress that re-signs TLS): trusted
# inside the Python stand-in so pip, uv and npm reach the registries from `docker build`.
EXTRA_CA = Path("/usr/local/share/ca-certificates")
TOOLS = ("dockerd", "docker", "docker-compose", "debootstrap")


def missing_tools() -> list[str]:
    """The programs the tier needs that are not installed (``apt-get install docker.io
    docker-compose debootstrap`` provides them)."""
    return [t for t in TOOLS if shutil.which(t, path=_path()) is None]


def _path() -> str:
    # Debian's engine and client first: a newer client elsewhere on PATH may speak an API version
    # this engine (20.10) does not.
    return os.pathsep.join(["/usr/sbin", "/usr/bin", os.environ.get("PATH", "")])


@dataclass
class Engine:
    """A ``dockerd`` on its own socket; ``start()``, ``docker(...)``, ``stop()``."""

    root: Path = CACHE
    timings: dict[str, float] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.root / "engine" / "docker.sock"

    @property
    def pidfile(self) -> Path:
        return self.root / "engine" / "dockerd.pid"

    @property
    def env(self) -> dict[str, str]:
        """The environment for docker and docker-compose commands aimed at this engine."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_HOST=f"unix://{self.socket}", PATH=_path())
        return env

    def start(self, timeout: float = 60.0) -> Engine:
        if self.running():
            return self
        engine = self.root / "engine"
        for sub in ("data", "exec"):
            (engine / sub).mkdir(parents=True, exist_ok=True)
        log = (engine / "dockerd.log").open("ab")
        roots = ["--data-root", str(engine / "data"), "--exec-root", str(engine / "exec")]
        self._proc = subprocess.Popen(
            ["dockerd", *roots, "-H", f"unix://{self.socket}", "--pidfile", str(self.pidfile)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.running():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                tail = (engine / "dockerd.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"dockerd did not start:\n{tail}")
            time.sleep(0.5)
        return self

    def running(self) -> bool:
        if not self.socket.exists():
            return False
        probe = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            env=self.env,
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0

    def stop(self, timeout: float = 60.0) -> None:
        """Stop every container of this engine, then the engine (by its pidfile)."""
        if self.running():
            ids = self.docker("ps", "-q").stdout.split()
            if ids:
                self.docker("kill", *ids, check=False)
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    break  # ours, exited and reaped (a zombie would still answer kill 0)
                os.kill(pid, 0)
                time.sleep(0.5)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)

    def docker(
        self, *args: str, check: bool = True, timeout: float = 3600, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["docker", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            input=input,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
        return proc

    def has_image(self, name: str) -> bool:
        return self.docker("image", "inspect", name, check=False).returncode == 0

    # -- images ------------------------------------------------------------------------------------
    def build_base(self) -> None:
        """``driftloop-base:bookworm`` from a debootstrap minbase, the tarball cached."""
        if self.has_image(BASE_IMAGE):
            return
        t0 = time.monotonic()
        tarball = self.root / "bookworm-minbase.tar"
        if not tarball.exists():
            rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=self.root))
            try:
                subprocess.run(
                    ["debootstrap", "--variant=minbase", "bookworm", str(rootfs)],
                    check=True,
                    capture_output=True,
                    env=self.env,
                )
                partial = tarball.with_suffix(".partial")
                skip = "--exclude=./var/cache/apt/archives/*.deb"
                subprocess.run(
                    ["tar", "-C", str(rootfs), skip, "-cf", str(partial), "."], check=True
                )
                partial.rename(tarball)
            finally:
                shutil.rmtree(rootfs, ignore_errors=True)
        self.docker(
            "import", "-c", "ENV LANG=C.UTF-8", "-c", 'CMD ["bash"]', str(tarball), BASE_IMAGE
        )
        self.timings["base"] = time.monotonic() - t0

    def build_standins(self) -> None:
        """The third-party images of docker-compose.yaml, from tests/compose/images/."""
        t0 = time.monotonic()
        for folder, names in STANDINS.items():  # python first: minio builds on it
            with tempfile.TemporaryDirectory(prefix=f"standin-{folder}-") as tmp:
                ctx = Path(tmp) / "ctx"
                shutil.copytree(IMAGES / folder, ctx)
                if folder == "python":
                    (ctx / "ca").mkdir()
                    for crt in EXTRA_CA.glob("*.crt") if EXTRA_CA.is_dir() else []:
                        shutil.copy(crt, ctx / "ca" / crt.name)
                self.docker("build", "-q", "-t", names[0], str(ctx))
            for alias in names[1:]:
                self.docker("tag", names[0], alias)
        self.timings["standins"] = time.monotonic() - t0

    def build_project(self, *, no_cache: bool = False) -> float:
        """The project's image from the repository's Dockerfile; returns the seconds it took."""
        t0 = time.monotonic()
        args = ["build", "-t", PROJECT_IMAGE, *(["--no-cache"] if no_cache else []), str(REPO)]
        proc = self.docker(*args, check=False)
        if proc.returncode != 0:
            raise RuntimeError(
                f"docker build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
            )
        seconds = time.monotonic() - t0
        self.timings["project_no_cache" if no_cache else "project"] = seconds
        return seconds

    def build_all(self) -> dict[str, float]:
        self.build_base()
        if not all(self.has_image(n) for names in STANDINS.values() for n in names):
            self.build_standins()
        self.build_project()
        return dict(self.timings)

    def image_size(self, name: str = PROJECT_IMAGE) -> int:
        out = self.docker("image", "inspect", "--format", "{{.Size}}", name).stdout
        return int(out.strip())

    def inspect(self, name: str) -> dict[str, object]:
        data: list[dict[str, object]] = json.loads(self.docker("inspect", name).stdout)
        return data[0]


def main(argv: list[str]) -> int:
    """``build`` (engine started, images built, timings printed, engine stopped) or ``stop``."""
    engine = Engine()
    if argv[:1] == ["stop"]:
        engine.stop()
        return 0
    if argv[:1] != ["build"]:
        print(__doc__)
        return 2
    missing = missing_tools()
    if missing:
        print(
            f"missing: {', '.join(missing)} (apt-get install docker.io docker-compose debootstrap)"
        )
        return 1
    engine.start()
    try:
        timings = engine.build_all()
        size = engine.image_size()
        print(json.dumps({"seconds": {k: round(v, 1) for k, v in timings.items()}, "size": size}))
    finally:
        engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
