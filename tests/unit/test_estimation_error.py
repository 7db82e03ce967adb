"""The estimator's error: each estimated day against the realised metric once its labels land."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from driftloop.core.storage import LABELS, PREDICTIONS, parquet_bytes
from driftloop.monitor.estimation_error import (
    EstimationRow,
    estimation_rows,
    mean_absolute_error,
)

START = date(2026, 2, 1)


def _day(store, i: int, *, labelled: bool, versions: dict[str, float]) -> dict[str, float]:
    """Predictions of day ``i`` by each version (its noise level), labels when ``labelled``;
    returns each version's roc_auc on the day, computed here with scikit-learn."""
    rng = np.random.default_rng(i)
    n = 400
    ids = np.arange(n) + 10_000 * i
    y = (rng.random(n) < 0.3).astype(int)
    frames, auc = [], {}
    for version, noise in versions.items():
        score = 1 / (1 + np.exp(-((2 * y - 1) + rng.normal(0, noise, n))))
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": ids,
                    "score": score,
                    "predicted_label": (score >= 0.5).astype(int),
                    "model_name": "churn-model",
                    "model_version": version,
                    "run_id": f"run{version}",
                }
            )
        )
        auc[version] = float(roc_auc_score(y, score))
    day = START + timedelta(days=i)
    preds = pd.concat(frames, ignore_index=True)
    store.write_partition(PREDICTIONS, day, {"part-0.parquet": parquet_bytes(preds)})
    if labelled:
        labels = pd.DataFrame({"customer_id": ids, "churned": y})
        store.write_partition(LABELS, day, {"part-0.parquet": parquet_bytes(labels)})
    return auc


def _estimate(i: int, version: str | None, value: float | None) -> dict:
    return {"date": (START + timedelta(days=i)).isoformat(), "model_version": version,
            "metric": "roc_auc", "method": "cbpe", "value": value, "rows": 400,
            "holdout_value": 0.8}  # fmt: skip


def test_rows_pair_each_estimate_with_the_realised_metric_of_its_model(cfg, store) -> None:
    # Day 0: v1 only; day 1: v1 and v2 both scored it (a promotion that day); day 2: no labels yet.
    auc0 = _day(store, 0, labelled=True, versions={"1": 1.0})
    auc1 = _day(store, 1, labelled=True, versions={"1": 3.0, "2": 0.5})
    _day(store, 2, labelled=False, versions={"2": 0.5})
    estimates = {
        START + timedelta(days=2): _estimate(2, "2", 0.9),
        (START + timedelta(days=1)).isoformat(): _estimate(1, "2", 0.85),
        START: _estimate(0, "1", 0.7),
    }
    rows = estimation_rows(store, cfg, estimates)
    assert [r.date for r in rows] == [(START + timedelta(days=i)).isoformat() for i in range(3)]
    assert [r.model_version for r in rows] == ["1", "2", "2"]
    # Realised: the estimate's own model version on that day, never the other model's rows.
    assert rows[0].realised == pytest.approx(auc0["1"])
    assert rows[1].realised == pytest.approx(auc1["2"]) and auc1["2"] != pytest.approx(auc1["1"])
    assert rows[2].realised is None and rows[2].error is None  # labels not landed
    assert rows[0].error == pytest.approx(0.7 - auc0["1"])
    assert rows[1].error == pytest.approx(0.85 - auc1["2"])
    mae = mean_absolute_error(rows)
    assert mae == pytest.approx((abs(0.7 - auc0["1"]) + abs(0.85 - auc1["2"])) / 2)
    body = rows[1].to_dict()
    assert set(body) == {"date", "model_version", "metric", "method", "estimated", "realised",
                         "error"}  # fmt: skip
    assert body["error"] == rows[1].error and body["method"] == "cbpe"


def test_a_day_without_estimate_value_or_version_has_no_error(cfg, store) -> None:
    _day(store, 0, labelled=True, versions={"1": 1.0})
    rows = estimation_rows(
        store, cfg, {START: _estimate(0, None, 0.8), START + timedelta(1): _estimate(1, "1", None)}
    )
    assert [(r.realised, r.error) for r in rows] == [(None, None), (None, None)]
    assert mean_absolute_error(rows) is None
    assert mean_absolute_error([]) is None


def test_error_sign_and_mae() -> None:
    rows = [
        EstimationRow("2026-01-01", "1", "rmse", "dle", 10.0, 12.0),
        EstimationRow("2026-01-02", "1", "rmse", "dle", 13.0, 12.0),
        EstimationRow("2026-01-03", "1", "rmse", "dle", 13.0, None),
    ]
    assert [r.error for r in rows] == [-2.0, 1.0, None]
    assert mean_absolute_error(rows) == pytest.approx(1.5)


def test_the_demo_summary_settles_estimates_from_storage(cfg, store) -> None:
    """The estimate files the daily check writes, read back at the end of a run: each record gets
    its realised metric and error, the meta the estimator's MAE."""
    import json

    from driftloop.demo.run import DayRecord, settle_estimates
    from driftloop.monitor.estimates import estimation_error

    auc = [_day(store, i, labelled=i < 2, versions={"1": 1.0})["1"] for i in range(3)]
    for i, value in enumerate((0.8, 0.75, 0.7)):
        body = json.dumps(_estimate(i, "1", value)).encode()
        day = START + timedelta(days=i)
        store.write_partition("monitoring/estimates", day, {"estimate.json": body})
    records = [DayRecord((START + timedelta(days=i)).isoformat()) for i in range(4)]
    rows, facts = settle_estimates(records, store, cfg)
    assert [r["realised"] for r in rows] == [pytest.approx(auc[0]), pytest.approx(auc[1]), None]
    assert [r.realised_metric for r in records] == [round(auc[0], 4), round(auc[1], 4), None, None]
    assert records[1].estimation_error == round(0.75 - auc[1], 4)
    assert records[2].estimation_error is None and records[3].estimation_error is None
    mae = (abs(0.8 - auc[0]) + abs(0.75 - auc[1])) / 2
    assert facts == {"estimator_method": ["cbpe"], "estimator_mae": round(mae, 4),
                     "estimated_days": 3, "estimated_days_labelled": 2}  # fmt: skip
    # From a day on: the earlier estimates are left out.
    later, later_mae = estimation_error(store, cfg, since=START + timedelta(days=1))
    assert [r.date for r in later] == [r["date"] for r in rows[1:]]
    assert later_mae == pytest.approx(abs(0.75 - auc[1]))
