"""The closed-loop demo: simulated days driven through the real DAGs with ``dag.test()``.

Each simulated day, in order: the demo source delivers the day's batch (and late labels), then the
``ingest``, ``score`` and ``drift_check`` DAGs run for that day, and ``train`` runs whenever the
drift check's retrain policy decided so (its ``trigger_train`` hop is the only thing replaced: with
no scheduler to start the triggered run, the demo runs ``train`` itself with the conf the trigger
would have sent). The very first model is trained by the same route: with no champion, the drift
check's policy asks for a bootstrap training once enough labelled days exist.

All state (storage, MLflow store, Airflow DB) lives in ``<out>/state`` and is wiped at the start,
so every demo begins from nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from driftloop.config import PipelineConfig, load_config
from driftloop.localenv import apply_airflow_env

log = logging.getLogger(__name__)

DEFAULT_START = date(2026, 1, 1)


@dataclass
class DayRecord:
    """One row of the demo table (and one record of summary.json)."""

    day: str
    rows: int | None = None
    validation: str = "missing"
    drift_status: str | None = None
    drift_share: float | None = None
    drifted_features: list[str] = field(default_factory=list)
    live_auc: float | None = None
    champion_version: str | None = None
    action: str = "-"
    retrain_triggered: bool = False
    promoted: bool = False
    reason: str | None = None
    seconds: float = 0.0
    dag_seconds: dict[str, float] = field(default_factory=dict)


class DemoRunner:
    """Runs the DAGs of this repo in-process against an isolated state folder."""

    def __init__(self, state: Path, config_path: str | None = None, fresh: bool = True) -> None:
        if fresh and state.exists():
            shutil.rmtree(state)
        state.mkdir(parents=True, exist_ok=True)
        self.state = state
        # Everything below must precede the first airflow import of this process.
        apply_airflow_env(state)
        os.environ["DRIFTLOOP__STORAGE__ROOT"] = str(state / "data")
        os.environ["DRIFTLOOP__MLFLOW__TRACKING_URI"] = (
            f"sqlite:///{state / 'mlflow' / 'mlflow.db'}"
        )
        os.environ["DRIFTLOOP__VALIDATION__DATA_DOCS_DIR"] = str(state / "data_docs")
        (state / "mlflow").mkdir(exist_ok=True)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        warnings.filterwarnings(
            "ignore"
        )  # library deprecation chatter; task output goes to the log
        self.cfg: PipelineConfig = load_config(config_path)

        from airflow.dag_processing.dagbag import DagBag
        from airflow.utils import db

        with self._task_output_to_log():
            db.initdb()
            bag = DagBag()
        if bag.import_errors:
            raise RuntimeError(f"DAG import errors: {bag.import_errors}")
        self.dags = bag.dags
        self.timings: dict[str, float] = {}

    def run(
        self,
        dag_id: str,
        day: date,
        conf: dict[str, Any] | None = None,
        mark_success: str | None = None,
    ) -> str:
        """Run one DAG for ``day`` and return the run's final state (its wall time goes to ``timings``)."""
        t0 = time.perf_counter()
        logical = datetime(day.year, day.month, day.day, tzinfo=UTC)
        with self._task_output_to_log():
            dr = self.dags[dag_id].test(
                logical_date=logical, run_conf=conf or {}, mark_success_pattern=mark_success
            )
        self.timings[dag_id] = round(time.perf_counter() - t0, 2)
        return str(getattr(dr, "state", "unknown"))

    @contextlib.contextmanager
    def _task_output_to_log(self) -> Iterator[None]:
        """Send what the tasks print (at the file-descriptor level) to ``state/tasks.log``.

        Keeps the demo's table readable; the log keeps every task's output for inspection.
        """
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        with open(self.state / "tasks.log", "ab") as logf:
            os.dup2(logf.fileno(), 1)
            os.dup2(logf.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])


def run_demo(
    days: int = 60,
    scenario: str = "covariate_shift",
    seed: int = 7,
    out: Path = Path("demo-out"),
    *,
    start: date = DEFAULT_START,
    drift_start: date | None = None,
    rows: int = 2000,
    config_path: str | None = None,
    echo: Callable[[str], None] = print,
) -> list[DayRecord]:
    """Simulate ``days`` days of ``scenario`` through the DAGs; write the summary into ``out``."""
    from driftloop import monitoring, registry, synth
    from driftloop.demo_report import format_row, header, write_summary
    from driftloop.storage import DRIFT, VALIDATED, open_store

    out = out.resolve()
    runner = DemoRunner(out / "state", config_path)
    cfg = runner.cfg
    store = open_store(cfg.storage)
    if scenario != "none" and drift_start is None:
        drift_start = start + timedelta(days=days // 2)
    scen = synth.Scenario(scenario, drift_start if scenario != "none" else None)
    lag = cfg.dataset.label_delay_days

    records: list[DayRecord] = []
    t_all = time.perf_counter()
    echo(header())
    for i in range(days):
        t0 = time.perf_counter()
        day = start + timedelta(days=i)
        rec = DayRecord(day=day.isoformat())
        runner.timings = rec.dag_seconds
        synth.write_day(store, cfg, day, scen, seed, rows, first_day=start)

        runner.run("ingest", day)
        if store.partition_exists(VALIDATED, day):
            rec.validation = "validated"
            rec.rows = len(store.read_table(VALIDATED, day))
        else:
            rec.validation = "quarantined"

        champion = registry.champion(cfg)
        if rec.validation == "validated":
            runner.run("score", day, {"date": day.isoformat()})

        actions: list[str] = []
        runner.run("drift_check", day, mark_success="trigger_train")
        report = store.read_json(f"{DRIFT}/date={day.isoformat()}/report.json")
        decision = report.get("decision", {})
        found = report.get("drift") or {}
        rec.drift_status = found.get("status") or report.get("status")
        rec.drift_share = found.get("drift_share")
        rec.drifted_features = list(found.get("drifted") or [])
        rec.reason = decision.get("reason")
        if decision.get("retrain"):
            rec.retrain_triggered = True
            actions.append("bootstrap training" if decision.get("bootstrap") else "retrain")
            runner.run("train", day, report["trigger_conf"])
        elif rec.drift_status == "drift":
            actions.append("alarm")

        after = registry.champion(cfg)
        if rec.retrain_triggered:
            rec.promoted = after is not None and (
                champion is None or after.version != champion.version
            )
            actions.append("promoted" if rec.promoted else "rejected")
        rec.champion_version = after.version if after is not None else None

        # Live AUC of the day whose labels arrived today (scored by whichever model was champion).
        found = monitoring.daily_metrics(store, cfg, day - timedelta(days=lag))
        if found and found.get("roc_auc") is not None:
            rec.live_auc = round(found["roc_auc"], 4)
        rec.action = ", ".join(actions) or "-"
        rec.seconds = round(time.perf_counter() - t0, 2)
        records.append(rec)
        echo(format_row(asdict(rec)))

    meta = {
        "scenario": scenario,
        "seed": seed,
        "days": days,
        "start": start.isoformat(),
        "drift_start": drift_start.isoformat() if drift_start else None,
        "rows_per_day": rows,
        "retrains": sum(r.retrain_triggered for r in records),
        "promotions": sum(r.promoted for r in records),
        "wall_seconds": round(time.perf_counter() - t_all, 1),
    }
    paths = write_summary([asdict(r) for r in records], out, meta)
    echo(
        f"\n{meta['retrains']} training runs, {meta['promotions']} promotions, {meta['wall_seconds']} s"
    )
    echo(f"summary: {paths['json']}  plot: {paths['png']}  page: {paths['html']}")
    return records
