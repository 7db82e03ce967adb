"""
### train — fit a challenger, gate it against the champion, promote (automatically or on approval)

Triggered manually (the trigger form works with its defaults), by the drift check's retrain policy,
or by the demo. Params (all optional; unset means "as configured in the pipeline config"):
`date` (last day of the training window; unset: **the newest day that has labels**), `since` (first
day of the window, e.g. the drift onset; wins over `window_days`), `window_days`, `reason`,
`report_uri` (the drift report that triggered it), `algorithm`, `hyperparameters` (JSON object),
`max_depth`, `learning_rate`, `min_improvement`, `auto_promote` (`as_configured` | `on` | `off`).
The form checks types and dates before the run starts; **train_model** checks the rest (algorithm
and hyperparameter names and values, whether the window has labelled data) before it reads any data,
and fails at once with a one-line message naming the param.

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

import logging
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param, dag, task

from driftloop.airflow.orchestration import (
    DEFAULT_ARGS,
    MODEL,
    choice_param,
    date_param,
    execution_mode,
    optional_param,
    pod_task,
    publish_links,
    start_date,
)

ALGORITHMS = ["gradient_boosting", "logistic_regression", "random_forest"]
ANSWER_KEY = "approval_answer"
log = logging.getLogger("driftloop.dags.train")
# auto_promote choices -> the gate's setting (None: gate.auto_promote of the pipeline config).
AUTO_PROMOTE = {"as_configured": None, "on": True, "off": False}


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
            from driftloop.core.config import load_config
            from driftloop.model import registry

            decision = context["ti"].xcom_pull(task_ids="gate")
            registry.reject(
                load_config(), decision["challenger_version"], "rejected in the approval step", who
            )
        return super().execute_complete(context, event)


# `driftloop train` arguments of the pod (kubernetes mode); empty values mean "as configured" (an
# empty --date: the newest labelled day, the same rule as the in-process task).
TRAIN_ARGUMENTS = [
    "train",
    "--train-only",  # the gate and the promotion are the next tasks of this DAG
    "--date",
    "{{ (params.date or '')[:10] }}",
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
    from driftloop.airflow.orchestration import mlflow_run_url
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


def _auto_promote(value: str | None, configured: bool) -> bool:
    """The auto_promote choice as a boolean (``as_configured``/unset: the pipeline config's)."""
    choice = AUTO_PROMOTE.get(value or "as_configured")
    return configured if choice is None else choice


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
        "date": date_param(
            "Window end",
            "Last day of the training window. Empty: the newest day that has labels.",
        ),
        "since": date_param(
            "Window start",
            "First day of the window, e.g. a drift onset; wins over the window length. "
            "Empty: window end minus the window length.",
        ),
        "window_days": optional_param(
            "integer",
            "Window length (days)",
            "Days in the training window. Empty: training.window_days of the config.",
            minimum=2,
        ),
        "reason": Param(
            "manual",
            type="string",
            minLength=1,
            title="Reason",
            description="Why this model is trained; kept on the MLflow run and in the audit.",
        ),
        "report_uri": optional_param(
            "string",
            "Drift report",
            "The drift report that triggered this training, if any (kept as a tag).",
        ),
        "algorithm": choice_param(
            ALGORITHMS, "Algorithm", "Estimator to fit. As configured: training.algorithm."
        ),
        "hyperparameters": Param(
            {},
            type="object",
            title="Hyperparameters",
            description='Estimator overrides as a JSON object, e.g. {"max_iter": 100}; names and '
            "values are checked by train_model before training.",
        ),
        "max_depth": optional_param(
            "integer",
            "Max depth",
            "Tree depth (gradient_boosting, random_forest). Empty: as configured.",
            minimum=1,
        ),
        "learning_rate": optional_param(
            "number",
            "Learning rate",
            "Shrinkage of gradient_boosting. Empty: as configured.",
            exclusiveMinimum=0,
        ),
        "min_improvement": optional_param(
            "number",
            "Minimum improvement",
            "Gain of the primary metric the challenger needs over the champion. "
            "Empty: gate.min_improvement of the config.",
            minimum=0,
        ),
        "auto_promote": Param(
            "as_configured",
            type="string",
            enum=list(AUTO_PROMOTE),
            values_display={
                "as_configured": "as configured (gate.auto_promote)",
                "on": "on: promote when the gate passes",
                "off": "off: ask for approval in Airflow",
            },
            title="Auto-promote",
            description="Promote without a person's approval when the gate passes.",
        ),
    },
)
def train() -> None:
    # One retry: a failed attempt leaves a FAILED MLflow run and no registered version.
    @task(multiple_outputs=False, retries=1)
    def train_model(**context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from driftloop.core.logs import quiet_libraries

        quiet_libraries()
        from driftloop.core.config import load_config
        from driftloop.data.windows import InsufficientData, latest_labelled_day
        from driftloop.model.train import InvalidParameter, check_parameters, train_model

        cfg, p = load_config(), context["params"]
        hyper = dict(p.get("hyperparameters") or {})
        hyper.update({k: p[k] for k in ("max_depth", "learning_rate") if p.get(k) is not None})
        ti = context["ti"]
        try:
            # Checked before any data is read; neither a bad param nor missing labels is helped by
            # a retry, so both fail the task at once with their one-line message.
            check_parameters(cfg, p.get("algorithm"), hyper)
            if p.get("date"):
                end = str(p["date"])[:10]
            else:
                end = latest_labelled_day(cfg).isoformat()
                log.info("window end: %s, the newest day with labels (date not given)", end)
            result = train_model(
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
        except (InvalidParameter, InsufficientData) as err:
            raise AirflowFailException(str(err)) from err
        _link_mlflow_run(context, result.to_dict())
        return result.to_dict()

    @task(multiple_outputs=False)
    def gate(trained: dict[str, Any], **context: Any) -> dict[str, Any]:
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
            "auto_promote": _auto_promote(p.get("auto_promote"), cfg.gate.auto_promote),
            "reason": decision.reason,
            "trigger_reason": p.get("reason") or "manual",
            "partition": trained["partition_date"],
        }

    @task.branch
    def route(decision: dict[str, Any]) -> str | None:
        version = decision["challenger_version"]
        if not decision["promote"]:
            log.info(
                "v%s stays a challenger: the gate rejected it (%s)", version, decision["reason"]
            )
            return None
        if decision["auto_promote"]:
            log.info("v%s passed the gate; auto-promote is on: promoting", version)
            return "promote_model"
        log.info("v%s passed the gate; auto-promote is off: asking for approval", version)
        return "approve_promotion"

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

    @task(trigger_rule="none_failed")
    def record_outcome(decision: dict[str, Any], **context: Any) -> str:
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
