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
import functools
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

from driftloop.core.config import (
    CONFIG_ENV,
    ConfigError,
    PipelineConfig,
    default_config_path,
    load_config,
)
from driftloop.core.pipelines import CONFIGS_ENV, dag_id, split_dag_id
from driftloop.demo.summary import (
    days_saved,
    estimation_lines,
    format_row,
    header,
    load_baseline,
    write_summary,
)
from driftloop.local.env import apply_airflow_env

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
    # The pipeline's primary metric on the day whose labels just arrived, and its name.
    live_metric: float | None = None
    live_metric_name: str | None = None
    # The primary metric the drift check estimated for this day before its labels (and how); once
    # the labels landed (filled in at the end of the run): the realised metric of the same model
    # version and estimated - realised.
    estimated_metric: float | None = None
    estimation_method: str | None = None
    realised_metric: float | None = None
    estimation_error: float | None = None
    champion_version: str | None = None
    action: str = "-"
    retrain_triggered: bool = False
    promoted: bool = False
    # Validated days without predictions scored after this day's promotion (the backlog).
    backfilled: list[str] = field(default_factory=list)
    reason: str | None = None
    # The policy's signals that fired (feature_drift, estimated_drop, performance_decay...).
    fired: list[str] = field(default_factory=list)
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
        # The demo drives one pipeline: only its DAGs are generated (the storage override above
        # would otherwise be shared by every config of configs/).
        os.environ.pop(CONFIGS_ENV, None)
        os.environ[CONFIG_ENV] = str(Path(config_path or default_config_path()).resolve())

        from driftloop.airflow.driver import load_dags

        with self._task_output_to_log():
            self.dags = load_dags()
        self.timings: dict[str, float] = {}

    def run(
        self,
        stage: str,
        day: date,
        conf: dict[str, Any] | None = None,
        mark_success: str | None = None,
    ) -> str:
        """Run the pipeline's DAG of ``stage`` for ``day``; its final state (wall time: ``timings``)."""
        from driftloop.airflow.driver import run_dag

        t0 = time.perf_counter()
        with self._task_output_to_log():
            state = run_dag(self.dags[dag_id(self.cfg.name, stage)], day, conf, mark_success)
        took = time.perf_counter() - t0
        self.timings[stage] = round(self.timings.get(stage, 0) + took, 2)
        return state

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
    baseline: Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[DayRecord]:
    """Simulate ``days`` days of ``scenario`` through the DAGs; write the summary into ``out``.

    ``baseline``: the summary.json of the same simulation run with another config (e.g.
    ``retrain.estimated_drop_signal: false``); the summary then gives the days saved against it.
    """
    from driftloop.core.storage import open_store
    from driftloop.data import synth

    check_demo_config(load_config(config_path))  # before the state folder is wiped
    scen = _scenario(scenario, start, days, drift_start)
    meta = _simulation_meta(scen, seed, days, start, rows)
    base = None if baseline is None else load_baseline(baseline, meta)  # before a run is spent
    out = out.resolve()
    runner = DemoRunner(out / "state", config_path)
    cfg = runner.cfg
    store = open_store(cfg.storage)

    records: list[DayRecord] = []
    t_all = time.perf_counter()
    echo(header(live_metric_name(cfg)))
    for i in range(days):
        day = start + timedelta(days=i)
        rec = drive_day(
            runner,
            day,
            functools.partial(synth.write_day, store, cfg, day, scen, seed, rows, first_day=start),
        )
        records.append(rec)
        echo(format_row(asdict(rec)))

    meta["live_metric_name"] = live_metric_name(cfg)
    if baseline is not None:
        meta["baseline"] = str(baseline)
    write_outcome(records, out, meta, t_all, echo, store, cfg, base)
    return records


def drive_day(
    runner: DemoRunner,
    day: date,
    deliver: Callable[[], object],
    labelled: date | None = None,
) -> DayRecord:
    """One day of the loop in-process: ``deliver`` lands it, then ``ingest``, ``score`` (a validated
    day), ``drift_check`` and, when its policy says so, ``train`` with the conf it would trigger;
    after a promotion, ``score`` once more for the backlog (validated days without predictions).

    The row's live metric is that of partition ``labelled``, whose labels this delivery brings
    (default: the day ``dataset.label_delay_days`` back, as in a daily feed).
    """
    from driftloop.core.storage import PREDICTIONS, VALIDATED, open_store
    from driftloop.model import registry
    from driftloop.model.scoring import unscored_days

    cfg = runner.cfg
    store = open_store(cfg.storage)
    t0 = time.perf_counter()
    rec = DayRecord(day=day.isoformat())
    runner.timings = rec.dag_seconds
    deliver()

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
    report = _read_report(store, day, rec)
    decision = report["decision"]
    if decision.get("retrain"):
        rec.retrain_triggered = True
        actions.append("bootstrap training" if decision.get("bootstrap") else "retrain")
        runner.run("train", day, report["trigger_conf"])
    elif rec.drift_status == "drift":
        actions.append("alarm")

    after = registry.champion(cfg)
    if rec.retrain_triggered:
        rec.promoted = after is not None and (champion is None or after.version != champion.version)
        actions.append("promoted" if rec.promoted else "rejected")
    rec.champion_version = after.version if after is not None else None
    if rec.promoted:
        # What the model asset event starts under a scheduler: the days validated while no
        # champion existed are scored now, once each.
        backlog = [d.isoformat() for d in unscored_days(cfg, store)]
        if backlog:
            runner.run("score", day, {"backlog": True})
            rec.backfilled = [d for d in backlog if store.partition_exists(PREDICTIONS, d)]

    if labelled is None:
        labelled = day - timedelta(days=cfg.dataset.label_delay_days)
    rec.live_metric, rec.live_metric_name = (
        _live_metric(store, cfg, labelled),
        live_metric_name(cfg),
    )
    rec.action = ", ".join(actions) or "-"
    rec.seconds = round(time.perf_counter() - t0, 2)
    return rec


def check_demo_config(cfg: PipelineConfig) -> None:
    """The demo's source is synthetic churn: refuse a config that describes other columns.

    Raises:
        ConfigError: naming what differs and pointing at ``driftloop replay`` for a user's data.
    """
    from driftloop.data import synth

    missing = sorted(set(synth.FEATURES) - set(cfg.dataset.feature_names))
    if missing:
        raise ConfigError(
            f"driftloop demo generates the synthetic churn source, but {cfg.source} has no "
            f"feature(s) {', '.join(missing)}; to run the loop on your own data use "
            "`driftloop replay --config CFG --source FILE`"
        )


def _scenario(name: str, start: date, days: int, drift_start: date | None) -> Any:
    """The demo's scenario; drift begins mid-way unless told otherwise."""
    from driftloop.data import synth

    if name == "none":
        return synth.Scenario(name)
    return synth.Scenario(name, drift_start or start + timedelta(days=days // 2))


def _simulation_meta(scen: Any, seed: int, days: int, start: date, rows: int) -> dict[str, Any]:
    """What identifies a simulated run in its summary (a baseline must match it)."""
    return {
        "scenario": scen.name,
        "seed": seed,
        "days": days,
        "start": start.isoformat(),
        "drift_start": scen.drift_start.isoformat() if scen.drift_start else None,
        "rows_per_day": rows,
    }


def _read_report(store: Any, day: date, rec: DayRecord) -> dict[str, Any]:
    """Copy the day's drift report into ``rec``; returns the report (with a ``decision`` dict)."""
    from driftloop.core.storage import DRIFT

    report = store.read_json(f"{DRIFT}/date={day.isoformat()}/report.json")
    report.setdefault("decision", {})
    found = report.get("drift") or {}
    rec.drift_status = found.get("status") or report.get("status")
    rec.drift_share = found.get("drift_share")
    rec.drifted_features = list(found.get("drifted") or [])
    rec.reason = report["decision"].get("reason")
    rec.fired = [str(f) for f in report["decision"].get("fired") or ()]
    estimate = report.get("estimated_performance") or {}
    value = (estimate.get("day") or {}).get("value")
    rec.estimated_metric = None if value is None else round(float(value), 4)
    rec.estimation_method = estimate.get("method")
    return report


def live_metric_name(cfg: PipelineConfig) -> str:
    """The metric of the demo table's live column: the gate's primary metric (roc_auc by default
    for binary, macro_f1 for multiclass, rmse for regression), as monitoring measures decay."""
    return cfg.gate.primary_metric


def _live_metric(store: Any, cfg: PipelineConfig, labelled: date) -> float | None:
    """The live primary metric of partition ``labelled`` (scored by whichever model was champion),
    whose labels have just arrived; None before any labelled day was scored."""
    from driftloop.monitor import monitoring

    found = monitoring.daily_metrics(store, cfg, labelled)
    value = found.get(live_metric_name(cfg)) if found else None
    return None if value is None else round(value, 4)


def settle_estimates(
    records: list[DayRecord], store: Any, cfg: PipelineConfig
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fill each record's realised metric and estimation error from storage (the labels that have
    landed by now); returns the estimator's per-day rows and its summary facts for the meta."""
    from driftloop.monitor.estimates import estimation_error

    rows, mae = estimation_error(store, cfg)
    by_day = {r.date: r for r in rows}
    for rec in records:
        row = by_day.get(rec.day)
        if row is not None:
            rec.realised_metric = None if row.realised is None else round(row.realised, 4)
            rec.estimation_error = None if row.error is None else round(row.error, 4)
    facts: dict[str, Any] = {}
    if rows:
        facts = {
            "estimator_method": sorted({r.method for r in rows if r.method}),
            "estimator_mae": None if mae is None else round(mae, 4),
            "estimated_days": len(rows),
            "estimated_days_labelled": sum(r.error is not None for r in rows),
        }
    return [r.to_dict() for r in rows], facts


def retrain_after_onset(records: list[DayRecord], onset: str | None) -> dict[str, Any]:
    """When the first retrain on or after the drift onset fired, in days after the onset, the
    signals that fired and the decision's reason; empty without an onset or such a retrain."""
    if not onset:
        return {}
    first = next(
        (
            r
            for r in records
            if r.day >= onset and r.retrain_triggered and not r.action.startswith("bootstrap")
        ),
        None,
    )
    if first is None:
        return {"retrain_after_onset_days": None}
    waited = (date.fromisoformat(first.day) - date.fromisoformat(onset)).days
    return {
        "retrain_after_onset_days": waited,
        "retrain_signals": first.fired,
        "retrain_reason": first.reason,
    }


def _cell_days(days: int | None) -> str:
    return "- (no retrain after the onset in one of the runs)" if days is None else str(days)


def write_outcome(
    records: list[DayRecord],
    out: Path,
    meta: dict[str, Any],
    t_all: float,
    echo: Callable[[str], None],
    store: Any = None,
    cfg: PipelineConfig | None = None,
    baseline: dict[str, Any] | None = None,
) -> None:
    """Write the summary files; with ``store`` and ``cfg``, the estimator's error first; with
    ``baseline`` (the meta of a comparable run), the days saved against it."""
    estimation: list[dict[str, Any]] = []
    facts: dict[str, Any] = {}
    if store is not None and cfg is not None:
        estimation, facts = settle_estimates(records, store, cfg)
    meta = {
        **meta,
        "retrains": sum(r.retrain_triggered for r in records),
        "promotions": sum(r.promoted for r in records),
        **facts,
        **retrain_after_onset(records, meta.get("drift_start")),
    }
    if baseline is not None:
        meta.update(days_saved(meta, baseline))
    meta["wall_seconds"] = round(time.perf_counter() - t_all, 1)
    paths = write_summary([asdict(r) for r in records], out, meta)
    lines = estimation_lines(estimation, facts.get("estimator_mae"), meta.get("live_metric_name"))
    if lines:
        echo("\nEstimated vs realised, per day (realised once the labels landed):")
        for line in lines:
            echo(line)
    if meta.get("retrain_after_onset_days") is not None:
        echo(
            f"first retrain {meta['retrain_after_onset_days']} day(s) after the drift onset "
            f"({meta['drift_start']}), fired by {', '.join(meta['retrain_signals']) or '-'}: "
            f"{meta['retrain_reason']}"
        )
    if baseline is not None:
        echo(
            f"days saved against the baseline ({meta['baseline']}): {_cell_days(meta['days_saved'])}"
            f" (its first retrain: {_cell_days(meta['baseline_retrain_after_onset_days'])} day(s) "
            "after the onset)"
        )
    echo(
        f"\n{meta['retrains']} training runs, {meta['promotions']} promotions, {meta['wall_seconds']} s"
    )
    echo(f"summary: {paths['json']}  plot: {paths['png']}  page: {paths['html']}")


# -- the live mode: the same history through a real local Airflow ------------------------------------
LIVE_STACK_ENV = {
    # A faster scheduler loop and DAG refresh than the defaults: days are seconds apart here.
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    # How often the deferred sensors (landing, scored) look at the store.
    "DRIFTLOOP_POKE_SECONDS": "5",
}
ACTIVE_STATES = ("queued", "running")
UNCHECKED = "the drift check of the day"


def _pick_port(preferred: int) -> int:
    from driftloop.local import stack as localstack

    return preferred if localstack.port_free(preferred) else localstack.free_port()


def _stage(run: dict[str, Any]) -> str:
    """The stage of a run's DAG (``ingest``, ``train``...), from its id ``<pipeline>__<stage>``."""
    try:
        return split_dag_id(run["dag_id"])[1]
    except ValueError:
        return str(run["dag_id"])


class LiveDemo:
    """Lands simulated days into a real local stack and reads back what its scheduler did.

    It never triggers a DAG: it writes the landing zone (as a data producer would), waits until the
    scheduler has ingested, scored and checked the day (or quarantined it) and nothing else is in
    flight, then reads storage, the MLflow registry (through the MLflow server) and the Airflow REST
    API (which runs happened, their state and duration).
    """

    def __init__(self, state: Path, stack: Any, cfg: PipelineConfig) -> None:
        from driftloop.core.storage import open_store
        from driftloop.local import stack as localstack

        self.state = state
        self.stack = stack
        self.cfg = cfg
        self.store = open_store(cfg.storage)
        self.client = localstack.AirflowClient(
            stack.airflow_url, lambda: localstack.admin_password(state)
        )
        self.seen_runs: set[tuple[str, str]] = set()

    # -- Airflow ---------------------------------------------------------------------------------
    def runs(self, stage: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """Runs of the pipeline's DAG of ``stage``, or of every DAG (``None``)."""
        dag = dag_id(self.cfg.name, stage) if stage else "~"
        body = self.client.api("GET", f"dags/{dag}/dagRuns", params={"limit": 100, **params})
        return list(body["dag_runs"])

    def daily_run(self, day: date, stage: str = "ingest") -> dict[str, Any] | None:
        """The scheduled run of a daily DAG (``ingest``, ``drift_check``) for ``day``."""
        at = datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()
        found = self.runs(stage, logical_date_gte=at, logical_date_lte=at)
        return found[0] if found else None

    def busy(self, day: date) -> str | None:
        """What the scheduler is still doing for ``day`` or earlier, or None.

        Ingest runs and the drift checks of later days wait for deliveries that have not landed
        yet: they are not work in flight.
        """
        active = [
            r
            for r in self.runs(state=list(ACTIVE_STATES))
            if _stage(r) != "ingest"
            and not (
                _stage(r) == "drift_check" and (r["logical_date"] or "")[:10] > day.isoformat()
            )
        ]
        if active:
            return ", ".join(f"{r['dag_id']} ({r['state']})" for r in active)
        # Asset events that will start a run at the scheduler's next loop (older ones wait for
        # another asset of an AND-condition and are not this day's business).
        fresh = datetime.now(UTC) - timedelta(seconds=15)
        for dag in self.client.api("GET", "dags", params={"limit": 100})["dags"]:
            queued = self.client.api("GET", f"dags/{dag['dag_id']}/assets/queuedEvents")
            for ev in queued["queued_events"]:
                if datetime.fromisoformat(ev["created_at"]) > fresh:
                    return f"{dag['dag_id']} (asset event queued)"
        return None

    # -- one day -----------------------------------------------------------------------------------
    def pending(self, day: date) -> str | None:
        """Why ``day`` is not settled yet, or None once it has been checked (or quarantined)."""
        from driftloop.core.storage import DRIFT, QUARANTINE, VALIDATED

        if not (
            self.store.partition_exists(VALIDATED, day)
            or self.store.partition_exists(QUARANTINE, day)
        ):
            return "ingest"
        run = self.daily_run(day)
        if run is None or run["state"] in ACTIVE_STATES:
            return "ingest run to finish"
        busy = self.busy(day)
        if busy:
            return busy
        if not self.store.exists(f"{DRIFT}/date={day.isoformat()}/report.json"):
            return UNCHECKED  # every landed day is checked, quarantined ones included
        return None

    def settle(self, day: date, timeout: float, idle_grace: float = 60.0) -> None:
        """Wait until ``day`` is settled twice in a row a few seconds apart (the scheduler may be
        between an event and the run it starts).

        A landed day whose drift report does not come while the scheduler has nothing else to do
        for ``idle_grace`` seconds is taken as settled (its row says "not checked"): nothing would
        ever check it, and waiting on would only stop the history.
        """
        from driftloop.local import stack as localstack

        def stack_alive() -> None:
            if not self.stack.supervisor.alive():
                raise localstack.StackError(
                    f"the local stack stopped while waiting for {day}; see {self.state / 'logs'}"
                )

        last: list[str | None] = ["start"]
        idle_since: list[float | None] = [None]

        def settled() -> bool:
            now = self.pending(day)
            if now == UNCHECKED:
                since = idle_since[0] = idle_since[0] or time.monotonic()
                if time.monotonic() - since > idle_grace:
                    now = None
            else:
                idle_since[0] = None
            quiet = now is None and last[0] is None
            last[0] = now
            return quiet

        try:
            localstack.wait_until(settled, timeout, f"day {day}", 3.0, stack_alive)
        except TimeoutError as err:
            raise localstack.StackError(f"{err}; still waiting for: {last[0]}") from None

    def new_runs(self, since: datetime) -> list[dict[str, Any]]:
        """Runs created since ``since`` (and not reported before), oldest first."""
        found = [
            r
            for r in self.runs(run_after_gte=since.isoformat(), order_by="run_after")
            if (r["dag_id"], r["dag_run_id"]) not in self.seen_runs and _stage(r) != "ingest"
        ]
        self.seen_runs.update((r["dag_id"], r["dag_run_id"]) for r in found)
        return found

    def model_versions(self) -> set[str]:
        from driftloop.model import registry

        found = registry.mlflow_client(self.cfg).search_model_versions(
            f"name='{self.cfg.model_name}'"
        )
        return {str(v.version) for v in found}

    def record(
        self, day: date, landed: datetime, champion_before: Any, versions_before: set[str]
    ) -> DayRecord:
        from driftloop.core.storage import DRIFT, VALIDATED
        from driftloop.model import registry

        rec = DayRecord(day=day.isoformat())
        if self.store.partition_exists(VALIDATED, day):
            rec.validation = "validated"
            rec.rows = len(self.store.read_table(VALIDATED, day))
        else:
            rec.validation = "quarantined"
        decision: dict[str, Any] = {}
        actions = []
        if self.store.exists(f"{DRIFT}/date={day.isoformat()}/report.json"):
            decision = _read_report(self.store, day, rec)["decision"]
        else:
            actions.append("not checked")
        daily = [self.daily_run(day), self.daily_run(day, "drift_check")]
        runs = [r for r in daily if r] + self.new_runs(landed)
        for r in runs:
            if r.get("start_date") and r.get("end_date"):
                began = max(datetime.fromisoformat(r["start_date"]), landed)
                took = (datetime.fromisoformat(r["end_date"]) - began).total_seconds()
                stage = _stage(r)
                rec.dag_seconds[stage] = round(rec.dag_seconds.get(stage, 0) + took, 1)
        after = registry.champion(self.cfg)
        rec.champion_version = after.version if after is not None else None
        # A training is a new registered version, or a train run that failed before registering
        # one (a train run whose tasks all skipped trained nothing).
        new_versions = self.model_versions() - versions_before
        failed = [r for r in runs if _stage(r) == "train" and r["state"] != "success"]
        if new_versions or failed:
            rec.retrain_triggered = True
            actions.append("bootstrap training" if champion_before is None else "retrain")
            actions += [f"train {r['state']}" for r in failed]
        if new_versions:
            rec.promoted = after is not None and (
                champion_before is None or after.version != champion_before.version
            )
            actions.append("promoted" if rec.promoted else "rejected")
        elif rec.drift_status == "drift" and not decision.get("retrain"):
            actions.append("alarm")
        labelled = day - timedelta(days=self.cfg.dataset.label_delay_days)
        rec.live_metric = _live_metric(self.store, self.cfg, labelled)
        rec.live_metric_name = live_metric_name(self.cfg)
        rec.action = ", ".join(actions) or "-"
        return rec


def run_live_demo(
    days: int = 25,
    scenario: str = "covariate_shift",
    seed: int = 7,
    out: Path = Path("demo-out/live"),
    *,
    start: date = DEFAULT_START,
    drift_start: date | None = None,
    rows: int = 1000,
    config_path: str | None = None,
    port: int | None = None,
    mlflow_port: int | None = None,
    keep_running: bool = False,
    day_timeout: float = 900.0,
    echo: Callable[[str], None] = print,
) -> list[DayRecord]:
    """Simulate ``days`` days of ``scenario`` through a real local Airflow and MLflow.

    The stack runs from ``<out>/state`` (wiped first; refused while a stack runs from there) with
    the DAGs starting on ``start``. Each day is delivered to the landing zone once the previous one
    is settled; the scheduler does the rest. Writes the same summary as ``run_demo`` into ``out``.
    """
    from driftloop.data import synth
    from driftloop.local import stack as localstack
    from driftloop.model import registry

    out = out.resolve()
    state = out / "state"
    running = localstack.status(state)
    if running is not None:
        raise localstack.AlreadyRunning(running)
    if state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True)
    isolated = {
        "DRIFTLOOP__STORAGE__ROOT": str(state / "data"),
        "DRIFTLOOP__VALIDATION__DATA_DOCS_DIR": str(state / "data_docs"),
        "DRIFTLOOP__MLFLOW__TRACKING_URI": f"sqlite:///{state / 'mlflow' / 'mlflow.db'}",
    }
    # One pipeline in the stack (the overrides above would be shared by every config of configs/).
    isolated["DRIFTLOOP_CONFIG"] = str(Path(config_path or default_config_path()).resolve())
    scen = _scenario(scenario, start, days, drift_start)
    t_all = time.perf_counter()
    echo(f"Starting Airflow and MLflow from {state} (under a minute) ...")
    stack, _sup = localstack.start(
        state,
        port=port or _pick_port(8080),
        mlflow_port=mlflow_port or _pick_port(5000),
        extra_env={
            **isolated,
            **LIVE_STACK_ENV,
            "DRIFTLOOP__SCHEDULE__START_DATE": start.isoformat(),
        },
        inherit_env=False,
    )
    stop_hint = f"DRIFTLOOP_HOME={state} driftloop stop"
    echo(localstack.banner(stack, stop_hint=stop_hint))
    # This process reads the registry through the MLflow server, like the UI does.
    if stack.mlflow_url is None:
        raise localstack.StackError("the local stack started without an MLflow server")
    cfg = load_config(
        config_path, environ={**isolated, "DRIFTLOOP__MLFLOW__TRACKING_URI": stack.mlflow_url}
    )
    live = LiveDemo(state, stack, cfg)
    records: list[DayRecord] = []
    try:
        echo(f"\n{header(live_metric_name(cfg))}")
        for i in range(days):
            day = start + timedelta(days=i)
            champion_before = registry.champion(cfg)
            versions_before = live.model_versions()
            landed = datetime.now(UTC)
            t0 = time.perf_counter()
            synth.write_day(live.store, cfg, day, scen, seed, rows, first_day=start)
            live.settle(day, day_timeout)
            rec = live.record(day, landed - timedelta(seconds=1), champion_before, versions_before)
            rec.seconds = round(time.perf_counter() - t0, 1)
            records.append(rec)
            echo(format_row(asdict(rec)))
        meta = {
            "mode": "live",
            **_simulation_meta(scen, seed, days, start, rows),
            "live_metric_name": live_metric_name(cfg),
            "airflow_url": stack.airflow_url,
            "mlflow_url": stack.mlflow_url,
        }
        write_outcome(records, out, meta, t_all, echo, live.store, cfg)
    finally:
        if keep_running:
            echo(f"\nThe stack keeps running: {stack.airflow_url}  (stop: {stop_hint})")
        else:
            echo("\nStopping the local stack ...")
            localstack.stop(state)
    return records
