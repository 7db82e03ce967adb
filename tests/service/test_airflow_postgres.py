"""Airflow's metadata database on the real PostgreSQL: migrate it, run the real ingest DAG into it.

Airflow reads its configuration when it is imported, and this test session has already configured
(and imported) Airflow on SQLite, so everything Airflow does here runs in subprocesses with their own
environment: the local-Airflow variables of ``driftloop.local.env`` with the metadata DB switched to
Postgres, exactly as the compose stack configures it. The outcome is read from Postgres with
psycopg2: the dag runs and their states, and the asset events with the partition in their extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from driftloop.local.env import airflow_env
from tests.support.services import pg_query

BIN = Path(sys.executable).parent
DAY = date(2026, 1, 1)
BAD_DAY = DAY + timedelta(days=1)  # a data-quality incident: 40% nulls in monthly_charges
MIGRATE_BUDGET_SECONDS = 60
# `airflow dags test ingest <day>` for each day given, through Airflow's own CLI parser, in one
# process (importing Airflow and starting its in-process execution API costs ~10 s per process).
# Its last line is JSON: {"codes": {day: exit code}, "seconds": {day: seconds}}.
DAGS_TEST = """
import json, sys, time
from airflow.cli import cli_parser
parser = cli_parser.get_parser()
codes, seconds = {}, {}
for day in sys.argv[1:]:
    t0 = time.perf_counter()
    args = parser.parse_args(["dags", "test", "churn__ingest", day])
    try:
        args.func(args)
        codes[day] = 0
    except SystemExit as exc:  # a failed DagRun: SystemExit("DagRun failed"), as the CLI exits
        codes[day] = 0 if exc.code in (None, 0) else 1
    seconds[day] = round(time.perf_counter() - t0, 1)
print(json.dumps({"codes": codes, "seconds": seconds}))
"""


def _run(args: list[str], env: dict[str, str], timeout: float = 180) -> float:
    """Run a console script of the venv; fail with its output if it fails. Returns seconds taken."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / args[0]), *args[1:]], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"{' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}"
        f"\n--- stderr\n{proc.stderr[-8000:]}"
    )
    return time.perf_counter() - t0


@pytest.fixture
def airflow_pg_env(postgres_db: str, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DRIFTLOOP"))}
    env = {
        **inherited,
        **airflow_env(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres_db,
        "DRIFTLOOP__STORAGE__ROOT": str(tmp_path / "data"),
        "DRIFTLOOP__VALIDATION__DATA_DOCS_DIR": str(tmp_path / "data_docs"),
        "DRIFTLOOP__MLFLOW__TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return env


def test_ingest_dag_runs_on_postgres_metadata(
    airflow_pg_env: dict[str, str], postgres_db: str, tmp_path: Path
) -> None:
    env = airflow_pg_env
    migrate_seconds = _run(["airflow", "db", "migrate"], env)
    assert migrate_seconds < MIGRATE_BUDGET_SECONDS
    tables = {r[0] for r in pg_query(postgres_db, "SELECT tablename FROM pg_tables")}
    assert {"dag_run", "task_instance", "asset", "asset_event", "alembic_version"} <= tables

    # Two landed days: a clean one and the first day of a data-quality incident.
    _run(
        [
            "driftloop", "synth", "--start", DAY.isoformat(), "--days", "2", "--rows", "800",
            "--scenario", "data_quality", "--drift-start", BAD_DAY.isoformat(), "--seed", "3",
        ],
        env,
    )  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", DAGS_TEST, DAY.isoformat(), BAD_DAY.isoformat()],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    dags_test_seconds = time.perf_counter() - t0
    output = f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-8000:]}"
    assert proc.returncode == 0, output
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    # The clean day succeeds; the quarantined day fails its run, with the reason in the task log.
    assert outcome["codes"] == {DAY.isoformat(): 0, BAD_DAY.isoformat(): 1}, output
    # The quarantined day's task fails at once with its one line (exit 1), not a traceback.
    assert "(exit 1, not retried)" in proc.stdout + proc.stderr, output

    data = tmp_path / "data"
    assert (data / f"validated/date={DAY}/part-0.parquet").is_file()
    assert (data / f"validated/date={DAY}/_SUCCESS").is_file()
    assert not (data / f"validated/date={BAD_DAY}").exists()
    reason = json.loads((data / f"quarantine/date={BAD_DAY}/reason.json").read_text())
    assert reason["stage"] == "validation" and "monthly_charges" in reason["summary"]
    assert (data / f"quarantine/date={BAD_DAY}/features.csv").read_bytes() == (
        data / f"landing/{BAD_DAY}/features.csv"
    ).read_bytes()

    # -- what Airflow recorded in Postgres ------------------------------------------------------
    runs = pg_query(
        postgres_db,
        "SELECT run_id, logical_date::date, state FROM dag_run WHERE dag_id = 'churn__ingest'",
    )
    by_day = {d: (run_id, state) for run_id, d, state in runs}
    assert set(by_day) == {DAY, BAD_DAY}, runs
    good_run_id, good_state = by_day[DAY]
    assert good_state == "success"
    assert by_day[BAD_DAY][1] == "failed", output

    tis = dict(
        pg_query(
            postgres_db,
            "SELECT task_id || '@' || run_id, state FROM task_instance WHERE dag_id = 'churn__ingest'",
        )
    )
    assert tis[f"wait_for_landing@{good_run_id}"] == "success"
    assert tis[f"ingest_and_validate@{good_run_id}"] == "success"
    assert tis[f"ingest_and_validate@{by_day[BAD_DAY][0]}"] == "failed"
    tries = pg_query(
        postgres_db,
        "SELECT try_number FROM task_instance WHERE task_id = 'ingest_and_validate' AND run_id = %s",
        (by_day[BAD_DAY][0],),
    )
    assert tries == [(1,)]  # quarantined data is not retried

    events = pg_query(
        postgres_db,
        "SELECT a.name, a.uri, e.extra, e.source_dag_id, e.source_task_id, e.source_run_id "
        "FROM asset_event e JOIN asset a ON a.id = e.asset_id ORDER BY e.id",
    )
    validated = [e for e in events if e[0] == "churn.validated"]
    assert len(validated) == 1, events  # the quarantined day emits no event
    _name, uri, extra, dag_id, task_id, run_id = validated[0]
    extra = extra if isinstance(extra, dict) else json.loads(extra)
    assert uri == "x-driftloop://churn/validated"
    assert extra["partition"] == DAY.isoformat()
    assert extra["uri"] == str(data / f"validated/date={DAY}")
    assert extra["rows"] > 0
    assert (dag_id, task_id, run_id) == ("churn__ingest", "ingest_and_validate", good_run_id)

    # The score DAG is registered in Postgres as a consumer of that asset.
    consumers = pg_query(
        postgres_db,
        "SELECT r.dag_id FROM dag_schedule_asset_reference r JOIN asset a ON a.id = r.asset_id "
        "WHERE a.name = 'churn.validated'",
    )
    assert ("churn__score",) in consumers
    print(
        f"airflow db migrate {migrate_seconds:.1f} s; dags test ingest (one process) "
        f"{dags_test_seconds:.1f} s, per run {outcome['seconds']}"
    )
