"""<pipeline>__train: fit a challenger, gate it against the champion, promote (or ask approval).

Wiring only: the pipelines come from ``driftloop.airflow.factory``, the task bodies from
``driftloop.airflow.tasks.train``, the form from ``driftloop.airflow.params`` and the
documentation shown in the UI from ``driftloop.airflow.docs``.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from driftloop.airflow import docs
from driftloop.airflow.approval import promotion_approval
from driftloop.airflow.factory import pipelines
from driftloop.airflow.params import DEFAULT_ARGS, train_params
from driftloop.airflow.pods import RunArguments, execution_mode, pod_task, train_arguments
from driftloop.airflow.tasks import train as t

for p in pipelines("train"):

    @dag(
        dag_id=p.dag_id,
        schedule=None,
        start_date=p.start_date,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=p.tags("model"),
        doc_md=p.doc(docs.TRAIN),
        params=train_params(),
    )
    def train() -> None:
        # One retry: a failed attempt leaves a FAILED MLflow run and no registered version.
        if execution_mode(p.cfg) == "kubernetes":
            arguments = RunArguments(train_arguments)
            trained = pod_task(
                "train_model", arguments, cfg=p.cfg, on_result=t.link_mlflow_run, retries=1
            ).output
        else:
            trained = task(multiple_outputs=False, retries=1)(t.train_model)()
        decision = task(multiple_outputs=False)(t.gate)(trained)
        branch = task.branch(t.route)(decision)
        approve_promotion = promotion_approval(p.cfg)
        promoted = task(
            trigger_rule="none_failed_min_one_success",
            outlets=[p.assets.model],
            multiple_outputs=False,
        )(t.promote_model)(decision)
        branch >> [approve_promotion, promoted]
        approve_promotion >> promoted
        promoted >> task(trigger_rule="none_failed")(t.record_outcome)(decision)

    train()
