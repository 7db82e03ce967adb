"""Drive this repo's DAGs in-process (``dag.test()``), for the demo and replays without a scheduler.

Set the Airflow environment (``AIRFLOW_HOME``, the metadata DB) before the first call: Airflow reads
its configuration when it is first imported, which happens here, not at import of this module.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from driftloop.core.config import ConfigError
from driftloop.core.errors import EXIT_USAGE

__all__ = ["TaskConfigError", "failed_task_errors", "load_dags", "run_dag"]


class TaskConfigError(ConfigError):
    """A task of a driven run failed with a configuration error: every later run would too."""


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

    A task that failed with a configuration error (exit 2) raises :class:`TaskConfigError` with its
    one line: a driver (replay, demo) stops there rather than run days that cannot succeed, or wait
    for a partition that will never be scored.
    """
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC)
    dr = dag.test(logical_date=logical, run_conf=conf or {}, mark_success_pattern=mark_success)
    state = str(getattr(dr, "state", "unknown"))
    if state == "failed":
        for task_id, error in failed_task_errors(dr):
            if error.get("exit_code") == EXIT_USAGE:
                raise TaskConfigError(f"{dag.dag_id}.{task_id} failed: {error.get('message')}")
    return state


def failed_task_errors(dag_run: Any) -> list[tuple[str, dict[str, Any]]]:
    """(task id, error) of the run's tasks that failed at once with a driftloop error (the XCom
    ``driftloop_error`` of :func:`driftloop.airflow.body.fail_fast`), in task order."""
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    from driftloop.airflow.body import ERROR_XCOM_KEY

    found = []
    with create_session() as session:
        for ti in dag_run.get_task_instances(state=[TaskInstanceState.FAILED], session=session):
            error = ti.xcom_pull(task_ids=ti.task_id, key=ERROR_XCOM_KEY, map_indexes=ti.map_index)
            if isinstance(error, dict):
                found.append((ti.task_id, error))
    return found
