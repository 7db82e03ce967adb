"""What every DAG shares at parse time: default arguments, trigger-form params.

Importing this module is cheap (no pandas, sklearn, mlflow or GX) and reads no connection or DB.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import Param

from driftloop.airflow.alerting import on_task_failure
from driftloop.core.config import Algorithm
from driftloop.model.workflow import AUTO_PROMOTE_CHOICES

__all__ = [
    "ALGORITHMS",
    "AS_CONFIGURED",
    "DEFAULT_ARGS",
    "ISO_DATE",
    "LANDING_TIMEOUT_ENV",
    "OWNER",
    "POKE_SECONDS_ENV",
    "choice_param",
    "date_param",
    "landing_timeout",
    "optional_param",
    "poke_interval",
    "promote_params",
    "train_params",
]

OWNER = "ml-platform"
POKE_SECONDS_ENV = "DRIFTLOOP_POKE_SECONDS"
LANDING_TIMEOUT_ENV = "DRIFTLOOP_LANDING_TIMEOUT_SECONDS"

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    # A task failed after its retries, or a day that never landed: told through the alerts.
    "on_failure_callback": on_task_failure,
}

# Trigger-form values that mean "as configured in the pipeline config". Optional params are nullable
# with a None default: Airflow 3.3's form marks a non-nullable string param as required, and an empty
# value keeps its Trigger button disabled.
AS_CONFIGURED = "as configured"
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

ALGORITHMS = sorted(a.value for a in Algorithm)


def poke_interval() -> float:
    """Seconds between a waiting sensor's looks at the store (``DRIFTLOOP_POKE_SECONDS``, default 30)."""
    return float(os.environ.get(POKE_SECONDS_ENV, "30"))


def landing_timeout() -> float:
    """Seconds a day's delivery may be late before the landing sensor gives up and the day is
    reported as not landed (``DRIFTLOOP_LANDING_TIMEOUT_SECONDS``, default 36 hours)."""
    return float(os.environ.get(LANDING_TIMEOUT_ENV, str(36 * 3600)))


def optional_param(kind: str, title: str, description: str, **schema: Any) -> Param:
    """An optional ``kind`` param (e.g. ``"integer"``); None, the default, means "as configured"."""
    return Param(None, type=["null", kind], title=title, description=description, **schema)


def date_param(title: str, description: str) -> Param:
    """An optional ``YYYY-MM-DD`` param: a date picker in the form, checked before the run starts."""
    return optional_param("string", title, description, format="date", pattern=ISO_DATE)


def choice_param(choices: list[str], title: str, description: str) -> Param:
    """An optional choice among ``choices``; None (shown as "as configured") is a valid value."""
    return optional_param(
        "string",
        title,
        description,
        enum=[None, *choices],
        # The form looks labels up by the value's string form: "null" for None.
        values_display={"null": AS_CONFIGURED, **{c: c.replace("_", " ") for c in choices}},
    )


def train_params() -> dict[str, Param]:
    """The trigger form of ``train`` (all optional; unset means "as configured")."""
    return {
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
            enum=list(AUTO_PROMOTE_CHOICES),
            values_display={
                "as_configured": "as configured (gate.auto_promote)",
                "on": "on: promote when the gate passes",
                "off": "off: ask for approval in Airflow",
            },
            title="Auto-promote",
            description="Promote without a person's approval when the gate passes.",
        ),
    }


def promote_params() -> dict[str, Param]:
    """The trigger form of ``promote`` (a manual promotion or a rollback)."""
    return {
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
        "shadow_win": Param(
            False,
            type="boolean",
            title="Won in shadow",
            description="Set by drift_check for a version that won in shadow: ask for approval "
            "first (Approve promotes it, Reject ends its shadow). Off for a manual promotion.",
        ),
    }
