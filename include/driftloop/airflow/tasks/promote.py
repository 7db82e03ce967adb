"""Task body of the ``promote`` DAG: a manual promotion or rollback, with an audit record."""

from __future__ import annotations

import logging
from typing import Any

from driftloop.airflow.assets import pipeline_assets
from driftloop.airflow.factory import pipeline_config
from driftloop.airflow.links import link_decision

__all__ = ["apply"]

log = logging.getLogger(__name__)


def apply(**context: Any) -> dict[str, Any]:
    """Promote ``version`` or roll back, as the run's params say; fails at once on a bad param."""
    from airflow.sdk.exceptions import AirflowFailException

    from driftloop.core.logs import quiet_libraries

    quiet_libraries()
    from driftloop.model import registry

    cfg, p = pipeline_config(context), context["params"]
    dag_run = context["dag_run"]
    actor = getattr(dag_run, "triggering_user_name", None) or "airflow"
    action, version = p["action"], p.get("version")
    try:
        if action == "rollback":
            if version:
                log.info("rollback ignores version %s", version)
            record = registry.rollback(cfg, p["reason"], actor)
        else:
            if not version:
                raise AirflowFailException(
                    "version: action=promote needs the registered version to promote "
                    "(or choose action=rollback)"
                )
            registry.get_version(cfg, str(version))  # a clear error for an unknown version
            record = registry.promote(cfg, str(version), p["reason"], actor)
    except registry.RegistryError as err:
        param = "version" if action == "promote" else "action"
        raise AirflowFailException(f"{param}: {err}") from err
    log.info(
        "%s by %s: champion v%s (previous champion: %s); audit record: %s",
        action,
        actor,
        record["champion"],
        f"v{record['previous_champion']}" if record["previous_champion"] else "none",
        record["record"],
    )
    context["outlet_events"][pipeline_assets(cfg.name).model].extra = {
        "model_name": cfg.model_name,
        "model_version": record["champion"],
        "action": action,
    }
    link_decision(context, cfg, record["champion"])
    return record
