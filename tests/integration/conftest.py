"""Fixtures of the dag.test() tier."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def dags(airflow_db) -> dict[str, Any]:
    """The repo's DAGs, parsed by Airflow (no import errors allowed)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    assert not bag.import_errors
    return bag.dags
