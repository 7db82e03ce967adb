"""Task bodies of the ``score`` DAG: resolve the champion once, score each partition with it.

A run scores the days it was started for (the ``validated`` events, or ``conf["date"]``) and the
backlog: validated days without predictions, ingested while no champion existed. The DAG is also
scheduled on the ``model`` asset, so a promotion (the first champion above all) starts a run that
scores the backlog; ``conf["backlog"]`` asks for that run by hand (the demo driver, the UI).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Unpack

from driftloop.airflow.assets import pipeline_assets
from driftloop.airflow.body import task_body
from driftloop.airflow.factory import pipeline_config, pipeline_of
from driftloop.airflow.partition import resolve_partition, triggered_partitions, triggering_events

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "announce_predictions",
    "resolve_champion",
    "run_days",
    "score_partition",
    "with_shadow",
]

log = logging.getLogger(__name__)


def announce_predictions(context: Context, scored: dict[str, Any]) -> None:
    """The ``predictions`` asset event of a scoring result: which day, which model version."""
    context["outlet_events"][pipeline_assets(pipeline_of(context)).predictions].extra = {
        "partition": scored["partition"],
        "model_version": scored["model_version"],
    }


def run_days(context: Context) -> list[str]:
    """The days a run was started for: none when it was started for the backlog only.

    In order: ``conf["date"]``; the partitions of the ``validated`` events; none for a run started
    by a ``model`` event (a promotion) or with ``conf["backlog"]``; else the logical date.
    """
    conf = context["dag_run"].conf or {}
    assets = pipeline_assets(pipeline_of(context))
    if conf.get("date"):
        return [str(resolve_partition(context))]
    validated = triggered_partitions(context, assets.validated.name)
    if validated:
        return [str(p) for p in validated]
    if conf.get("backlog") or triggering_events(context, assets.model.name):
        return []
    return [str(resolve_partition(context))]


@task_body
def resolve_champion(**context: Unpack[Context]) -> list[dict[str, Any]]:
    """The partitions to score, each with the concrete champion version that scores it.

    The run's own days, then the backlog (validated days without predictions whose scoring found
    no champion, or all of them with ``conf["backlog"]``; flagged ``backlog``). No champion yet: the run's days are recorded as unscored (so their drift check
    goes ahead) and the task is skipped.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from driftloop.model.scoring import NoChampion, resolve_model, unscored_days
    from driftloop.monitor.daily_check import mark_unscored

    conf = context["dag_run"].conf or {}
    days = run_days(context)
    cfg = pipeline_config(context)
    try:
        model = resolve_model(cfg, conf.get("model_version") or None)
    except NoChampion as err:
        # Recorded per day, so each day's drift check goes ahead (and may train the first model).
        mark_unscored(cfg, days, str(err))
        if days:
            log.info("%s: recorded as unscored, so the daily check can go ahead", ", ".join(days))
        raise AirflowSkipException(f"{err} (partitions {', '.join(days) or 'none'})") from err
    # After a promotion: the days whose scoring found no champion. A day validated meanwhile has
    # its own run on the way (scoring it here too would race it). Asked by hand: every day
    # without predictions.
    recorded_only = not conf.get("backlog")
    backlog = [
        d.isoformat()
        for d in unscored_days(cfg, recorded_only=recorded_only)
        if d.isoformat() not in days
    ]
    log.info("scoring %s with %s v%s (run %s)", days, model.name, model.version, model.run_id)
    if backlog:
        log.info(
            "backlog: %d validated day(s) without predictions, scored once with v%s: %s",
            len(backlog),
            model.version,
            ", ".join(backlog),
        )
    targets = [{"partition": d, "model_version": model.version} for d in days] + [
        {"partition": d, "model_version": model.version, "backlog": True} for d in backlog
    ]
    return with_shadow(cfg, targets)


def with_shadow(cfg: Any, targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Name the challenger in shadow on the targets from its first partition on (if there is one)."""
    from driftloop.model import registry

    shadow = registry.shadow_challenger(cfg) if cfg.gate.shadow_partitions else None
    if shadow is None:
        return targets
    log.info("challenger v%s in shadow since %s", shadow["version"], shadow["since"])
    return [
        {**t, "shadow_version": shadow["version"]} if t["partition"] >= shadow["since"] else t
        for t in targets
    ]


@task_body
def score_partition(target: dict[str, str], **context: Unpack[Context]) -> dict[str, Any]:
    """Write the predictions of one partition with the resolved model version (and the shadow's)."""
    from driftloop.monitor.shadow import score_with_shadow

    out = score_with_shadow(
        pipeline_config(context),
        target["partition"],
        target["model_version"],
        target.get("shadow_version"),
        backlog=bool(target.get("backlog")),
    )
    announce_predictions(context, out)
    return out
