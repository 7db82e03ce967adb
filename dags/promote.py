"""
### promote — manual promotion or rollback of the registered model, with an audit record

`action=promote` makes `version` the champion (the current one becomes `@previous_champion`);
`action=rollback` gives `@champion` back to `@previous_champion` (the demoted version becomes the
previous champion, so a second rollback undoes the first) and needs no version. No gate is applied:
this is the human override. Both write tags and a description on the versions and a record under
`registry/decisions/` in storage, naming the reason and who triggered the run.

The form checks the action and the shape of the version; **apply** checks the rest first (promote
without a version, a version that does not exist, nothing to roll back to) and fails at once with a
one-line message naming the param.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Param, dag, task

from driftloop.airflow.orchestration import DEFAULT_ARGS, MODEL, optional_param, start_date

log = logging.getLogger("driftloop.dags.promote")


@dag(
    dag_id="promote",
    schedule=None,
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "model"],
    doc_md=__doc__,
    params={
        "action": Param(
            "promote",
            type="string",
            enum=["promote", "rollback"],
            values_display={
                "promote": "promote: make the version below the champion",
                "rollback": "rollback: give the champion back to the previous champion",
            },
            title="Action",
            description="Promote a version, or roll back to the previous champion.",
        ),
        "version": optional_param(
            "string",
            "Version",
            "Registered model version to promote (a number). Needed by promote; rollback "
            "ignores it.",
            pattern=r"^[0-9]+$",
        ),
        "reason": Param(
            "manual override from the Airflow UI",
            type="string",
            minLength=1,
            title="Reason",
            description="Why; kept on the model versions and in the audit record.",
        ),
    },
)
def promote() -> None:
    @task(outlets=[MODEL], multiple_outputs=False)
    def apply(**context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from driftloop.core.logs import quiet_libraries

        quiet_libraries()
        from driftloop.core.config import load_config
        from driftloop.model import registry

        cfg, p = load_config(), context["params"]
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
        context["outlet_events"][MODEL].extra = {
            "model_name": cfg.model_name,
            "model_version": record["champion"],
            "action": action,
        }
        return record

    apply()


promote()
