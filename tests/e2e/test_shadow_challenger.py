"""Shadow challengers through the real DAGs: promoted only after winning on live labelled partitions.

The story, with ``gate.shadow_partitions: 2`` and labels landing a day late (to keep it short):

* days 0-4 are stationary; the champion (v1) is trained on them on day 5;
* from day 5 the concept drifts (who churns changes, the inputs do not); on day 9 a challenger
  (v2) is trained on the four drifted days 5-8 only. On its own holdout it beats the champion by
  far, so it passes the offline gate, and goes into shadow from day 10;
* from day 10 the regime either **reverts** to the stationary one (the drift was a passing
  episode: the narrow window the challenger learnt no longer holds) or **persists**;
* the score DAG scores days 10 and 11 with v2 into ``predictions/shadow/``; their labels land on
  days 11 and 12, where the drift_check DAG's ``review_shadow`` task compares both models on the
  same rows and decides on day 12.

Each scenario runs ``python -m tests.e2e.test_shadow_challenger`` in a subprocess (its own Airflow
DB, MLflow store and storage, through the demo's :class:`~driftloop.demo.run.DemoRunner`, as the
closed-loop scenarios do) and the assertions read the audit records it writes out.
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.support.process import clean_env, run_loop

START = date(2026, 1, 1)
DRIFT, CHAMPION_DAY, CHALLENGER_DAY, REGIME_DAY, DAYS = 5, 5, 9, 10, 13
WINDOWS = {CHAMPION_DAY: 5, CHALLENGER_DAY: 4}  # labelled days trained on (3 of them the holdout)
ROWS, SEED = 1500, 7
SHADOW_ENV = {
    "DRIFTLOOP__GATE__SHADOW_PARTITIONS": "2",
    "DRIFTLOOP__GATE__SHADOW_MAX_DAYS": "8",
    "DRIFTLOOP__DATASET__LABEL_DELAY_DAYS": "1",
}


def day_of(i: int) -> date:
    return START + timedelta(days=i)


def run_scenario(tmp_path: Path, regime: str) -> dict[str, Any]:
    out = tmp_path / regime
    cmd = [sys.executable, "-m", "tests.e2e.test_shadow_challenger", str(out), regime]
    run_loop(cmd, out, clean_env(SHADOW_ENV), "scenario")
    result: dict[str, Any] = json.loads((out / "result.json").read_text())
    return result


def check_shadow_started(result: dict[str, Any]) -> dict[str, Any]:
    """The challenger won offline, was not promoted, and was scored in shadow from day 13."""
    records = result["records"]
    gate = records["v2-gate"]["decision"]
    assert gate["promote"] and gate["champion_version"] == "1"
    offline_gain = gate["challenger_metrics"]["roc_auc"] - gate["champion_metrics"]["roc_auc"]
    assert offline_gain > 0.05, gate
    assert records["v2-shadow"]["since"] == day_of(REGIME_DAY).isoformat()
    assert result["champion_by_day"][day_of(CHALLENGER_DAY + 1).isoformat()] == "1"
    assert result["shadow_tag_on_day"][day_of(REGIME_DAY).isoformat()].startswith(
        f"in shadow since {day_of(REGIME_DAY).isoformat()}"
    )
    # Same columns as the champion's predictions, its own version.
    assert result["shadow_columns"] == result["champion_columns"]
    assert result["shadow_versions"] == ["2"]
    compared = [
        records[f"v2-shadow-{day_of(d).isoformat()}"]["comparison"]
        for d in (REGIME_DAY, REGIME_DAY + 1)
    ]
    for c in compared:
        assert c["champion_version"] == "1" and c["challenger_version"] == "2"
        assert c["rows"] > 1000
    return {"offline_gain": offline_gain, "compared": compared}


def test_challenger_that_wins_offline_but_loses_in_shadow_is_not_promoted(tmp_path: Path) -> None:
    result = run_scenario(tmp_path, "reverts")
    seen = check_shadow_started(result)
    for c in seen["compared"]:
        assert c["challenger"] < c["champion"] - 0.05, c  # worse on the live, reverted regime
    rejected = result["records"]["v2-rejected"]
    assert rejected["reason"].startswith("not promoted: lost in shadow"), rejected
    assert rejected["partition_date"] == day_of(DAYS - 1).isoformat()  # decided on the last day
    assert "v2-promote" not in result["records"]
    assert set(result["champion_by_day"].values()) == {None, "1"}
    assert "challenger" not in result["aliases"]
    assert result["tags"]["driftloop.shadow"].startswith("not promoted: lost in shadow")
    assert result["tags"]["driftloop.decision"] == "promotion rejected by shadow review"


def test_challenger_that_wins_in_shadow_is_promoted(tmp_path: Path) -> None:
    result = run_scenario(tmp_path, "persists")
    seen = check_shadow_started(result)
    for c in seen["compared"]:
        assert c["challenger"] > c["champion"] + 0.05, c
    promoted = result["records"]["v2-promote"]
    assert promoted["previous_champion"] == "1" and promoted["champion"] == "2"
    assert promoted["decision"]["rule"] == "shadow"
    assert promoted["reason"].startswith("won in shadow")
    assert promoted["partition_date"] == day_of(DAYS - 1).isoformat()
    last = day_of(DAYS - 1).isoformat()
    assert result["champion_by_day"][last] == "2"
    assert result["champion_by_day"][day_of(DAYS - 2).isoformat()] == "1"  # one partition short
    assert result["aliases"] == {"champion": "2", "previous_champion": "1"}


# -- the driver (run in a subprocess) ---------------------------------------------------------------
def _drive(out: Path, regime: str) -> None:
    from driftloop.core.storage import PREDICTIONS, SHADOW_PREDICTIONS, open_store
    from driftloop.data import synth
    from driftloop.demo.run import DemoRunner
    from driftloop.model import registry

    runner = DemoRunner(out / "state")
    cfg = runner.cfg
    store = open_store(cfg.storage)
    drift = synth.Scenario("concept_drift", day_of(DRIFT))
    stationary = synth.Scenario("none")

    def scenario(day: date) -> synth.Scenario:
        if regime == "reverts" and day >= day_of(REGIME_DAY):
            return stationary
        return drift

    def deliver(day: date) -> None:
        # As synth.write_day, but each day's labels follow the regime of the day they label.
        from driftloop.core.storage import landing_prefix

        prefix = landing_prefix(day)
        label_day = day - timedelta(days=cfg.dataset.label_delay_days)
        if label_day >= START:
            labels = synth.generate_day(cfg, label_day, scenario(label_day), SEED, ROWS).labels
            store.write_bytes(f"{prefix}/labels_{label_day}.csv", synth._csv(labels))
        features = synth.generate_day(cfg, day, scenario(day), SEED, ROWS).features
        store.write_bytes(f"{prefix}/features.csv", synth._csv(features))

    champion_by_day, shadow_tag = {}, {}
    for i in range(DAYS):
        day = day_of(i)
        deliver(day)
        runner.run("ingest", day)
        runner.run("score", day, {"date": day.isoformat()})
        if i >= CHAMPION_DAY:  # the daily check (and shadow review) once there is a champion
            runner.run("drift_check", day, mark_success="trigger_train")
        if i in WINDOWS:
            window_end = day - timedelta(days=cfg.dataset.label_delay_days)
            conf = {"date": window_end.isoformat(), "window_days": WINDOWS[i], "reason": "scenario"}
            assert runner.run("train", day, conf) == "success"
        current = registry.champion(cfg)
        champion_by_day[day.isoformat()] = str(current.version) if current else None
        shadow = registry.shadow_challenger(cfg)
        if shadow:
            tags = registry.get_version(cfg, shadow["version"]).tags
            shadow_tag[day.isoformat()] = tags.get(registry.TAG_SHADOW)

    first = day_of(REGIME_DAY)
    shadow_frame = store.read_table(SHADOW_PREDICTIONS, first)
    result = {
        "champion_by_day": champion_by_day,
        "shadow_tag_on_day": shadow_tag,
        "records": {f"v{r['version']}-{r['action']}": r for r in registry.read_records(cfg)},
        "aliases": registry.aliases(cfg),
        "tags": dict(registry.get_version(cfg, "2").tags),
        "shadow_columns": list(shadow_frame.columns),
        "champion_columns": list(store.read_table(PREDICTIONS, first).columns),
        "shadow_versions": sorted(set(shadow_frame["model_version"].astype(str))),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    _drive(Path(sys.argv[1]), sys.argv[2])
