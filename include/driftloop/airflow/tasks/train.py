"""Task bodies of the ``train`` DAG: fit a challenger, gate it, route, promote, record the outcome.

Heavy libraries are imported inside the bodies, so importing this module at parse time is cheap.
"""

from __future__ import annotations

import logging
from typing import Any

from driftloop.airflow.approval import ANSWER_KEY
from driftloop.airflow.assets import MODEL
from driftloop.airflow.links import mlflow_run_url, publish_links
from driftloop.airflow.params import AUTO_PROMOTE, hyperparameter_overrides
from driftloop.core.partition import Partition

__all__ = [
    "auto_promote",
    "gate",
    "link_mlflow_run",
    "promote_model",
    "record_outcome",
    "route",
    "train_model",
]

log = logging.getLogger(__name__)


def link_mlflow_run(context: Any, trained: dict[str, Any]) -> None:
    """Publish the MLflow run of a training result as the task's "MLflow run" link."""
    from driftloop.core.config import load_config

    uri = load_config().tracking_uri()
    url = mlflow_run_url(uri, trained["experiment_id"], trained["run_id"])
    log.info(
        "registered %s v%s (window %s..%s); MLflow run: %s",
        trained["model_name"],
        trained["model_version"],
        trained["partitions"][0],
        trained["partition_date"],
        url,
    )
    publish_links(context, mlflow_run=url)


def auto_promote(value: str | None, configured: bool) -> bool:
    """The auto_promote choice as a boolean (``as_configured``/unset: the pipeline config's)."""
    choice = AUTO_PROMOTE.get(value or "as_configured")
    return configured if choice is None else choice


def train_model(**context: Any) -> dict[str, Any]:
    """Fit a challenger on the run's window; a new MLflow run and registered version."""
    from airflow.sdk.exceptions import AirflowFailException

    from driftloop.core.logs import quiet_libraries

    quiet_libraries()
    from driftloop.core.config import load_config
    from driftloop.data.windows import InsufficientData, latest_labelled_day
    from driftloop.model import train as training

    cfg, p = load_config(), context["params"]
    hyper = hyperparameter_overrides(p)
    ti = context["ti"]
    try:
        # Checked before any data is read; neither a bad param nor missing labels is helped by a
        # retry, so both fail the task at once with their one-line message.
        training.check_parameters(cfg, p.get("algorithm"), hyper)
        if p.get("date"):
            end = str(Partition.of(p["date"]))
        else:
            end = latest_labelled_day(cfg).isoformat()
            log.info("window end: %s, the newest day with labels (date not given)", end)
        result = training.train_model(
            cfg,
            end,
            window_days=p.get("window_days"),
            since=p.get("since") or None,
            algorithm=p.get("algorithm") or None,
            hyperparameters=hyper,
            reason=p.get("reason") or "manual",
            report_uri=p.get("report_uri") or None,
            airflow_context={"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id},
        )
    except (training.InvalidParameter, InsufficientData) as err:
        raise AirflowFailException(str(err)) from err
    link_mlflow_run(context, result.to_dict())
    return result.to_dict()


def gate(trained: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Compare the challenger with the champion (re-scored on the challenger's holdout)."""
    from driftloop.core.logs import quiet_libraries

    quiet_libraries()
    from driftloop.core.config import load_config
    from driftloop.model import registry

    cfg, p = load_config(), context["params"]
    decision = registry.evaluate_challenger(
        cfg, trained["model_version"], min_improvement=p.get("min_improvement")
    )
    return {
        **decision.to_dict(),
        "auto_promote": auto_promote(p.get("auto_promote"), cfg.gate.auto_promote),
        "reason": decision.reason,
        "trigger_reason": p.get("reason") or "manual",
        "partition": trained["partition_date"],
    }


def route(decision: dict[str, Any]) -> str | None:
    """The branch after the gate: nothing, ``promote_model`` or ``approve_promotion``."""
    version = decision["challenger_version"]
    if not decision["promote"]:
        log.info("v%s stays a challenger: the gate rejected it (%s)", version, decision["reason"])
        return None
    if decision["auto_promote"]:
        log.info("v%s passed the gate; auto-promote is on: promoting", version)
        return "promote_model"
    log.info("v%s passed the gate; auto-promote is off: asking for approval", version)
    return "approve_promotion"


def promote_model(decision: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Move ``@champion`` to the challenger and emit the model asset event."""
    from airflow.sdk.exceptions import AirflowFailException

    from driftloop.core.logs import quiet_libraries

    quiet_libraries()
    from driftloop.core.config import load_config
    from driftloop.model import registry

    cfg = load_config()
    answer = context["ti"].xcom_pull(task_ids="approve_promotion", key=ANSWER_KEY)
    actor = f"{answer['user']} (approved in Airflow)" if answer else "gate (auto-promote)"
    try:
        record = registry.promote(
            cfg,
            decision["challenger_version"],
            reason=f"{decision['trigger_reason']}; gate: {decision['reason']}",
            actor=actor,
            decision=registry.GateDecision.from_dict(
                {k: decision[k] for k in registry.GateDecision.__dataclass_fields__}
            ),
        )
    except registry.StaleDecision as err:
        # The champion moved since the gate (a manual promote, another pipeline run): the
        # comparison no longer holds, and a retry would not change that.
        raise AirflowFailException(str(err)) from err
    context["outlet_events"][MODEL].extra = {
        "model_name": cfg.model_name,
        "model_version": decision["challenger_version"],
        "previous_champion": record["previous_champion"],
        "partition": decision["partition"],
    }
    log.info("audit record: %s", record["record"])
    return record


def record_outcome(decision: dict[str, Any], **context: Any) -> str:
    """Say what became of the challenger (champion, rejected by the gate or by a person)."""
    from driftloop.core.logs import quiet_libraries

    quiet_libraries()
    from driftloop.core.config import load_config
    from driftloop.model import registry

    version = decision["challenger_version"]
    skipped = context["ti"].xcom_pull(task_ids="approve_promotion", key="skipmixin_key")
    champion = registry.champion(load_config())
    if skipped and "promote_model" in skipped.get("skipped", []):
        outcome = f"v{version}: promotion rejected in the approval step"
    elif champion is not None and str(champion.version) == str(version):
        outcome = f"v{version} is the champion"
    else:
        outcome = f"v{version} not promoted: {decision['reason']}"
    log.info("%s (champion: %s)", outcome, f"v{champion.version}" if champion else "none")
    return outcome
