"""Drive this repo's DAGs in-process (``dag.test()``), for the demo and replays without a scheduler.

Set the Airflow environment (``AIRFLOW_HOME``, the metadata DB) before the first call: Airflow reads
its configuration when it is first imported, which happens here, not at import of this module.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

__all__ = ["load_dags", "run_dag"]


def load_dags() -> dict[str, Any]:
    """Create the metadata DB if needed and parse dags/; raises if any DAG file fails to import."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()
    bag = DagBag()
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return dict(bag.dags)


def run_dag(
    dag: Any,
    day: date,
    conf: dict[str, Any] | None = None,
    mark_success: str | None = None,
) -> str:
    """Run ``dag`` for the logical day ``day`` (midnight UTC) and return the run's final state.

    ``mark_success`` is a task id pattern whose tasks are marked successful without running (e.g.
    the demo runs the triggered ``train`` itself rather than through ``trigger_train``).
    """
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC)
    dr = dag.test(logical_date=logical, run_conf=conf or {}, mark_success_pattern=mark_success)
    return str(getattr(dr, "state", "unknown"))
