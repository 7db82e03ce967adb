"""Readable logs: known library noise is filtered narrowly and MLflow's lines keep their level."""

from __future__ import annotations

import logging
import sys
import warnings

import pytest

from driftloop.core import logs


def _emit(message: str, category: type[Warning], module: str) -> list[warnings.WarningMessage]:
    """Raise a warning as if from ``module``, under the filters quiet_libraries installs."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        logs.quiet_libraries()
        warnings.warn_explicit(message, category, f"{module.replace('.', '/')}.py", 70, module)
    return seen


def test_known_library_warnings_are_filtered_and_nothing_else() -> None:
    skops = "The `airflow.utils.timezone.zetac` attribute is deprecated."
    assert _emit(skops, FutureWarning, "skops.io._utils") == []
    # The same warning from anywhere else, or another warning from skops, still shows.
    assert len(_emit(skops, FutureWarning, "driftloop.model.train")) == 1
    assert len(_emit("something new", FutureWarning, "skops.io._utils")) == 1
    assert len(_emit("something new", DeprecationWarning, "mlflow.store.db")) == 1


def test_pip_version_warning_of_mlflow_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    logs.quiet_libraries()
    log = logging.getLogger("mlflow.utils.environment")
    with caplog.at_level(logging.INFO, logger="mlflow"):
        log.warning("Failed to resolve installed pip version. ``pip`` will be added")
        log.warning("Some other environment problem")
    assert [r.getMessage() for r in caplog.records] == ["Some other environment problem"]


def test_stderr_to_log_turns_prints_into_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mlflow"), logs.stderr_to_log("mlflow"):
        print("Successfully registered model 'm'.", file=sys.stderr)
        sys.stderr.write("Created version '1' ")
        sys.stderr.write("of model 'm'.\n")
        sys.stderr.write("no newline at the end")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("mlflow", "INFO", "Successfully registered model 'm'."),
        ("mlflow", "INFO", "Created version '1' of model 'm'."),
        ("mlflow", "INFO", "no newline at the end"),
    ]


def test_local_airflow_shows_task_info_lines(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from driftloop.local.env import airflow_env

    monkeypatch.delenv("AIRFLOW__LOGGING__LOGGING_LEVEL", raising=False)
    monkeypatch.delenv("AIRFLOW__LOGGING__NAMESPACE_LEVELS", raising=False)
    env = airflow_env(tmp_path)
    assert env["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "INFO"
    assert "http.access=WARNING" in env["AIRFLOW__LOGGING__NAMESPACE_LEVELS"]
    monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "DEBUG")  # a person's choice wins
    assert airflow_env(tmp_path)["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "DEBUG"
