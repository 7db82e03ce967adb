"""Performance monitoring and the daily check over storage partitions, and the report files."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from driftloop.core.metrics import METRICS, binary_metrics
from driftloop.core.storage import DRIFT, LABELS, PREDICTIONS, VALIDATED, parquet_bytes
from driftloop.data import synth
from driftloop.drift import build_profile
from driftloop.monitor.monitoring import check, evaluate_performance
from driftloop.monitor.policy import decide_for
from driftloop.monitor.report import HTML_NAME, JSON_NAME, write_report
from tests.support.web import external, loaded_urls

START = date(2026, 1, 1)


def _scores(y: np.ndarray, seed: int, good: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if not good:
        return rng.random(len(y))
    return 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + rng.normal(0, 1, len(y)))))


def _joined(n: int, seed: int, good: bool) -> pd.DataFrame:
    y = (np.random.default_rng(seed).random(n) < 0.3).astype(int)
    s = _scores(y, seed + 1, good)
    return pd.DataFrame({"score": s, "predicted_label": (s >= 0.5).astype(int), "churned": y})


def test_binary_metrics() -> None:
    df = _joined(5_000, 0, good=True)
    m = binary_metrics(df["churned"], df["score"])
    assert set(m) == set(METRICS) >= {"roc_auc", "pr_auc", "f1", "log_loss"}
    assert 0.85 < m["roc_auc"] < 1.0  # type: ignore[operator]
    single = binary_metrics(np.zeros(10), np.full(10, 0.2))
    assert single["roc_auc"] is None and single["pr_auc"] is None


def test_performance_decay_is_detected(cfg) -> None:
    holdout = {"roc_auc": 0.98, "pr_auc": 0.9, "f1": 0.8, "log_loss": 0.3}
    fine = evaluate_performance(cfg, _joined(3_000, 0, good=True), holdout, "2")
    assert fine.status == "ok" and fine.decay is not None
    assert abs(fine.decay) < cfg.drift.performance_tolerance
    bad = evaluate_performance(cfg, _joined(3_000, 0, good=False), holdout, "2")
    assert bad.status == "decay" and bad.decayed
    assert bad.decay == pytest.approx(0.98 - bad.live["roc_auc"])
    assert bad.decay > cfg.drift.performance_tolerance


def test_too_few_labels_is_no_verdict(cfg) -> None:
    few = evaluate_performance(cfg, _joined(999, 0, good=False), {"roc_auc": 0.9}, "2")
    assert few.status == "insufficient_labels" and few.decay is None and not few.decayed


@pytest.fixture
def populated(cfg, store):
    """21 reference days (profile only) and days 21..27 in storage; day 24 was quarantined.

    Days 21-22 were scored by version 1 (a useless model), later days by version 2 (the champion);
    labels exist up to day 27 - label_delay_days. Covariate shift from day 25.
    """
    scenario = synth.Scenario("covariate_shift", drift_start=START + timedelta(days=25))
    ref = [synth.generate_day(cfg, START + timedelta(days=i), scenario) for i in range(21)]
    ref_scores = np.concatenate(
        [_scores(b.labels["churned"].to_numpy(), i, True) for i, b in enumerate(ref)]
    )
    profile = build_profile([b.features for b in ref], cfg, scores=ref_scores)
    last = START + timedelta(days=27)
    for i in range(21, 28):
        day = START + timedelta(days=i)
        batch = synth.generate_day(cfg, day, scenario)
        if i != 24:
            store.write_partition(VALIDATED, day, {"part-0.parquet": parquet_bytes(batch.features)})
            version = "1" if i < 23 else "2"
            s = _scores(batch.labels["churned"].to_numpy(), i, good=version == "2")
            preds = pd.DataFrame(
                {
                    "customer_id": batch.features["customer_id"],
                    "score": s,
                    "predicted_label": (s >= 0.5).astype(int),
                    "model_name": cfg.model_name,
                    "model_version": version,
                    "run_id": f"run{version}",
                }
            )
            store.write_partition(PREDICTIONS, day, {"part-0.parquet": parquet_bytes(preds)})
        if day <= last - timedelta(days=cfg.dataset.label_delay_days):
            store.write_partition(LABELS, day, {"part-0.parquet": parquet_bytes(batch.labels)})
    return profile


def test_check_uses_existing_partitions_and_the_champion_version(cfg, store, populated) -> None:
    holdout = {"roc_auc": 0.93}
    report = check(cfg, START + timedelta(days=24), populated, holdout, "2", store=store)
    # Drift window 22..24: day 24 was quarantined.
    assert report.drift_days_used == [(START + timedelta(days=i)).isoformat() for i in (22, 23)]
    assert report.drift_days_missing == [(START + timedelta(days=24)).isoformat()]
    assert report.drift.status == "no_drift"
    # Performance window: 24 - (5 + 3) + 1 = day 17 .. 24; labels up to day 24; version 2 only.
    perf = report.performance
    assert perf.days_used == [(START + timedelta(days=i)).isoformat() for i in (21, 22, 23)]
    assert perf.n_labelled == len(
        synth.generate_day(cfg, START + timedelta(days=23), synth.Scenario()).labels
    )
    assert perf.status == "ok"


def test_check_flags_shift_and_training_end_trims_the_window(cfg, store, populated) -> None:
    day = START + timedelta(days=27)
    report = check(cfg, day, populated, {"roc_auc": 0.93}, "2", store=store)
    assert sorted(report.drift.drifted) == sorted(synth.DEFAULT_SHIFTED)
    assert report.drift.prediction is not None and report.drift.prediction.drifted
    decision = decide_for(
        cfg, report.signals(), day, training_active=False, last_training_date=START
    )
    assert decision.retrain and "prediction drift" in decision.reason

    # A champion trained through day 26 owns days <= 26: only day 27 is left in the window.
    trimmed = check(
        cfg, day, populated, {"roc_auc": 0.93}, "2", store=store, training_end=day - timedelta(1)
    )
    assert trimmed.drift_days_used == [day.isoformat()]
    # Trained through the day itself: nothing to compare yet, which is not "no drift".
    fresh = check(cfg, day, populated, {"roc_auc": 0.93}, "2", store=store, training_end=day)
    assert fresh.drift_days_used == [] and fresh.drift.status == "insufficient_data"


def test_write_report_files(cfg, store, populated) -> None:
    day = START + timedelta(days=27)
    report = check(cfg, day, populated, {"roc_auc": 0.93, "log_loss": 0.3}, "2", store=store)
    decision = decide_for(
        cfg, report.signals(), day, training_active=False, last_training_date=None
    )
    uri = write_report(store, day, report, decision)
    prefix = f"{DRIFT}/date={day.isoformat()}"
    assert uri == store.uri(prefix)
    assert store.partition_exists(DRIFT, day)
    body = json.loads(store.read_bytes(f"{prefix}/{JSON_NAME}"))
    assert body["decision"]["retrain"] is True
    assert body["decision"]["reason"] == decision.reason
    assert sorted(body["drift"]["drifted"]) == sorted(synth.DEFAULT_SHIFTED)
    assert body["performance"]["primary_metric"] == "roc_auc"
    assert len(body["drift"]["features"]) == len(cfg.dataset.features)
    page = store.read_bytes(f"{prefix}/{HTML_NAME}").decode()
    assert decision.reason.split(";")[0] in page
    for name in cfg.dataset.feature_names:
        assert name in page
    assert page.count("data:image/png;base64,") == len(cfg.dataset.features) + 1  # + scores
    # Self-contained: plots inline, no script, stylesheet or image from another host.
    assert len(loaded_urls(page)) >= len(cfg.dataset.features) and not external(loaded_urls(page))
    # A rerun replaces the partition whole (idempotent).
    assert write_report(store, day, report, decision) == uri
    assert sorted(k.rsplit("/", 1)[1] for k in store.list(prefix + "/")) == [
        "_SUCCESS",
        HTML_NAME,
        JSON_NAME,
    ]


def test_drift_command_is_registered() -> None:
    from driftloop.cli.main import build_parser

    args = build_parser().parse_args(["drift", "--date", "2026-01-28", "--training-active"])
    assert args.command == "drift" and args.date == date(2026, 1, 28) and args.training_active
