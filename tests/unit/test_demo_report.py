"""The demo's summary files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from driftloop.demo.summary import estimation_lines, format_row, header, write_summary


def _records() -> list[dict]:
    base = {"rows": 2000, "validation": "validated", "champion_version": "1", "action": "none"}
    return [
        {**base, "day": "2026-01-01", "drift_share": 0.0, "live_metric": None},
        {
            **base,
            "day": "2026-01-02",
            "validation": "quarantined",
            "drift_share": None,
            "live_metric": 0.81,
        },
        {
            **base,
            "day": "2026-01-03",
            "drift_share": 0.5,
            "live_metric": 0.79,
            "retrain_triggered": True,
        },
        {**base, "day": "2026-01-04", "drift_share": 0.1, "live_metric": 0.83, "promoted": True},
    ]


def test_table_row_formats_numbers_and_missing_values() -> None:
    row = format_row(_records()[1])
    assert row.startswith("2026-01-02")
    assert "quarantined" in row and "0.810" in row and " - " in row
    assert header().split()[:3] == ["day", "rows", "validation"]
    # The live column is task-neutral: its title names the metric, the value sits in the column.
    titles, line = header("rmse"), format_row(_records()[1])
    assert "live rmse" in titles and "live_auc" not in titles
    assert line.index("0.810") == titles.index("live rmse")


def test_summary_files(tmp_path: Path) -> None:
    paths = write_summary(
        _records(),
        tmp_path,
        {"scenario": "covariate_shift", "drift_start": "2026-01-03", "live_metric_name": "rmse"},
    )
    data = json.loads(paths["json"].read_text())
    assert [d["day"] for d in data["days"]] == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
        "2026-01-04",
    ]
    assert data["meta"]["scenario"] == "covariate_shift"
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = paths["html"].read_text()
    assert 'class="q"' in page and 'class="p"' in page and "summary.png" in page
    assert "<th>live rmse</th>" in page and "<td>0.830</td>" in page
    assert [d.get("live_metric") for d in data["days"]] == [None, 0.81, 0.79, 0.83]


def _estimated() -> list[dict]:
    """The records with the day's estimate and, once labelled, its realised value and error."""
    out = _records()
    for rec, est, real in zip(out, (None, 0.82, 0.78, 0.8), (None, 0.83, 0.74, None), strict=True):
        rec.update(estimated_metric=est, realised_metric=real, estimation_method="cbpe")
        rec["estimation_error"] = None if est is None or real is None else round(est - real, 4)
    return out


def test_estimated_and_realised_columns(tmp_path: Path) -> None:
    records = _estimated()
    titles, line = header("roc_auc"), format_row(records[2])
    # The running table: the day's estimate beside the live metric of the day just labelled.
    assert titles.split()[:6] == ["day", "rows", "validation", "drift", "est", "roc_auc"]
    assert line.index("0.780") == titles.index("est roc_auc")
    assert line.index("0.790") == titles.index("live roc_auc")
    meta = {"scenario": "covariate_shift", "live_metric_name": "roc_auc", "estimator_mae": 0.025}
    paths = write_summary(records, tmp_path, meta)
    data = json.loads(paths["json"].read_text())
    assert [d["estimated_metric"] for d in data["days"]] == [None, 0.82, 0.78, 0.8]
    assert [d["estimation_error"] for d in data["days"]] == [None, -0.01, 0.04, None]
    page = paths["html"].read_text()
    heads = re.findall(r"<th>(.*?)</th>", page)
    assert heads[4:8] == ["est roc_auc", "realised roc_auc", "est error", "live roc_auc"]
    cells = re.findall(r"<tr class=\"[a-z]*\">(.*?)</tr>", page)[2]
    assert re.findall(r"<td>(.*?)</td>", cells)[4:8] == ["0.780", "0.740", "0.040", "0.790"]
    assert "<b>estimator_mae</b>: 0.025" in page


def test_estimation_lines() -> None:
    rows = [
        {"date": "2026-01-02", "model_version": "1", "metric": "rmse", "method": "dle",
         "estimated": 11.5, "realised": 12.0, "error": -0.5},
        {"date": "2026-01-03", "model_version": "1", "metric": "rmse", "method": "dle",
         "estimated": 12.5, "realised": None, "error": None},
    ]  # fmt: skip
    lines = estimation_lines(rows, 0.5, "rmse")
    assert lines[0].split()[:5] == ["day", "model", "method", "est", "rmse"]
    assert lines[1].split() == ["2026-01-02", "v1", "dle", "11.500", "12.000", "-0.500"]
    assert lines[2].split() == ["2026-01-03", "v1", "dle", "12.500", "-", "-"]
    assert lines[-1] == "estimator mean absolute error: 0.500 over 1 labelled day(s) of 2 estimated"
    assert estimation_lines([], None, "rmse") == []


def test_retrain_after_onset_names_the_first_retrain_and_its_reason() -> None:
    from driftloop.demo.run import DayRecord, retrain_after_onset

    def rec(day: int, action: str = "-", reason: str | None = None) -> DayRecord:
        fired = ["estimated_drop"] if reason and "estimated" in reason else []
        return DayRecord(f"2026-01-{day:02d}", action=action, reason=reason, fired=fired,
                         retrain_triggered="retrain" in action or "training" in action)  # fmt: skip

    records = [rec(1, "bootstrap training, promoted", "bootstrap"), rec(5), rec(6, "alarm"),
               rec(8, "retrain, promoted", "estimated roc_auc drop 0.07 > 0.04"), rec(9, "retrain")]  # fmt: skip
    assert retrain_after_onset(records, "2026-01-05") == {
        "retrain_after_onset_days": 3,
        "retrain_signals": ["estimated_drop"],
        "retrain_reason": "estimated roc_auc drop 0.07 > 0.04",
    }
    # A bootstrap after the onset is not the answer to it; no retrain yet: None; no onset: nothing.
    assert retrain_after_onset(records[:3], "2026-01-01") == {"retrain_after_onset_days": None}
    assert retrain_after_onset(records, None) == {}


def test_the_days_estimate_is_read_from_its_drift_report(store) -> None:
    from datetime import date

    from driftloop.core.storage import DRIFT
    from driftloop.demo.run import DayRecord, _read_report

    day = date(2026, 1, 5)
    body = {"drift": {"status": "drift", "drift_share": 0.5, "drifted": ["a"]},
            "decision": {"retrain": True, "reason": "estimated roc_auc drop",
                         "fired": ["feature_drift", "estimated_drop"]},
            "estimated_performance": {"method": "cbpe", "metric": "roc_auc",
                                      "day": {"date": day.isoformat(), "value": 0.71234, "rows": 9},
                                      "window": {"days": [], "value": 0.7}}}  # fmt: skip
    store.write_bytes(f"{DRIFT}/date={day.isoformat()}/report.json", json.dumps(body).encode())
    rec = DayRecord(day.isoformat())
    _read_report(store, day, rec)
    assert (rec.estimated_metric, rec.estimation_method) == (0.7123, "cbpe")
    assert rec.reason == "estimated roc_auc drop" and rec.drift_share == 0.5
    assert rec.fired == ["feature_drift", "estimated_drop"]
    # A report without an estimate (no champion yet, or an older report): no value.
    del body["estimated_performance"]
    store.write_bytes(f"{DRIFT}/date={day.isoformat()}/report.json", json.dumps(body).encode())
    rec = DayRecord(day.isoformat())
    _read_report(store, day, rec)
    assert rec.estimated_metric is None and rec.estimation_method is None


def test_days_saved_against_a_baseline_run_of_the_same_simulation(tmp_path: Path) -> None:
    from driftloop.demo.summary import days_saved, load_baseline

    run = {"scenario": "harmful_shift", "seed": 7, "start": "2026-01-01",
           "drift_start": "2026-01-13", "rows_per_day": 1000}  # fmt: skip
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"meta": {**run, "retrain_after_onset_days": 9}, "days": []}))
    baseline = load_baseline(path, run)
    assert days_saved({"retrain_after_onset_days": 6}, baseline) == {
        "baseline_retrain_after_onset_days": 9,
        "days_saved": 3,
    }
    assert days_saved({"retrain_after_onset_days": None}, baseline)["days_saved"] is None
    with pytest.raises(ValueError, match="another simulation: seed 7 vs 8"):
        load_baseline(path, {**run, "seed": 8})
