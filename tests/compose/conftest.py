"""The compose tier: its own Docker engine, the images built here, docker-compose.yaml started.

Selected only with ``-m compose`` (``make compose-test``): a plain ``pytest tests`` deselects it,
since it needs root, a Docker engine and 15+ minutes. Under ``CI=true`` a missing tool fails
instead of skipping, as the service tiers do (tests/support/services.py ``require_tcp``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compose.engine import PROJECT_IMAGE, Engine, missing_tools
from tests.compose.stack import ComposeStack
from tests.support.loop_checks import LOOP_DAGS, LoopRun
from tests.support.services import IN_CI

MEASUREMENTS: dict[str, Any] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tier unless the run asks for it by marker (``-m compose``)."""
    if "compose" in (config.option.markexpr or ""):
        return
    ours = [i for i in items if i.get_closest_marker("compose")]
    if ours:
        config.hook.pytest_deselected(items=ours)
        items[:] = [i for i in items if not i.get_closest_marker("compose")]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASUREMENTS:
        terminalreporter.write_sep("-", "compose tier measurements")
        terminalreporter.write_line(json.dumps(MEASUREMENTS, indent=1, sort_keys=True))


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The tier's dockerd with every image built (warm from the cache folder after the first
    run); stopped at the end of the session."""
    missing = missing_tools()
    if missing:
        msg = f"compose tier needs {', '.join(missing)} (apt-get install docker.io docker-compose debootstrap)"
        if IN_CI:
            pytest.fail(f"CI=true: a required tier may not be skipped: {msg}")
        pytest.skip(msg)
    eng = Engine().start()
    try:
        eng.build_all()
        MEASUREMENTS["build_seconds"] = {k: round(v, 1) for k, v in eng.timings.items()}
        MEASUREMENTS["image_size_mb"] = round(eng.image_size(PROJECT_IMAGE) / 1e6)
        yield eng
    finally:
        eng.stop()


@pytest.fixture(scope="session")
def loop() -> LoopRun:
    return LoopRun("compose loop")


@pytest.fixture(scope="session")
def stack(engine: Engine, loop: LoopRun) -> Iterator[ComposeStack]:
    """The stack up with two workers, the loop's DAGs unpaused, ``loop`` wired to it (its ``cfg``
    and ``store`` read the stack's S3 and MLflow from this process)."""
    from driftloop.core.config import load_config
    from driftloop.core.storage import open_store

    home = Path(tempfile.mkdtemp(prefix="driftloop-compose-"))
    st = ComposeStack(engine, home, workers=2, extra_env=loop.env)
    mp = pytest.MonkeyPatch()
    try:
        st.start()
        MEASUREMENTS["start_to_healthy_seconds"] = round(st.timings["up_to_healthy"], 1)
        drift_env = {k: v for k, v in st.env.items() if k.startswith("DRIFTLOOP")}
        loop.cfg = load_config(environ=drift_env)
        for k, v in st.env.items():
            if k.startswith(("AWS_", "MLFLOW_")):
                mp.setenv(k, v)
        loop.store = open_store(loop.cfg.storage)
        for dag in LOOP_DAGS:
            st.unpause(dag)
        loop.server = st
        yield st
    except BaseException:
        print(st.dump_logs())
        raise
    finally:
        mp.undo()
        st.stop()
        shutil.rmtree(home, ignore_errors=True)
