"""Task bodies of the ``score`` DAG: resolve the champion once, score each partition with it."""

from __future__ import annotations

import logging
from typing import Any

from driftloop.airflow.assets import pipeline_assets
from driftloop.airflow.factory import pipeline_config, pipeline_of
from driftloop.airflow.partition import resolve_partition, triggered_partitions

__all__ = ["announce_predictions", "resolve_champion", "score_partition"]

log = logging.getLogger(__name__)


def announce_predictions(context: Any, scored: dict[str, Any]) -> None:
    """The ``predictions`` asset event of a scoring result: which day, which model version."""
    context["outlet_events"][pipeline_assets(pipeline_of(context)).predictions].extra = {
        "partition": scored["partition"],
        "model_version": scored["model_version"],
    }


def resolve_champion(**context: Any) -> list[dict[str, str]]:
    """The partitions of the run, each with the concrete champion version that scores it.

    No champion yet: the days are recorded as unscored (so their drift check goes ahead) and the
    task is skipped.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from driftloop.core.logs import quiet_libraries
    from driftloop.model.scoring import NoChampion, resolve_model
    from driftloop.monitor.daily_check import mark_unscored

    quiet_libraries()
    conf = context["dag_run"].conf or {}
    partitions = [resolve_partition(context)]
    if not conf.get("date") and triggered_partitions(context):
        partitions = triggered_partitions(context)
    days = [str(p) for p in partitions]
    cfg = pipeline_config(context)
    try:
        model = resolve_model(cfg, conf.get("model_version") or None)
    except NoChampion as err:
        # Recorded per day, so each day's drift check goes ahead (and may train the first model).
        mark_unscored(cfg, days, str(err))
        log.info("%s: recorded as unscored, so the daily check can go ahead", ", ".join(days))
        raise AirflowSkipException(f"{err} (partitions {', '.join(days)})") from err
    log.info("scoring %s with %s v%s (run %s)", days, model.name, model.version, model.run_id)
    return [{"partition": d, "model_version": model.version} for d in days]


def score_partition(target: dict[str, str], **context: Any) -> dict[str, Any]:
    """Write the predictions of one partition with the resolved model version."""
    from driftloop.core.logs import quiet_libraries
    from driftloop.model import scoring

    quiet_libraries()
    result = scoring.score_partition(
        pipeline_config(context), target["partition"], target["model_version"]
    )
    announce_predictions(context, result.to_dict())
    return result.to_dict()
