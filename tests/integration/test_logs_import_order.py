"""MLflow's logger in a fresh interpreter: no handler of its own whatever the import order."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

_PROBE = """
import logging, sys
order = sys.argv[1]
if order == "mlflow-first":
    import mlflow
from driftloop.core.logs import quiet_libraries
quiet_libraries()
import mlflow
logger = logging.getLogger("mlflow")
print(len(logger.handlers), logger.propagate, logging.getLogger("mlflow.store").getEffectiveLevel())
"""


@pytest.mark.parametrize("order", ["quiet-first", "mlflow-first"])
def test_mlflow_logs_through_the_normal_tree_whatever_the_import_order(order: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, order],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    # No handler of its own (so nothing on stderr), propagates to the task's handler; its level
    # is whatever the root logger's is, not a fixed one of MLflow's.
    assert out == ["0", "True", str(logging.WARNING)]
