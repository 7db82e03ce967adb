"""<pipeline>__promote: manual promotion or rollback of the registered model, with an audit record;
or the approval of a version that won in shadow (started by drift_check).

Wiring only: the pipelines come from ``driftloop.airflow.factory``, the task body from
``driftloop.airflow.tasks.promote``, the form from ``driftloop.airflow.params`` and the
documentation shown in the UI from ``driftloop.airflow.docs``.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from driftloop.airflow import docs
from driftloop.airflow.approval import promotion_approval
from driftloop.airflow.factory import pipelines
from driftloop.airflow.params import DEFAULT_ARGS, promote_params
from driftloop.airflow.tasks import promote as t

for p in pipelines("promote"):

    @dag(
        dag_id=p.dag_id,
        schedule=None,
        start_date=p.start_date,
        catchup=False,
        # Not one run at a time: a shadow win's approval may wait for days, and a rollback must
        # not queue behind it (every registry change is made under the champion lock).
        max_active_runs=4,
        default_args=DEFAULT_ARGS,
        tags=p.tags("model"),
        doc_md=p.doc(docs.PROMOTE),
        params=promote_params(),
    )
    def promote() -> None:
        request = task(task_id=t.REQUEST_TASK, multiple_outputs=False)(t.shadow_request)()
        branch = task.branch(t.route)(request)
        approve = promotion_approval(
            p.cfg,
            task_id=t.APPROVAL_TASK,
            decision_task=t.REQUEST_TASK,
            subject=(
                "Promote v{{ ti.xcom_pull(task_ids='shadow_request')['challenger_version'] }} "
                "(won in shadow against "
                "v{{ ti.xcom_pull(task_ids='shadow_request')['champion_version'] }}) to champion?"
            ),
            shadow=True,
        )
        applied = task(
            trigger_rule="none_failed_min_one_success",
            outlets=[p.assets.model],
            multiple_outputs=False,
        )(t.apply)()
        branch >> [approve, applied]
        approve >> applied

    promote()
