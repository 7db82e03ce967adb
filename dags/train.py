"""
### train — fit a challenger, gate it against the champion, promote (automatically or on approval)

Triggered manually (Params form), by the drift check's retrain policy, or by the demo, with conf keys:
`date` (last day of the training window, default: the run's logical date), `reason`, `report_uri`
(the drift report that triggered it), `since` (first day of the window, e.g. the drift onset), `window_days`, `algorithm`, `hyperparameters` (JSON object),
`max_depth`, `learning_rate`, `min_improvement`, `auto_promote`. Empty/null values mean "as configured
in the pipeline config".

Flow: **train_model** (MLflow run, new registered version @challenger) → **gate** (champion re-scored
on the challenger's holdout; decision recorded on the version and in storage) → **route**: gate
rejected → nothing else; auto-promote → **promote_model**; otherwise **approve_promotion** waits for
a person (Airflow UI, *Required actions*) and only "Approve" leads to **promote_model**, which moves
`@champion` (old champion → `@previous_champion`) and emits the model asset event.
**record_outcome** always runs last and records a human rejection.

Execution: with `execution.mode: kubernetes` in the pipeline config (or
`DRIFTLOOP__EXECUTION__MODE=kubernetes` where the DAG is parsed), **train_model** is a
KubernetesPodOperator running `driftloop train --train-only` in the project's image, with the run's
params as templated arguments; its XCom is the same training result the in-process task returns, so
the other steps are identical in both modes. A window with too little labelled data exits with code 4
(in-process it fails without retry; as a pod it is retried once).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param, dag, task

from driftloop.orchestration import (
    DEFAULT_ARGS,
    MODEL,
    execution_mode,
    pod_task,
    publish_links,
    resolve_partition,
    start_date,
)

ALGORITHMS = ["", "gradient_boosting", "logistic_regression", "random_forest"]
ANSWER_KEY = "approval_answer"


class PromotionApproval(ApprovalOperator):
    """ApprovalOperator that records the reviewer's answer in the registry audit trail.

    The answer is recorded here, where the response (and who gave it) is at hand: on "Reject" the
    operator's return value and other XComs pushed while resuming do not reach downstream tasks
    (observed with dag.test on Airflow 3.3.2), only the skip marker does.
    """

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        user = event.get("responded_by_user") or {}
        who = user.get("name") or user.get("id") or "unknown"
        context["ti"].xcom_push(key=ANSWER_KEY, value={"user": who})
        if self.REJECT in (event.get("chosen_options") or []):
            from driftloop import registry
            from driftloop.config import load_config

            decision = context["ti"].xcom_pull(task_ids="gate")
            registry.reject(
                load_config(), decision["challenger_version"], "rejected in the approval step", who
            )
        return super().execute_complete(context, event)


# `driftloop train` arguments of the pod (kubernetes mode); empty values mean "as configured".
TRAIN_ARGUMENTS = [
    "train",
    "--train-only",  # the gate and the promotion are the next tasks of this DAG
    "--date",
    "{{ params.date[:10] if params.date"
    " else (dag_run.logical_date or dag_run.run_after).strftime('%Y-%m-%d') }}",  # = _run_date
    "--reason",
    "{{ params.reason or 'manual' }}",
    "--report-uri",
    "{{ params.report_uri or '' }}",
    "--since",
    "{{ (params.since or '')[:10] }}",
    "--window-days",
    "{{ params.window_days or '' }}",
    "--algorithm",
    "{{ params.algorithm or '' }}",
    "--hyperparameters",
    "{{ dict(params.hyperparameters or {}, max_depth=params.max_depth,"
    " learning_rate=params.learning_rate) | tojson }}",
    "--dag-id",
    "{{ dag.dag_id }}",
    "--run-id",
    "{{ run_id }}",
    "--task-id",
    "{{ task.task_id }}",
]


def _link_mlflow_run(context: Any, trained: dict[str, Any]) -> None:
    """Publish the MLflow run of a training result as the task's "MLflow run" link."""
    from driftloop.config import load_config
    from driftloop.orchestration import mlflow_run_url

    uri = load_config().tracking_uri()
    publish_links(
        context, mlflow_run=mlflow_run_url(uri, trained["experiment_id"], trained["run_id"])
    )


def _run_date(context: Any) -> str:
    """The window's last day: the date param/conf, else the logical date, else the run-after day."""
    if context["params"].get("date"):
        return str(context["params"]["date"])[:10]
    if context.get("logical_date") is None:
        return context["dag_run"].run_after.date().isoformat()
    return resolve_partition(context)


@dag(
    dag_id="train",
    schedule=None,
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "model"],
    doc_md=__doc__,
    params={
        "date": Param(
            "",
            type="string",
            title="Window end",
            description="Last day of the training window (YYYY-MM-DD); empty: the run's date.",
        ),
        "reason": Param("manual", type="string", description="Why this model is trained."),
        "report_uri": Param("", type="string", description="Drift report that triggered it."),
        "window_days": Param(None, type=["null", "integer"], minimum=2),
        "since": Param(
            "",
            type="string",
            description="First day of the window (YYYY-MM-DD), e.g. a drift onset; wins over window_days.",
        ),
        "algorithm": Param(
            "",
            type="string",
            enum=ALGORITHMS,
            values_display={"": "as configured", **{a: a for a in ALGORITHMS[1:]}},
        ),
        "hyperparameters": Param(
            {}, type="object", description='Estimator overrides, e.g. {"max_iter": 100}.'
        ),
        "max_depth": Param(None, type=["null", "integer"], minimum=1),
        "learning_rate": Param(
            None, type=["null", "number"], exclusiveMinimum=0, description="gradient_boosting"
        ),
        "min_improvement": Param(None, type=["null", "number"], minimum=0),
        "auto_promote": Param(
            None,
            type=["null", "boolean"],
            description="Promote without approval when the gate passes; null: as configured.",
        ),
    },
)
def train() -> None:
    # One retry: a failed attempt leaves a FAILED MLflow run and no registered version.
    @task(multiple_outputs=False, retries=1)
    def train_model(**context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from driftloop.config import load_config
        from driftloop.datasets import InsufficientData
        from driftloop.train import train_model

        cfg, p = load_config(), context["params"]
        hyper = dict(p.get("hyperparameters") or {})
        hyper.update({k: p[k] for k in ("max_depth", "learning_rate") if p.get(k) is not None})
        ti = context["ti"]
        try:
            result = train_model(
                cfg,
                _run_date(context),
                window_days=p.get("window_days"),
                since=p.get("since") or None,
                algorithm=p.get("algorithm") or None,
                hyperparameters=hyper,
                reason=p.get("reason") or "manual",
                report_uri=p.get("report_uri") or None,
                airflow_context={"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id},
            )
        except InsufficientData as err:
            raise AirflowFailException(str(err)) from err  # retrying cannot add labelled data
        _link_mlflow_run(context, result.to_dict())
        return result.to_dict()

    @task(multiple_outputs=False)
    def gate(trained: dict[str, Any], **context: Any) -> dict[str, Any]:
        from driftloop import registry
        from driftloop.config import load_config

        cfg, p = load_config(), context["params"]
        decision = registry.evaluate_challenger(
            cfg, trained["model_version"], min_improvement=p.get("min_improvement")
        )
        auto = p.get("auto_promote")
        return {
            **decision.to_dict(),
            "auto_promote": cfg.gate.auto_promote if auto is None else bool(auto),
            "reason": decision.reason,
            "trigger_reason": trained.get("reason") or p.get("reason") or "manual",
        }

    @task.branch
    def route(decision: dict[str, Any]) -> str | None:
        if not decision["promote"]:
            print(f"gate rejected v{decision['challenger_version']}: {decision['reason']}")
            return None
        return "promote_model" if decision["auto_promote"] else "approve_promotion"

    approve_promotion = PromotionApproval(
        task_id="approve_promotion",
        subject="Promote {{ ti.xcom_pull(task_ids='gate')['challenger_version'] }} to champion?",
        body=(
            "The gate passed ({{ ti.xcom_pull(task_ids='gate')['rule'] }}): "
            "{{ ti.xcom_pull(task_ids='gate')['reason'] }}.\n\n"
            "Champion: {{ ti.xcom_pull(task_ids='gate')['champion_version'] or 'none' }}. "
            "Approve moves the champion alias; Reject keeps the current champion."
        ),
        defaults="Reject",  # what an unanswered request resolves to after response_timeout
        response_timeout=timedelta(days=7),
    )

    @task(trigger_rule="none_failed_min_one_success", outlets=[MODEL], multiple_outputs=False)
    def promote_model(decision: dict[str, Any], **context: Any) -> dict[str, Any]:
        from driftloop import registry
        from driftloop.config import load_config

        cfg = load_config()
        answer = context["ti"].xcom_pull(task_ids="approve_promotion", key=ANSWER_KEY)
        actor = f"{answer['user']} (approved in Airflow)" if answer else "gate (auto-promote)"
        record = registry.promote(
            cfg,
            decision["challenger_version"],
            reason=f"{decision['trigger_reason']}; gate: {decision['reason']}",
            actor=actor,
            decision=registry.GateDecision.from_dict(
                {k: decision[k] for k in registry.GateDecision.__dataclass_fields__}
            ),
        )
        context["outlet_events"][MODEL].extra = {
            "model_name": cfg.model_name,
            "model_version": decision["challenger_version"],
            "previous_champion": record["previous_champion"],
            "partition": _run_date(context),
        }
        return record

    @task(trigger_rule="none_failed")
    def record_outcome(decision: dict[str, Any], **context: Any) -> str:
        from driftloop import registry
        from driftloop.config import load_config

        version = decision["challenger_version"]
        skipped = context["ti"].xcom_pull(task_ids="approve_promotion", key="skipmixin_key")
        if skipped and "promote_model" in skipped.get("skipped", []):
            return f"v{version}: promotion rejected in the approval step"
        champion = registry.champion(load_config())
        if champion is not None and str(champion.version) == str(version):
            return f"v{version} is the champion"
        return f"v{version} not promoted: {decision['reason']}"

    if execution_mode() == "kubernetes":
        trained = pod_task(
            "train_model", TRAIN_ARGUMENTS, on_result=_link_mlflow_run, retries=1
        ).output
    else:
        trained = train_model()
    decision = gate(trained)
    branch = route(decision)
    promoted = promote_model(decision)
    branch >> [approve_promotion, promoted]
    approve_promotion >> promoted
    promoted >> record_outcome(decision)


train()
