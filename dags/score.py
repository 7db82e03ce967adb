"""
### score — batch predictions of the champion for each newly validated partition

Asset-driven: runs when `validated` gets an event; the partition comes from `conf["date"]` of a
manual run, else from the `partition` extra of the triggering asset events (a run that batches several
events scores every partition named), else the logical date.

**resolve_champion** turns `@champion` into a concrete version once; the version goes through XCom,
so retries and reruns score with the same model (and rewrite identical bytes). **score_partition**
writes `predictions/date=<day>/part-0.parquet` and emits a `predictions` asset event with
`{"partition": day, "model_version": v}`.

No champion yet (the first days, before enough labels exist to train): resolve_champion records
`monitoring/scoring/date=<day>/` ("nothing to score with", so the day's drift check goes ahead and
can train the first model) and is *skipped* — a friendly no-op rather than a red run, since it is
the expected state of a fresh deployment. Scoring errors still fail the run.

Execution: with `execution.mode: kubernetes` in the pipeline config (or
`DRIFTLOOP__EXECUTION__MODE=kubernetes` where the DAG is parsed), **score_partition** is a mapped
KubernetesPodOperator: one pod per partition, running
`driftloop score --date <day> --model-version <v>` in the project's image (the same mapping over
resolve_champion's list as in-process, so a batched run scores each day in its own pod and one
failed day retries alone). The pod's XCom is the same result the in-process task returns, and the
worker sets the `predictions` asset event from it. resolve_champion stays in-process: it is a
registry lookup, not a heavy step.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import dag, task

from driftloop.airflow.orchestration import (
    DEFAULT_ARGS,
    PREDICTIONS,
    VALIDATED,
    execution_mode,
    pod_task,
    resolve_partition,
    start_date,
    triggered_partitions,
)

log = logging.getLogger("driftloop.dags.score")


def _score_arguments(target: dict[str, str]) -> list[str]:
    """`driftloop score` arguments of one partition's pod (kubernetes mode)."""
    return ["score", "--date", target["partition"], "--model-version", target["model_version"]]


def _announce_predictions(context: Any, scored: dict[str, Any]) -> None:
    """The `predictions` asset event of a scoring result: which day, which model version."""
    context["outlet_events"][PREDICTIONS].extra = {
        "partition": scored["partition"],
        "model_version": scored["model_version"],
    }


@dag(
    dag_id="score",
    schedule=[VALIDATED],
    start_date=start_date(),
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "model"],
    doc_md=__doc__,
)
def score() -> None:
    @task
    def resolve_champion(**context: Any) -> list[dict[str, str]]:
        from airflow.sdk.exceptions import AirflowSkipException

        from driftloop.core.config import load_config
        from driftloop.core.logs import quiet_libraries
        from driftloop.model.scoring import NoChampion, resolve_model
        from driftloop.monitor.daily_check import mark_unscored

        quiet_libraries()
        conf = context["dag_run"].conf or {}
        days = [resolve_partition(context)]
        if not conf.get("date") and triggered_partitions(context):
            days = triggered_partitions(context)
        cfg = load_config()
        try:
            model = resolve_model(cfg, conf.get("model_version") or None)
        except NoChampion as err:
            # Recorded per day, so each day's drift check goes ahead (and may train the first model).
            mark_unscored(cfg, days, str(err))
            log.info("%s: recorded as unscored, so the daily check can go ahead", ", ".join(days))
            raise AirflowSkipException(f"{err} (partitions {', '.join(days)})") from err
        log.info("scoring %s with %s v%s (run %s)", days, model.name, model.version, model.run_id)
        return [{"partition": d, "model_version": model.version} for d in days]

    @task(
        outlets=[PREDICTIONS],
        multiple_outputs=False,
        map_index_template="{{ target['partition'] }}",
    )
    def score_partition(target: dict[str, str], **context: Any) -> dict[str, Any]:
        from driftloop.core.config import load_config
        from driftloop.core.logs import quiet_libraries
        from driftloop.model.scoring import score_partition

        quiet_libraries()
        result = score_partition(load_config(), target["partition"], target["model_version"])
        _announce_predictions(context, result.to_dict())
        return result.to_dict()

    targets = resolve_champion()
    if execution_mode() == "kubernetes":
        pod_task(
            "score_partition",
            targets.map(_score_arguments),
            on_result=_announce_predictions,
            outlets=[PREDICTIONS],
        )
    else:
        score_partition.expand(target=targets)


score()
