"""The `driftloop` command: one exit code per kind of outcome, one-line errors, JSON alone on stdout."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from driftloop.cli import app as cli
from driftloop.core import errors
from driftloop.core.storage import landing_prefix, open_store

DAY = "2026-01-05"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftloop.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=180,
        check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert any(text in ln for ln in lines), proc.stderr
    errors_lines = [ln for ln in lines if ln.startswith("driftloop ")]
    assert len(errors_lines) == 1, proc.stderr


def test_usage_and_config_errors_exit_2(cfg) -> None:
    bad_config = run("--config", "/nonexistent/pipeline.yaml", "ingest", "--date", DAY)
    assert_one_line_error(bad_config, errors.EXIT_USAGE, "pipeline.yaml")
    bad_param = run("train", "--date", DAY, "--param", "nonsense=1")
    assert_one_line_error(bad_param, errors.EXIT_USAGE, "'nonsense' not a parameter of")
    assert run("train", "--date", "2026-13-45").returncode == errors.EXIT_USAGE  # argparse


def test_nothing_landed_exits_3_and_insufficient_data_exits_4(cfg) -> None:
    assert_one_line_error(run("ingest", "--date", DAY), errors.EXIT_NOTHING_TO_DO, "features.csv")
    assert_one_line_error(
        run("train", "--date", DAY), errors.EXIT_INSUFFICIENT_DATA, "labelled day"
    )


def test_a_labels_only_delivery_is_ingested_and_exits_3_until_the_features_land(cfg) -> None:
    from datetime import date, timedelta

    from driftloop.core.storage import LABELS
    from driftloop.data import synth

    store = open_store(cfg.storage)
    label_day = date.fromisoformat(DAY) - timedelta(days=cfg.dataset.label_delay_days)
    labels = synth.generate_day(cfg, label_day, synth.Scenario(), 0, 300).labels
    store.write_bytes(
        f"{landing_prefix(DAY)}/labels_{label_day.isoformat()}.csv",
        labels.to_csv(index=False).encode(),
    )
    proc = run("ingest", "--date", DAY)
    assert proc.returncode == errors.EXIT_NOTHING_TO_DO, proc.stderr
    assert json.loads(proc.stdout)["status"] == "labels_only"
    assert store.partition_exists(LABELS, label_day)
    assert len(store.read_table(LABELS, label_day)) == len(labels)


def test_quarantined_data_exits_1_with_the_json_result_alone_on_stdout(cfg) -> None:
    store = open_store(cfg.storage)
    store.write_bytes(f"{landing_prefix(DAY)}/features.csv", b"not,a\ncsv of \x00 the schema\n")
    proc = run("ingest", "--date", DAY)
    assert proc.returncode == errors.EXIT_QUARANTINED, proc.stderr
    result = json.loads(proc.stdout)  # the whole of stdout is one JSON document
    assert result["status"] == "quarantined"
    assert "Traceback" not in proc.stderr


def test_registry_refusal_exits_6(cfg) -> None:
    proc = run("rollback", "--reason", "test")
    assert_one_line_error(proc, errors.EXIT_REFUSED, "nothing to roll back to")


def test_mlflow_down_exits_5_quickly_with_one_line(cfg) -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = run(
        "promote",
        "--version",
        "1",
        "--reason",
        "test",
        env={
            "DRIFTLOOP__MLFLOW__TRACKING_URI": f"http://127.0.0.1:{port}",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
        },
    )
    assert_one_line_error(proc, errors.EXIT_UNAVAILABLE, "unavailable:")


def test_an_unexpected_error_exits_70_and_the_traceback_needs_verbose(cfg, tmp_path) -> None:
    broken = tmp_path / "profile.json"
    broken.write_text("{not json")
    args = ("drift", "--date", DAY, "--profile", str(broken))
    quiet = run(*args)
    assert_one_line_error(quiet, errors.EXIT_INTERNAL, "run with --verbose for the traceback")
    verbose = run(*args, "--verbose")
    assert verbose.returncode == errors.EXIT_INTERNAL
    assert "Traceback" in verbose.stderr and "JSONDecodeError" in verbose.stderr


def test_library_chatter_goes_to_stderr_and_stdout_is_the_json_alone(
    cfg, capsys: pytest.CaptureFixture[str]
) -> None:
    """What MLflow does against a tracking server (sys.stdout.write of run links) lands on stderr."""

    @cli.command("chatter-test", "prints like a library, then emits")(lambda p: None)
    def _chatter(args, cfg) -> int:
        print("progress: 50%")
        sys.stdout.write("🏃 View run train-2026-01-05 at: http://mlflow/#/experiments/1/runs/x\n")
        cli.emit({"ok": True})
        return 0

    try:
        assert cli.run(["chatter-test"]) == 0
    finally:
        cli._COMMANDS.pop("chatter-test")
    out, err = capsys.readouterr()
    assert json.loads(out) == {"ok": True}
    assert "View run" in err and "progress: 50%" in err


def test_every_library_error_maps_to_a_documented_code() -> None:
    from driftloop.core import config, locking, storage
    from driftloop.data import ingest, windows
    from driftloop.model import model_io, registry, scoring
    from driftloop.model import train as train_mod

    expected = {
        config.ConfigError: errors.EXIT_USAGE,
        train_mod.InvalidParameter: errors.EXIT_USAGE,
        ingest.DataQuarantined: errors.EXIT_QUARANTINED,
        ingest.LandingMissing: errors.EXIT_NOTHING_TO_DO,
        scoring.NoChampion: errors.EXIT_NOTHING_TO_DO,
        storage.PartitionMissing: errors.EXIT_NOTHING_TO_DO,
        windows.InsufficientData: errors.EXIT_INSUFFICIENT_DATA,
        locking.LockTimeout: errors.EXIT_UNAVAILABLE,
        registry.RegistryError: errors.EXIT_REFUSED,
        registry.StaleDecision: errors.EXIT_REFUSED,
        model_io.UntrustedModel: errors.EXIT_REFUSED,
    }
    for cls, code in expected.items():
        assert issubclass(cls, errors.DriftloopError)
        assert errors.exit_code_for(cls("x")) == code, cls
    assert errors.exit_code_for(OSError(28, "No space left on device")) == errors.EXIT_UNAVAILABLE
    wrapped = registry.RegistryError("no version 1")
    wrapped.__cause__ = ConnectionRefusedError()
    assert errors.exit_code_for(wrapped) == errors.EXIT_UNAVAILABLE  # an outage, not a refusal
    assert errors.exit_code_for(KeyError("x")) == errors.EXIT_INTERNAL
    # Each code of the table has its runbook, in the table's order (the reference table itself is
    # generated from EXIT_CODES: tests/unit/test_docs.py).
    runbooks = (Path(__file__).resolve().parents[2] / "docs/operations/runbooks.md").read_text()
    headed = re.findall(r"^## Exit (\d+): .+ \{#exit-(\d+)\}$", runbooks, re.MULTILINE)
    assert [int(a) for a, b in headed if a == b] == [c for c in errors.EXIT_CODES if c]


def test_score_needs_a_day_or_the_backlog_and_a_backlog_waits_for_a_champion(cfg) -> None:
    from tests.support.data import write_days

    assert_one_line_error(run("score"), errors.EXIT_USAGE, "give --date DAY or --backlog")
    shadow_alone = run("score", "--backlog", "--shadow-version", "2")
    assert_one_line_error(shadow_alone, errors.EXIT_USAGE, "--shadow-version scores one day")
    empty = run("score", "--backlog")
    assert empty.returncode == 0 and json.loads(empty.stdout) == {"backlog": []}
    write_days(open_store(cfg.storage), cfg, 2, rows=50)
    waiting = run("score", "--backlog")
    assert_one_line_error(waiting, errors.EXIT_NOTHING_TO_DO, "no champion yet")
    assert json.loads(waiting.stdout)["scored"] is False


def test_the_task_wrapper_retries_exactly_the_retried_codes() -> None:
    """Exactly the codes of ``RETRIED`` (the exit-code reference's "retried by Airflow?" column)
    are retried by the task wrapper; every other driftloop error fails a task at once, and an
    error raised from an outage is an outage."""
    from airflow.sdk.exceptions import AirflowFailException

    from driftloop.airflow.body import task_body
    from driftloop.core.config import ConfigError
    from driftloop.data.ingest import DataQuarantined

    assert {errors.EXIT_UNAVAILABLE} == errors.RETRIED

    def failing(err: BaseException):
        @task_body
        def body() -> None:
            raise err

        return body

    for err in (ConfigError("bad\nsecond line"), DataQuarantined("q"), errors.DriftloopError("r")):
        with pytest.raises(AirflowFailException) as failed:
            failing(err)()
        assert str(failed.value) == errors.one_line(err) and failed.value.__cause__ is None
    outage = errors.DriftloopError("no such version")
    outage.__cause__ = ConnectionRefusedError()
    for err in (errors.Unavailable("down"), outage, KeyError("bug")):
        with pytest.raises(type(err)):
            failing(err)()


def test_stop_status_and_pipelines_run_with_a_broken_config(tmp_path) -> None:
    """The commands that need no config never load DRIFTLOOP_CONFIG: ``pipelines`` lists the broken
    config among its errors, ``stop`` and ``status`` look at the local stack."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\ndataset: {}\n")
    env = {"DRIFTLOOP_CONFIG": str(broken), "DRIFTLOOP_HOME": str(tmp_path / "home")}
    listed = run("pipelines", env=env)
    assert listed.returncode == errors.EXIT_USAGE, listed.stderr
    assert list(json.loads(listed.stdout)["errors"]) == [str(broken)]
    stopped = run("stop", env=env)
    assert stopped.returncode == 0 and "Nothing is running" in stopped.stdout, stopped.stderr
    status = run("status", env=env)
    assert status.returncode == 1 and "Nothing is running" in status.stdout, status.stderr
    assert run("ingest", "--date", DAY, env=env).returncode == errors.EXIT_USAGE
