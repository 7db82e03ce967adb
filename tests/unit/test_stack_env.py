"""The local stack's environment: each stack binds ports of its own, log servers included."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.local.stack import LOG_SERVER_PORT_VARS, stack_env

WORKER, TRIGGER = LOG_SERVER_PORT_VARS


def test_each_stack_gets_free_log_server_ports_not_airflows_fixed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stacks side by side do not both ask for 8793/8794 (the second could not bind them)."""
    for key in LOG_SERVER_PORT_VARS:
        monkeypatch.delenv(key, raising=False)
    env = stack_env(tmp_path, port=8080, mlflow_port=None, inherit=True)
    ports = {int(env[WORKER]), int(env[TRIGGER])}
    assert len(ports) == 2 and not ports & {8793, 8794, 8080}


def test_a_log_server_port_the_shell_or_the_caller_sets_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKER, "18793")
    monkeypatch.setenv(TRIGGER, "18794")
    inherited = stack_env(tmp_path, port=8080, mlflow_port=None, inherit=True)
    assert (inherited[WORKER], inherited[TRIGGER]) == ("18793", "18794")
    isolated = stack_env(tmp_path, port=8080, mlflow_port=None, inherit=False)
    assert isolated[WORKER] != "18793"  # an isolated stack drops the shell's AIRFLOW* variables
    given = stack_env(
        tmp_path, port=8080, mlflow_port=None, inherit=False, extra_env={TRIGGER: "28794"}
    )
    assert given[TRIGGER] == "28794"
