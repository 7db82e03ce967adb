"""The project's image as built from the Dockerfile: its user, its layers, its web assets; and the
stack's preflight refusing the placeholder secrets of .env.example."""

from __future__ import annotations

import json
import re

import pytest

from tests.compose.conftest import MEASUREMENTS
from tests.compose.engine import PROJECT_IMAGE, Engine
from tests.compose.stack import ComposeStack
from tests.support import REPO

pytestmark = [pytest.mark.compose, pytest.mark.timeout(5400)]


def run_in_image(engine: Engine, *argv: str) -> str:
    return engine.docker("run", "--rm", PROJECT_IMAGE, *argv).stdout


def test_the_image_runs_as_uid_50000_gid_0(engine: Engine) -> None:
    assert engine.inspect(PROJECT_IMAGE)["Config"]["User"] == "driftloop"  # type: ignore[index]
    assert run_in_image(engine, "id", "-u").strip() == "50000"
    assert run_in_image(engine, "id", "-g").strip() == "0"
    # The folders compose mounts named volumes on belong to it, so fresh volumes are writable.
    out = run_in_image(engine, "stat", "-c", "%u:%g %n", "/opt/airflow/logs", "/opt/airflow/auth",
                       "/opt/airflow/driftloop")  # fmt: skip
    assert {line.split()[0] for line in out.splitlines()} == {"50000:0"}, out


def test_no_secret_in_any_layer(engine: Engine) -> None:
    history = engine.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", PROJECT_IMAGE)
    steps = history.stdout
    assert "uv sync" in steps  # the history is readable: the check below means something
    for pattern in (r"PASSWORD\s*=", r"SECRET\s*=", r"FERNET_KEY\s*=", r"change-me", r"token"):
        assert not re.search(pattern, steps, re.IGNORECASE), pattern
    env = engine.inspect(PROJECT_IMAGE)["Config"]["Env"]  # type: ignore[index]
    assert not [e for e in env if re.search(r"PASSWORD|SECRET|FERNET|TOKEN", e.split("=")[0])]
    # No .env, and nothing of the git tree or the local state, copied in (.dockerignore).
    find = (
        "find / -xdev \\( -name .env -o -name .git -o -name .driftloop -o -name '*.env' \\) "
        "-not -path '/proc/*' -print"
    )
    found = engine.docker("run", "--rm", "--user", "0", PROJECT_IMAGE, "sh", "-c", find).stdout
    assert found.strip() == ""


def test_data_docs_web_assets_are_in_the_image(engine: Engine) -> None:
    script = (
        "import json; from driftloop.airflow import offline as o; "
        "print(json.dumps({a.url: o._local(a, o.assets_dir()).stat().st_size "
        "if o._local(a, o.assets_dir()).is_file() else 0 for a in o.ASSETS}))"
    )
    sizes = json.loads(run_in_image(engine, "python", "-c", script))
    assert sizes and all(sizes.values()), {u: s for u, s in sizes.items() if not s}
    fonts = run_in_image(engine, "sh", "-c", "ls /opt/driftloop/include/driftloop/airflow/"
                         "web_assets/@fortawesome/fontawesome-free@6.6.0/webfonts | wc -l")  # fmt: skip
    assert int(fonts) > 0


def test_image_size_and_build_times(engine: Engine) -> None:
    size = engine.image_size(PROJECT_IMAGE)
    MEASUREMENTS["image_size_mb"] = round(size / 1e6)
    layers = engine.docker("history", "--format", "{{.Size}}\t{{.CreatedBy}}", PROJECT_IMAGE)
    MEASUREMENTS["largest_layers"] = sorted(
        layers.stdout.splitlines(), key=lambda line: -_mb(line.split("\t")[0])
    )[:3]
    assert size < 4e9, size


def _mb(text: str) -> float:
    m = re.match(r"([\d.]+)\s*([kMG]?B)", text)
    if not m:
        return 0.0
    return float(m.group(1)) * {"B": 1e-6, "kB": 1e-3, "MB": 1.0, "GB": 1e3}[m.group(2)]


def test_preflight_refuses_the_placeholders_of_env_example(engine: Engine, tmp_path) -> None:
    stack = ComposeStack(engine, tmp_path, project=f"driftloop-preflight-{tmp_path.name[-8:]}")
    stack.write_files()
    try:
        proc = stack.compose(
            "run", "--rm", "--no-deps", "preflight", check=False, env_file=REPO / ".env.example"
        )
    finally:
        stack.compose("down", "--remove-orphans", check=False, env_file=REPO / ".env.example")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    output = proc.stdout + proc.stderr
    assert "POSTGRES_PASSWORD still has the placeholder value from .env.example" in output
    assert "preflight: refusing to start; see .env.example" in output
    # The same service with the test's good secrets passes.
    ok = stack.compose("run", "--rm", "--no-deps", "preflight", check=False)
    stack.compose("down", "--remove-orphans", check=False)
    assert ok.returncode == 0, ok.stderr
    assert "preflight: secrets present and not placeholders" in ok.stdout
