"""promote: manual promotion or rollback of the registered model, with an audit record.

Wiring only: the task body is in ``driftloop.airflow.tasks.promote``, the form in
``driftloop.airflow.params`` and the documentation shown in the UI in ``driftloop.airflow.docs``.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from driftloop.airflow import docs
from driftloop.airflow.assets import MODEL
from driftloop.airflow.params import DEFAULT_ARGS, promote_params, start_date
from driftloop.airflow.tasks import promote as t


@dag(
    dag_id="promote",
    schedule=None,
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "model"],
    doc_md=docs.PROMOTE,
    params=promote_params(),
)
def promote() -> None:
    task(outlets=[MODEL], multiple_outputs=False)(t.apply)()


promote()
