"""docker-compose.yaml up for real, with two scaled workers: the loop closes by itself in
containers, through the faults a deployment meets.

One stack for the module (tests run in order): every service healthy; then simulated days
delivered to the S3 service's landing zone go through ingest, score, check, the bootstrap training,
a drift alarm, a retrain and a promotion with nothing triggered by hand. On the way the scheduler
and the api-server are restarted mid-day, and the worker running the retrain's training is killed
(``docker kill``): the task is retried on the other worker, and there is still one model version
per training. Then ``down`` and ``up`` keep every object, model version, alias and decision.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from functools import partial
from typing import Any

import pytest

from tests.compose.conftest import MEASUREMENTS
from tests.compose.stack import ComposeStack
from tests.support.loop_checks import (
    LOOP_DAGS,
    ROWS,
    LoopRun,
    check_bootstrap_alarm_retrain,
    check_every_day_went_through,
    check_second_model_is_champion,
    wait_settled,
)

pytestmark = [pytest.mark.compose, pytest.mark.timeout(5400)]

RESTART_DAY = 2  # index of the day during whose ingest the scheduler and api-server restart
TRAIN_DAG = "churn__train"
BUCKET = "driftloop"


def test_every_service_is_healthy_and_airflow_runs_as_uid_50000(stack: ComposeStack) -> None:
    states = stack.service_states()
    for service in ("preflight", "minio-init", "airflow-init"):
        assert states[service] == ["exited(0)"], states
    assert states["airflow-worker"] == ["healthy", "healthy"], states
    for c in stack.containers():
        service = c["Config"]["Labels"]["com.docker.compose.service"]
        if service.startswith("airflow-") or service == "mlflow":
            uid = stack.engine.docker("exec", c["Id"], "id", "-u").stdout.strip()
            assert uid == "50000", (service, uid)
    health = stack.api("GET", "monitor/health")
    assert {k: v["status"] for k, v in health.items() if isinstance(v, dict)} == {
        k: "healthy" for k, v in health.items() if isinstance(v, dict)
    }


class WorkerKiller(threading.Thread):
    """Kills the worker container that runs the retrain's ``train_model`` while it runs."""

    def __init__(self, stack: ComposeStack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.killed: dict[str, str] = {}
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set() and not self.killed:
                self._look()
                time.sleep(0.5)
        except BaseException as err:  # reported by the test
            self.error = err

    def _look(self) -> None:
        try:
            tis = self.stack.task_instances(TRAIN_DAG)
        except Exception:
            return
        runs = sorted({ti["dag_run_id"] for ti in tis})
        if len(runs) < 2:
            return  # the bootstrap training runs undisturbed
        for ti in tis:
            if (
                ti["task_id"] == "train_model"
                and ti["dag_run_id"] == runs[1]
                and ti["state"] == "running"
                and ti.get("hostname")
            ):
                host = ti["hostname"]
                cid = next(
                    c for h, c in self.stack.worker_hostnames().items() if host.startswith(h)
                )
                # Not restarted by the `restart: always` policy: the retry must go elsewhere.
                self.stack.engine.docker("update", "--restart", "no", cid)
                self.stack.engine.docker("kill", cid)
                self.killed = {"run_id": ti["dag_run_id"], "hostname": host, "container": cid}
                return


def feed_with_restarts(stack: ComposeStack, loop: LoopRun) -> dict[str, Any]:
    """``tests.support.loop_checks.feed``, with the scheduler and api-server restarted while a day is
    being ingested. Returns what the restart did."""
    from driftloop.core.storage import VALIDATED
    from driftloop.data import synth

    scenario = synth.Scenario("covariate_shift", loop.shift)
    restarted: dict[str, Any] = {}
    for i, day in enumerate(loop.days):
        synth.write_day(
            loop.store, loop.cfg, day, scenario, seed=3, rows=ROWS, first_day=loop.days[0]
        )
        if i == RESTART_DAY:
            before = {s: _started_at(stack, s) for s in ("airflow-scheduler", "airflow-apiserver")}
            stack.compose("restart", "airflow-scheduler", "airflow-apiserver")
            after = {s: _started_at(stack, s) for s in before}
            restarted = {"day": day.isoformat(), "before": before, "after": after}
        stack.wait_for(partial(loop.store.partition_exists, VALIDATED, day), 300, f"{day} ingested")
    return restarted


def _started_at(stack: ComposeStack, service: str) -> str:
    return str(stack.containers(service)[0]["State"]["StartedAt"])


def test_the_loop_closes_in_containers_through_a_killed_worker_and_restarts(
    stack: ComposeStack, loop: LoopRun
) -> None:
    workers_at_start = set(stack.worker_hostnames())
    killer = WorkerKiller(stack)
    killer.start()
    t0 = time.monotonic()
    try:
        restarted = feed_with_restarts(stack, loop)
        MEASUREMENTS["loop_landed_seconds"] = round(time.monotonic() - t0, 1)
        wait_settled(stack, loop.store, loop.days[-1])
        MEASUREMENTS["loop_settled_seconds"] = round(time.monotonic() - t0, 1)
    finally:
        killer.stop.set()
        killer.join(10)
    if killer.error:
        raise killer.error

    # The scheduler and the api-server did restart mid-day, and that day went through like the rest.
    assert restarted and all(
        restarted["after"][s] != restarted["before"][s] for s in restarted["before"]
    ), restarted
    check_every_day_went_through(stack, loop.store, loop.days)
    _, bootstrap_day, retrain_day = check_bootstrap_alarm_retrain(
        stack, loop.store, loop.days, loop.shift
    )
    # One model version per training, the retrained one promoted: no duplicate from the retry.
    champion = check_second_model_is_champion(loop.cfg)
    from driftloop.model.registry import mlflow_client

    versions = mlflow_client(loop.cfg).search_model_versions(f"name='{loop.cfg.model_name}'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    assert str(champion.version) == "2"

    # The killed worker's task was retried on the other worker and succeeded.
    assert killer.killed, "the retrain's training was never seen running on a worker"
    assert killer.killed["run_id"] == f"retrain__{retrain_day.isoformat()}"
    ti = stack.api(
        "GET", f"dags/{TRAIN_DAG}/dagRuns/{killer.killed['run_id']}/taskInstances/train_model"
    )
    assert ti["state"] == "success", ti
    assert ti["try_number"] >= 2, ti
    assert ti["hostname"] != killer.killed["hostname"], (ti, killer.killed)
    MEASUREMENTS["killed_worker"] = {**killer.killed, "retried_on": ti["hostname"]}

    # Partitions whole: every day's objects complete, no temporary object left by the kill.
    objects = stack.objects(BUCKET, "data/")
    assert not [k for k in objects if k.endswith((".tmp", ".old")) or "/." in k], objects
    for day in loop.days:
        assert any(f"date={day.isoformat()}/" in k and "/validated/" in f"/{k}" for k in objects)

    # Tasks ran on both workers (the killed one before its death).
    ran_on: dict[str, list[str]] = defaultdict(list)
    for dag_id in LOOP_DAGS:
        for t in stack.task_instances(dag_id):
            if t["state"] == "success":
                ran_on[t["hostname"]].append(f"{dag_id}.{t['task_id']}")
    MEASUREMENTS["tasks_per_worker"] = {h: dict(Counter(ts)) for h, ts in ran_on.items()}
    assert {h for h in ran_on if any(h.startswith(w) for w in workers_at_start)} == set(ran_on)
    assert len(ran_on) == 2, dict(ran_on)
    assert bootstrap_day < loop.shift <= retrain_day


def snapshot(stack: ComposeStack, loop: LoopRun) -> dict[str, Any]:
    """Every object, model version and alias, and every run with its state and conf."""
    from driftloop.model.registry import mlflow_client

    client = mlflow_client(loop.cfg)
    model = client.get_registered_model(loop.cfg.model_name)
    versions = client.search_model_versions(f"name='{loop.cfg.model_name}'")
    runs = {
        dag_id: sorted(
            (r["dag_run_id"], r["state"], str(r.get("conf")))
            for r in stack.api("GET", f"dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]
        )
        for dag_id in LOOP_DAGS
    }
    return {
        "objects": {b: stack.objects(b) for b in (BUCKET, "mlflow")},
        "aliases": dict(model.aliases),
        "versions": sorted((v.version, v.run_id, v.source) for v in versions),
        "runs": runs,
    }


def test_down_then_up_keeps_partitions_versions_and_decisions(
    stack: ComposeStack, loop: LoopRun
) -> None:
    # The worker killed above is stopped; bring the stack back to its shape first.
    stack.compose("up", "-d", "--no-build", "--scale", "airflow-worker=2")
    stack.wait_for(stack.healthy, 300, "the stack to be whole again", every=3)
    wait_settled(stack, loop.store, loop.days[-1])
    before = snapshot(stack, loop)
    assert before["objects"][BUCKET] and before["versions"] and before["aliases"]

    stack.down()
    assert stack.containers(all_=True) == []
    seconds = stack.up()
    MEASUREMENTS["down_up_to_healthy_seconds"] = round(seconds, 1)
    after = snapshot(stack, loop)
    assert after["aliases"] == before["aliases"]
    assert after["versions"] == before["versions"]
    assert after["runs"] == before["runs"]
    assert after["objects"] == before["objects"]
    # The restored champion still loads from the restored artifacts.
    from driftloop.model import registry

    assert registry.champion(loop.cfg) is not None
