"""Pipeline config: the demo file loads, mistakes are named by key, env overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from driftloop.core.config import ConfigError, load_config, parse_config, project_root

DEMO = project_root() / "configs" / "churn.yaml"


def _demo() -> dict:
    return yaml.safe_load(DEMO.read_text())


def test_demo_config_loads() -> None:
    cfg = load_config(DEMO, environ={})
    assert cfg.name == "churn"
    assert cfg.dataset.target == "churned"
    assert "contract" in cfg.dataset.categorical and "age" in cfg.dataset.numeric


MINIMAL = {
    "name": "weather",
    "dataset": {
        "id_column": "day_id",
        "timestamp_column": "date",
        "target": "weather",
        "task": "multiclass",
        "features": [{"name": "wind", "type": "numeric"}],
    },
    "storage": {"root": "/tmp/weather"},
}


def test_a_minimal_config_needs_only_name_dataset_and_storage() -> None:
    """Every other section has defaults; the suite is named after the pipeline (as the examples'
    committed suites are), and a config naming its suite keeps it."""
    cfg = parse_config(MINIMAL, environ={})
    assert cfg.validation.suite == "weather_batch"
    assert cfg.validation.min_rows == 100 and cfg.gate.primary_metric == "macro_f1"
    assert cfg.training.window_days > 0 and cfg.schedule.interval == "@daily"
    empty = parse_config({**MINIMAL, "validation": None}, environ={})
    assert empty.validation == cfg.validation
    tuned = parse_config({**MINIMAL, "validation": {"min_rows": 5}}, environ={})
    assert (tuned.validation.suite, tuned.validation.min_rows) == ("weather_batch", 5)
    assert load_config(DEMO, environ={}).validation.suite == "churn_batch"
    for required in ("name", "dataset", "storage"):
        with pytest.raises(ConfigError, match=f"{required}: required key is missing"):
            parse_config({k: v for k, v in MINIMAL.items() if k != required}, environ={})


@pytest.mark.parametrize(
    ("mutate", "key", "problem"),
    [
        (lambda d: d["dataset"].pop("target"), "dataset.target", "required key is missing"),
        (
            lambda d: d["validation"].update(min_rows=0),
            "validation.min_rows",
            "greater than or equal",
        ),
        (lambda d: d["storage"].update(rot="x"), "storage.rot", "unknown key"),
        (lambda d: d["storage"].update(root="ftp://x"), "storage.root", "unsupported scheme"),
        (
            lambda d: d["dataset"]["features"].append({"name": "age", "type": "numeric"}),
            "dataset",
            "column names used twice",
        ),
        (
            lambda d: d["gate"].update(guards={"logloss": 0.05}),
            "gate.guards",
            "unknown guard metric(s) logloss; known: roc_auc",
        ),
        (
            lambda d: d["gate"].update(guards={"log_loss": -0.01}),
            "gate.guards",
            "guard tolerances must be >= 0: log_loss",
        ),
    ],
    ids=["missing", "out-of-range", "typo", "scheme", "duplicate", "guard-name", "guard-negative"],
)
def test_errors_name_the_key_and_the_problem(mutate, key: str, problem: str) -> None:
    data = _demo()
    mutate(data)
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="test.yaml", environ={"DRIFTLOOP_HOME": "/tmp/x"})
    assert "test.yaml" in str(err.value)
    line = next(ln for ln in str(err.value).splitlines() if ln.strip().startswith(key))
    assert problem in line


def test_unreadable_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml", environ={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad, environ={})


def test_env_overrides_are_typed() -> None:
    env = {
        "DRIFTLOOP__STORAGE__ROOT": "s3://bucket/prefix",
        "DRIFTLOOP__VALIDATION__MIN_ROWS": "42",
        "DRIFTLOOP__GATE__AUTO_PROMOTE": "false",
    }
    cfg = load_config(DEMO, environ=env)
    assert cfg.storage.root == "s3://bucket/prefix"
    assert cfg.validation.min_rows == 42
    assert cfg.gate.auto_promote is False


def test_variable_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _demo()
    data["storage"]["root"] = "${DATA_ROOT:-/srv/default}/x"
    monkeypatch.delenv("DATA_ROOT", raising=False)
    assert parse_config(data, environ={}).storage.root == "/srv/default/x"
    monkeypatch.setenv("DATA_ROOT", "/mnt/data")
    assert parse_config(data, environ={}).storage.root == "/mnt/data/x"
    data["storage"]["root"] = "${SURELY_UNSET_VARIABLE}"
    monkeypatch.delenv("SURELY_UNSET_VARIABLE", raising=False)
    with pytest.raises(ConfigError, match="SURELY_UNSET_VARIABLE is not set"):
        parse_config(data, environ={})
    # A default may name another variable: a deployment-wide base, else the local state folder.
    data["storage"]["root"] = "${STORAGE_BASE_FOR_TEST:-${DRIFTLOOP_HOME}}/eu/data"
    monkeypatch.delenv("STORAGE_BASE_FOR_TEST", raising=False)
    monkeypatch.setenv("DRIFTLOOP_HOME", "/srv/home")
    assert parse_config(data, environ={}).storage.root == "/srv/home/eu/data"
    monkeypatch.setenv("STORAGE_BASE_FOR_TEST", "s3://bucket")
    assert parse_config(data, environ={}).storage.root == "s3://bucket/eu/data"
    data["storage"]["root"] = "${STORAGE_BASE_UNSET_FOR_TEST:-${SURELY_UNSET_VARIABLE}}/x"
    with pytest.raises(ConfigError, match="SURELY_UNSET_VARIABLE is not set"):
        parse_config(data, environ={})


@pytest.mark.parametrize(
    "moved", ["cooldown_days", "min_labelled_days_after_drift", "bootstrap_labelled_days"]
)
def test_retrain_policy_keys_under_drift_are_refused_with_their_new_name(moved: str) -> None:
    data = _demo()
    data["drift"][moved] = data["retrain"].pop(moved)
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="old.yaml", environ={"DRIFTLOOP_HOME": "/tmp/x"})
    assert f"drift.{moved} moved to retrain.{moved}" in str(err.value)
    # The same old key set from the environment gets the same answer.
    with pytest.raises(ConfigError, match=f"moved to retrain.{moved}"):
        load_config(DEMO, environ={f"DRIFTLOOP__DRIFT__{moved.upper()}": "3"})


def test_retrain_policy_settings_load_from_their_section() -> None:
    env = {"DRIFTLOOP__RETRAIN__COOLDOWN_DAYS": "2"}
    cfg = load_config(DEMO, environ=env)
    assert cfg.retrain.cooldown_days == 2
    assert cfg.retrain.bootstrap_labelled_days == 7
    assert cfg.retrain.min_labelled_days_after_drift == 7


def test_numeric_categories_are_accepted_as_written_and_kept_as_text() -> None:
    data = _demo()
    data["dataset"]["features"][8]["categories"] = [1, 2, 3.5, "x"]
    cfg = parse_config(data, environ={"DRIFTLOOP_HOME": "/tmp/x"})
    assert cfg.dataset.features[8].categories == ["1", "2", "3.5", "x"]
    data["dataset"]["features"][8]["categories"] = ["yes", False]  # YAML's unquoted `no`
    with pytest.raises(ConfigError, match="read as a boolean: quote it"):
        parse_config(data, environ={"DRIFTLOOP_HOME": "/tmp/x"})


def test_validation_tolerance_and_row_quarantine_settings() -> None:
    env = {
        "DRIFTLOOP__VALIDATION__MOSTLY": "0.99",
        "DRIFTLOOP__VALIDATION__BAD_ROWS": "quarantine_rows",
    }
    cfg = load_config(DEMO, environ=env)
    assert (cfg.validation.mostly, cfg.validation.bad_rows) == (0.99, "quarantine_rows")
    with pytest.raises(ConfigError, match=r"validation\.bad_rows"):
        load_config(DEMO, environ={"DRIFTLOOP__VALIDATION__BAD_ROWS": "drop"})
    with pytest.raises(ConfigError, match=r"dataset\.features\.0\.mostly"):
        load_config(
            DEMO, environ={"DRIFTLOOP__DATASET__FEATURES": "[{name: a, type: numeric, mostly: 2}]"}
        )


def test_a_config_error_is_a_few_lines_naming_the_keys() -> None:
    data = _demo()
    data["dataset"]["features"][0]["min"] = {"low": 0}
    data["dataset"]["features"][8]["categories"] = [{"a": 1}, {"b": 2}, {"c": 3}, {"d": 4}]
    data["validation"]["max_rows"] = "many"
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="mine.yaml", environ={"DRIFTLOOP_HOME": "/tmp/x"})
    lines = str(err.value).splitlines()
    assert lines == [
        "invalid config mine.yaml:",
        "  dataset.features.0.min: Input should be a valid number",
        "  dataset.features.8.categories: Input should be a valid string",
        "  validation.max_rows: Input should be a valid integer, unable to parse string as an "
        "integer (got 'many')",
    ]


def test_union_noise_collapses_to_one_line_per_key() -> None:
    from pydantic import BaseModel, ValidationError

    from driftloop.core.config import _format_errors

    class Codes(BaseModel):
        codes: list[int] | list[str] | dict[str, int] | None

    with pytest.raises(ValidationError) as err:
        Codes.model_validate({"codes": [[1], [2], [3]]})
    assert len(err.value.errors()) > 5  # one per member and item
    text = _format_errors(err.value, "u.yaml")
    assert text.splitlines() == [
        "invalid config u.yaml:",
        "  codes: Input should be a valid integer (and 2 more)",
    ]


def test_task_types_and_their_dataset_keys() -> None:
    assert load_config(DEMO, environ={}).dataset.task == "binary"  # the default
    examples = project_root() / "configs" / "examples"
    mc = load_config(examples / "multiclass.yaml", environ={})
    assert (mc.dataset.task, mc.dataset.classes) == ("multiclass", ["0", "1", "2"])  # as written
    assert mc.gate.primary_metric == "macro_f1"
    reg = load_config(examples / "regression.yaml", environ={})
    assert (reg.dataset.task, reg.gate.primary_metric, reg.dataset.classes) == (
        "regression",
        "rmse",
        None,
    )

    data = _demo()
    data["dataset"]["task"] = "multiclass"
    with pytest.raises(ConfigError, match="positive_label applies only to task binary"):
        parse_config(data, environ={"DRIFTLOOP_HOME": "/tmp/x"})
    data["dataset"].pop("positive_label")
    data["gate"].update(primary_metric="macro_f1", guards={"log_loss": 0.05})
    data["dataset"]["classes"] = ["a", "a"]
    with pytest.raises(ConfigError, match="at least two distinct labels"):
        parse_config(data, environ={"DRIFTLOOP_HOME": "/tmp/x"})
    data["dataset"]["classes"] = ["low", 2, 3.5]
    cfg = parse_config(data, environ={"DRIFTLOOP_HOME": "/tmp/x"})
    assert cfg.dataset.classes == ["low", "2", "3.5"]

    data = _demo()
    data["dataset"]["classes"] = [0, 1]
    with pytest.raises(ConfigError, match="classes applies only to task multiclass"):
        parse_config(data, environ={"DRIFTLOOP_HOME": "/tmp/x"})
    data = _demo()
    data["dataset"].update(task="regression")
    data["dataset"].pop("positive_label")
    data.pop("gate")
    data["training"]["algorithm"] = "logistic_regression"
    with pytest.raises(ConfigError) as err:
        parse_config(data, environ={"DRIFTLOOP_HOME": "/tmp/x"})
    assert "training.algorithm: logistic_regression is a classifier" in str(err.value)


@pytest.mark.parametrize(
    ("value", "seconds", "shown"),
    [("7d", 604800, "7d"), ("12h", 43200, "12h"), ("90m", 5400, "90m"), ("2s", 2, "2s"),
     ("3600", 3600, "1h"), ("P1D", 86400, "1d")],
)  # fmt: skip
def test_approval_timeout_and_approvers(value: str, seconds: int, shown: str) -> None:
    from driftloop.core.config import format_duration

    env = {
        "DRIFTLOOP__GATE__APPROVAL_TIMEOUT": value,
        "DRIFTLOOP__GATE__APPROVERS": "[alice, bob]",
    }
    gate = load_config(DEMO, environ=env).gate
    assert gate.approval_timeout.total_seconds() == seconds
    assert format_duration(gate.approval_timeout) == shown
    assert gate.approvers == ["alice", "bob"]
    default = load_config(DEMO, environ={}).gate
    assert (default.approvers, format_duration(default.approval_timeout)) == ([], "7d")


@pytest.mark.parametrize("value", ["0s", "-5", "soon"])
def test_a_bad_approval_timeout_names_the_key(value: str) -> None:
    with pytest.raises(ConfigError, match=r"gate\.approval_timeout"):
        load_config(DEMO, environ={"DRIFTLOOP__GATE__APPROVAL_TIMEOUT": value})


def test_shadow_is_off_by_default_and_loads_from_the_gate_section() -> None:
    default = load_config(DEMO, environ={}).gate
    assert default.shadow_partitions == 0
    env = {
        "DRIFTLOOP__GATE__SHADOW_PARTITIONS": "3",
        "DRIFTLOOP__GATE__SHADOW_MARGIN": "0.01",
        "DRIFTLOOP__GATE__SHADOW_MAX_DAYS": "10",
    }
    gate = load_config(DEMO, environ=env).gate
    assert (gate.shadow_partitions, gate.shadow_margin, gate.shadow_max_days) == (3, 0.01, 10)


@pytest.mark.parametrize(
    ("env", "key", "problem"),
    [
        ({"SHADOW_PARTITIONS": "-1"}, r"gate\.shadow_partitions", "greater than or equal"),
        ({"SHADOW_MARGIN": "-0.1"}, r"gate\.shadow_margin", "greater than or equal"),
        ({"SHADOW_MAX_DAYS": "0"}, r"gate\.shadow_max_days", "greater than or equal"),
        # 5 partitions whose labels land 3 days later cannot all be in within 6 days.
        (
            {"SHADOW_PARTITIONS": "5", "SHADOW_MAX_DAYS": "6"},
            r"gate\.shadow_max_days",
            "needs at least 8 days",
        ),
    ],
)
def test_bad_shadow_settings_name_the_key(env: dict[str, str], key: str, problem: str) -> None:
    environ = {f"DRIFTLOOP__GATE__{k}": v for k, v in env.items()}
    with pytest.raises(ConfigError, match=key) as err:
        load_config(DEMO, environ=environ)
    assert problem in str(err.value)


def test_estimate_settings_default_and_validation() -> None:
    cfg = load_config(DEMO, environ={})
    assert cfg.drift.estimated_tolerance_value == cfg.drift.performance_tolerance
    assert cfg.retrain.on_drift_without_estimated_drop is True
    assert cfg.estimated_drop_wait == cfg.training.holdout_days + 1
    env = {"DRIFTLOOP_HOME": "/tmp/x"}
    data = _demo()
    data["drift"]["estimated_tolerance"] = 0.02
    data["retrain"]["min_labelled_days_after_estimated_drop"] = 5
    cfg = parse_config(data, source="t.yaml", environ=env)
    assert (cfg.drift.estimated_tolerance_value, cfg.estimated_drop_wait) == (0.02, 5)
    data["retrain"]["min_labelled_days_after_estimated_drop"] = 9
    with pytest.raises(ConfigError, match="must not exceed min_labelled_days_after_drift"):
        parse_config(data, source="t.yaml", environ=env)
    data["retrain"]["min_labelled_days_after_estimated_drop"] = 2
    with pytest.raises(ConfigError, match="holdout_days"):
        parse_config(data, source="t.yaml", environ=env)
