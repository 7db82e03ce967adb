"""The trigger forms: every param is labelled, the defaults are valid, bad values are refused early.

Airflow validates a run's conf against these schemas when the run is created (the REST API answers
400, the form keeps Trigger disabled), so whatever passes here reaches the first task in a shape it
can use; what a schema cannot check is the first task's job (tests/integration/test_forms_dags.py).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

FORM_DAGS = ("churn__train", "churn__promote")
# What the drift check and the demo send to `train` (they must keep working).
DRIFT_CHECK_CONF = {
    "date": "2026-01-10",
    "reason": "drift_check 2026-01-10: 3 features drifted",
    "report_uri": "s3://bucket/monitoring/drift/date=2026-01-10",
    "since": "2026-01-04",
}


@pytest.fixture(scope="module")
def dags() -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def _with(dag: Any, conf: dict[str, Any]) -> dict[str, Any]:
    """The params of a run of ``dag`` with ``conf``, validated the way a trigger validates them."""
    params = copy.deepcopy(dag.params)
    params.update(conf)
    return params.validate()


@pytest.mark.parametrize("dag_id", FORM_DAGS)
def test_every_param_has_a_title_and_a_description(dags, dag_id: str) -> None:
    for name, param in dags[dag_id].params.items():
        assert param.schema.get("title"), f"{dag_id}.{name} has no title"
        assert param.description, f"{dag_id}.{name} has no description"


@pytest.mark.parametrize("dag_id", FORM_DAGS)
def test_the_defaults_are_valid_values(dags, dag_id: str) -> None:
    resolved = dags[dag_id].params.validate()
    assert set(resolved) == set(dags[dag_id].params)


@pytest.mark.parametrize("dag_id", FORM_DAGS)
def test_no_param_is_a_required_empty_string(dags, dag_id: str) -> None:
    # The form marks a param required unless its type allows null; a required param with an empty
    # default blocks the Trigger button until someone types something.
    for name, param in dags[dag_id].params.items():
        types = param.schema.get("type")
        nullable = isinstance(types, list) and "null" in types
        assert nullable or param.value not in ("", None), f"{dag_id}.{name}: required but empty"


def test_train_as_configured_choices_are_valid_and_visible(dags) -> None:
    params = dags["churn__train"].params
    algorithm = params.get_param("algorithm").schema
    assert None in algorithm["enum"] and algorithm["values_display"]["null"] == "as configured"
    auto = params.get_param("auto_promote").schema
    assert auto["enum"] == ["as_configured", "on", "off"]
    assert len(set(auto["values_display"].values())) == 3
    for name in ("date", "since"):
        assert params.get_param(name).schema["format"] == "date"  # a date picker in the form


def test_train_accepts_what_the_drift_check_and_the_demo_send(dags) -> None:
    resolved = _with(dags["churn__train"], DRIFT_CHECK_CONF)
    assert {k: resolved[k] for k in DRIFT_CHECK_CONF} == DRIFT_CHECK_CONF
    assert _with(dags["churn__train"], {"date": "2026-01-10", "reason": "bootstrap: first model"})
    choices = {"algorithm": "random_forest", "auto_promote": "off", "max_depth": 3}
    assert _with(dags["churn__train"], choices)["auto_promote"] == "off"


@pytest.mark.parametrize(
    "conf",
    [
        {"date": "2026-02-30"},  # no such day
        {"date": "10/01/2026"},
        {"date": "2026-01-10T00:00:00"},
        {"since": "yesterday"},
        {"algorithm": "catboost"},  # not a family (lightgbm and xgboost are)
        {"auto_promote": True},  # a choice, not a boolean: "as configured" must stay reachable
        {"window_days": 1},
        {"learning_rate": 0},
        {"hyperparameters": "max_iter=3"},
        {"reason": ""},
    ],
)
def test_train_refuses_bad_values_before_the_run(dags, conf: dict[str, Any]) -> None:
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError, match=next(iter(conf))):
        _with(dags["churn__train"], conf)


def test_promote_rollback_needs_no_version(dags) -> None:
    resolved = _with(dags["churn__promote"], {"action": "rollback"})
    assert resolved["version"] is None and resolved["reason"]


@pytest.mark.parametrize("conf", [{"version": "v3"}, {"action": "undo"}, {"reason": ""}])
def test_promote_refuses_bad_values_before_the_run(dags, conf: dict[str, Any]) -> None:
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError, match=next(iter(conf))):
        _with(dags["churn__promote"], conf)


def test_auto_promote_choices_map_to_the_gate_setting(dags) -> None:
    from driftloop.model.workflow import resolve_auto_promote as auto_promote

    # The form offers exactly the choices the workflow resolves.
    assert dags["churn__train"].params.get_param("auto_promote").schema["enum"] == [
        "as_configured",
        "on",
        "off",
    ]
    for configured in (True, False):
        assert auto_promote("as_configured", configured) is configured
        assert auto_promote(None, configured) is configured
        assert auto_promote("on", configured) is True
        assert auto_promote("off", configured) is False


def test_hyperparameter_overrides_take_the_form_values_that_are_set() -> None:
    from driftloop.model.workflow import TrainRequest

    def hyperparameter_overrides(params: dict[str, Any]) -> dict[str, Any]:
        return TrainRequest.from_params(params).merged_hyperparameters()

    params = {"hyperparameters": {"max_iter": 20, "max_depth": 5}, "max_depth": 3}
    assert hyperparameter_overrides({**params, "learning_rate": None}) == {
        "max_iter": 20,
        "max_depth": 3,
    }
    assert hyperparameter_overrides({"hyperparameters": None, "learning_rate": 0.2}) == {
        "learning_rate": 0.2
    }
    assert hyperparameter_overrides({}) == {}
