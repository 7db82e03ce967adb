"""score: batch predictions of the champion for each newly validated partition.

Wiring only: the task bodies are in ``driftloop.airflow.tasks.score``, the documentation shown in
the UI in ``driftloop.airflow.docs``.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from driftloop.airflow import docs
from driftloop.airflow.assets import PREDICTIONS, VALIDATED
from driftloop.airflow.params import DEFAULT_ARGS, start_date
from driftloop.airflow.pods import execution_mode, pod_task, score_arguments
from driftloop.airflow.tasks import score as t


@dag(
    dag_id="score",
    schedule=[VALIDATED],
    start_date=start_date(),
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "model"],
    doc_md=docs.SCORE,
)
def score() -> None:
    targets = task(t.resolve_champion)()
    if execution_mode() == "kubernetes":
        pod_task(
            "score_partition",
            targets.map(score_arguments),
            on_result=t.announce_predictions,
            outlets=[PREDICTIONS],
        )
    else:
        task(
            outlets=[PREDICTIONS],
            multiple_outputs=False,
            map_index_template="{{ target['partition'] }}",
        )(t.score_partition).expand(target=targets)


score()
