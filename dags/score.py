"""<pipeline>__score: batch predictions of the champion for each newly validated partition.

Also scheduled on the ``model`` asset: a promotion scores the backlog of validated days without
predictions (days ingested before the first champion existed).

Wiring only: the pipelines come from ``driftloop.airflow.factory``, the task bodies from
``driftloop.airflow.tasks.score``, the documentation shown in the UI from ``driftloop.airflow.docs``.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from driftloop.airflow import docs
from driftloop.airflow.factory import pipelines
from driftloop.airflow.params import DEFAULT_ARGS
from driftloop.airflow.pods import execution_mode, pod_task, score_arguments
from driftloop.airflow.tasks import score as t

for p in pipelines("score"):

    @dag(
        dag_id=p.dag_id,
        schedule=(p.assets.validated | p.assets.model),
        start_date=p.start_date,
        catchup=False,
        default_args=DEFAULT_ARGS,
        tags=p.tags("model"),
        doc_md=p.doc(docs.SCORE),
    )
    def score() -> None:
        targets = task(t.resolve_champion)()
        if execution_mode(p.cfg) == "kubernetes":
            pod_task(
                "score_partition",
                targets.map(score_arguments),
                cfg=p.cfg,
                on_result=t.announce_predictions,
                outlets=[p.assets.predictions],
            )
        else:
            task(
                outlets=[p.assets.predictions],
                multiple_outputs=False,
                map_index_template="{{ target['partition'] }}",
            )(t.score_partition).expand(target=targets)

    score()
