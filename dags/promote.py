"""<pipeline>__promote: manual promotion or rollback of the registered model, with an audit record.

Wiring only: the pipelines come from ``driftloop.airflow.factory``, the task body from
``driftloop.airflow.tasks.promote``, the form from ``driftloop.airflow.params`` and the
documentation shown in the UI from ``driftloop.airflow.docs``.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from driftloop.airflow import docs
from driftloop.airflow.factory import pipelines
from driftloop.airflow.params import DEFAULT_ARGS, promote_params
from driftloop.airflow.tasks import promote as t

for p in pipelines("promote"):

    @dag(
        dag_id=p.dag_id,
        schedule=None,
        start_date=p.start_date,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=p.tags("model"),
        doc_md=p.doc(docs.PROMOTE),
        params=promote_params(),
    )
    def promote() -> None:
        task(outlets=[p.assets.model], multiple_outputs=False)(t.apply)()

    promote()
