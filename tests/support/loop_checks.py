"""The loop run by a real scheduler, as the tiers that start one see it: deploy, feed, wait, check.

Shared by the live tier (``airflow standalone`` on SQLite) and the Celery service tier (the compose
stack run natively). ``server`` is either harness: anything with ``api(method, path, **kw)``
(Airflow's REST API v2) and ``wait_for(probe, timeout, what, every)``; ``LoopRun.deployed`` also
starts, unpauses and stops it.

A fresh deployment receives simulated days one after another, time compressed (the next day lands
as soon as the previous one is validated); nobody triggers anything. The checks then read the
REST API, the storage and the MLflow registry.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import pytest

from driftloop.core.pipelines import STAGES, dag_id

# The churn pipeline's DAGs (``churn__ingest``...), the one the loop tests deploy.
LOOP_DAGS = tuple(dag_id("churn", stage) for stage in STAGES)
# Small models and short waits: the loop's shape is what is under test, not the model's quality.
FAST = {
    "DRIFTLOOP__DATASET__LABEL_DELAY_DAYS": "1",
    "DRIFTLOOP__TRAINING__HOLDOUT_DAYS": "2",
    "DRIFTLOOP__TRAINING__HYPERPARAMETERS": "{max_iter: 40, max_depth: 4}",
    "DRIFTLOOP__RETRAIN__BOOTSTRAP_LABELLED_DAYS": "4",
    "DRIFTLOOP__RETRAIN__MIN_LABELLED_DAYS_AFTER_DRIFT": "4",
    "DRIFTLOOP__RETRAIN__COOLDOWN_DAYS": "3",
    "DRIFTLOOP__DRIFT__MIN_SAMPLES": "1000",
    "DRIFTLOOP__DRIFT__MIN_LABELLED_SAMPLES": "1000",
    "DRIFTLOOP_POKE_SECONDS": "2",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",  # the task logs are part of what is checked
}


DAYS = 16
SHIFT_DAY = 8  # index of the first day with shifted features
ROWS = 1500


class Server(Protocol):
    def api(self, method: str, path: str, **kwargs: Any) -> Any: ...

    def wait_for(
        self, probe: Callable[[], Any], timeout: float, what: str, every: float = 1.0
    ) -> Any: ...


class Deployment(Server, Protocol):
    """A harness the loop can be deployed on: ``AirflowServer`` or ``CeleryStack``."""

    # The variables of its task processes (complete once started).
    env: dict[str, str]

    def start(self) -> Any: ...

    def stop(self) -> None: ...

    def unpause(self, dag_id: str) -> None: ...

    def dump_logs(self) -> str: ...


class LoopRun:
    """One run of the loop on a fresh deployment: ``DAYS`` days ending today, shifted from the
    ``SHIFT_DAY``-th on. ``env`` goes to the harness; ``deployed()`` starts it, ``feed_and_settle()``
    delivers the days; the timings of each step are printed at the end, pass or fail."""

    def __init__(self, name: str) -> None:
        self.name = name
        # The last day is today: Airflow 3 runs a daily schedule's run for D at D 00:00, so the
        # catchup runs are exactly these days (and each waits for its day to land).
        start = datetime.now(UTC).date() - timedelta(days=DAYS - 1)
        self.days = [start + timedelta(days=i) for i in range(DAYS)]
        self.shift = self.days[SHIFT_DAY]
        self.env = {"DRIFTLOOP__SCHEDULE__START_DATE": start.isoformat(), **FAST}
        self.timings: dict[str, float] = {}
        self._t0 = time.monotonic()
        self.server: Deployment | None = None
        self.cfg: Any = None
        self.store: Any = None

    def _mark(self, step: str) -> None:
        self.timings[step] = time.monotonic() - self._t0

    @contextlib.contextmanager
    def deployed(self, server: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopRun]:
        """Start ``server`` and unpause the loop's DAGs; on leaving, stop it (its logs printed
        first if the block failed). ``cfg`` and ``store`` are the tasks' own: the test process
        reads the store and the registry with the variables a task has."""
        from driftloop.core.config import load_config
        from driftloop.core.storage import open_store

        try:
            try:
                server.start()
                self._mark("ready")
                drift_env = {k: v for k, v in server.env.items() if k.startswith("DRIFTLOOP")}
                self.cfg = load_config(environ=drift_env)
                for k, v in server.env.items():
                    if k.startswith(("AWS_", "MLFLOW_")):  # S3 credentials and endpoints
                        monkeypatch.setenv(k, v)
                self.store = open_store(self.cfg.storage)
                for dag in LOOP_DAGS:
                    server.unpause(dag)
                self.server = server
                yield self
                self._mark("checked")
            except BaseException:
                print(server.dump_logs())
                raise
            finally:
                server.stop()
        finally:
            self._mark("total")
            print(f"{self.name} timings (s):", {k: round(v, 1) for k, v in self.timings.items()})

    def feed_and_settle(self) -> None:
        """Deliver the days (``feed``) and wait until the last is checked and nothing runs."""
        assert self.server is not None, "feed_and_settle() goes inside deployed()"
        feed(self.server, self.store, self.cfg, self.days, self.shift, ROWS)
        self._mark("landed")
        wait_settled(self.server, self.store, self.days[-1])
        self._mark("settled")


def runs(server: Server, dag_id: str, last: date) -> list[dict[str, Any]]:
    """Runs of ``dag_id`` up to ``last`` (a run past midnight UTC would wait for tomorrow's data)."""
    found = server.api("GET", f"dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]
    return [r for r in found if (r["logical_date"] or r["run_after"])[:10] <= last.isoformat()]


def feed(server: Server, store: Any, cfg: Any, days: list[date], shift: date, rows: int) -> None:
    """Deliver ``days`` to landing (a covariate shift from ``shift``), each once the last is validated."""
    from driftloop.core.storage import VALIDATED
    from driftloop.data import synth

    scenario = synth.Scenario("covariate_shift", shift)
    for day in days:
        synth.write_day(store, cfg, day, scenario, seed=3, rows=rows, first_day=days[0])
        # A wait on the scheduler and its workers, not a budget: 180 s ran out on a machine under
        # other load (an ingest queued for 5 min behind the lane beside it); the loop's timings
        # are printed and the test's own timeout still bounds the whole.
        server.wait_for(
            lambda d=day: store.partition_exists(VALIDATED, d), 300, f"{day} to be ingested"
        )


def wait_settled(server: Server, store: Any, last: date) -> None:
    """Until ``last`` is checked and no run of the loop up to it is queued or running."""
    from driftloop.core.storage import DRIFT

    server.wait_for(
        lambda: store.partition_exists(DRIFT, last), 300, f"{last} to be checked", every=2
    )

    def settled() -> bool:
        busy = ("queued", "running")
        return not any(r["state"] in busy for d in LOOP_DAGS for r in runs(server, d, last))

    server.wait_for(settled, 300, "every run to finish", every=3)


def check_every_day_went_through(server: Server, store: Any, days: list[date]) -> None:
    """Every landed day ingested, scored (or recorded as unscorable) and checked, once."""
    from driftloop.core.storage import DRIFT, PREDICTIONS, SCORING

    last = days[-1]
    ingest_runs = runs(server, dag_id("churn", "ingest"), last)
    assert sorted(r["logical_date"][:10] for r in ingest_runs) == [d.isoformat() for d in days]
    assert {r["state"] for r in ingest_runs} == {"success"}
    checks = runs(server, dag_id("churn", "drift_check"), last)
    assert sorted(r["logical_date"][:10] for r in checks) == [d.isoformat() for d in days]
    assert {r["state"] for r in checks} == {"success"}, checks
    assert {r["run_type"] for r in ingest_runs + checks} == {"scheduled"}
    score_runs = runs(server, dag_id("churn", "score"), last)
    assert {r["run_type"] for r in score_runs} == {"asset_triggered"}
    assert {r["state"] for r in score_runs} == {"success"}
    for day in days:
        assert store.partition_exists(DRIFT, day), day
        assert store.partition_exists(PREDICTIONS, day) or store.partition_exists(SCORING, day), day


def check_bootstrap_alarm_retrain(
    server: Server, store: Any, days: list[date], shift: date
) -> tuple[dict[date, Any], date, date]:
    """The first model trained (bootstrap) before the shift, a drift alarm after it, one retrain;
    both trainings ran once and succeeded. Returns the drift reports and the two training days."""
    from driftloop.core.storage import DRIFT

    reports = {d: store.read_json(f"{DRIFT}/date={d.isoformat()}/report.json") for d in days}
    retrains = [d for d in days if reports[d]["decision"]["retrain"]]
    bootstrap_day, retrain_day = retrains  # exactly two decisions to train: no duplicates
    assert reports[bootstrap_day]["decision"]["bootstrap"] is True
    assert reports[retrain_day]["drift"]["status"] == "drift"
    alarms = [d for d in days if (reports[d].get("drift") or {}).get("status") == "drift"]
    assert alarms and alarms[0] >= shift, alarms
    assert all(d < shift for d in days if d <= bootstrap_day)

    trains = sorted(runs(server, dag_id("churn", "train"), days[-1]), key=lambda r: r["dag_run_id"])
    assert [r["dag_run_id"] for r in trains] == [
        f"retrain__{bootstrap_day.isoformat()}",
        f"retrain__{retrain_day.isoformat()}",
    ]
    assert {r["state"] for r in trains} == {"success"}
    assert trains[0]["conf"]["reason"].startswith(f"drift_check {bootstrap_day}: bootstrap")
    assert "feature drift" in trains[1]["conf"]["reason"]
    assert trains[1]["conf"]["since"] >= shift.isoformat()
    return reports, bootstrap_day, retrain_day


def check_second_model_is_champion(cfg: Any) -> Any:
    """Both trainings promoted: v2 is the champion, v1 its predecessor. Returns the champion."""
    from driftloop.model import registry

    champion = registry.champion(cfg)
    previous = registry.version_by_alias(cfg, registry.PREVIOUS_CHAMPION)
    assert champion is not None and previous is not None
    assert (str(previous.version), str(champion.version)) == ("1", "2")
    return champion
