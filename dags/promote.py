"""
### promote — manual promotion or rollback of the registered model, with an audit record

`action=promote` makes `version` the champion (the current one becomes `@previous_champion`);
`action=rollback` gives `@champion` back to `@previous_champion` (the demoted version becomes the
previous champion, so a second rollback undoes the first). No gate is applied: this is the human
override. Both write tags and a description on the versions and a record under
`registry/decisions/` in storage, naming the reason and who triggered the run.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from driftloop.orchestration import DEFAULT_ARGS, MODEL, start_date


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
        "action": Param("promote", type="string", enum=["promote", "rollback"]),
        "version": Param(
            "", type="string", description="Registered version to promote (ignored by rollback)."
        ),
        "reason": Param("", type="string", minLength=1, description="Why (kept in the audit)."),
    },
)
def promote() -> None:
    @task(outlets=[MODEL], multiple_outputs=False)
    def apply(**context: Any) -> dict[str, Any]:
        from driftloop import registry
        from driftloop.config import load_config

        cfg, p = load_config(), context["params"]
        dag_run = context["dag_run"]
        actor = getattr(dag_run, "triggering_user_name", None) or "airflow"
        if p["action"] == "rollback":
            record = registry.rollback(cfg, p["reason"], actor)
        else:
            if not p.get("version"):
                raise ValueError("action=promote needs a version")
            record = registry.promote(cfg, str(p["version"]), p["reason"], actor)
        context["outlet_events"][MODEL].extra = {
            "model_name": cfg.model_name,
            "model_version": record["champion"],
            "action": p["action"],
        }
        return record

    apply()


promote()
