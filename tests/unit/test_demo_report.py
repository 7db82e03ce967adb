"""The demo's summary files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftloop.demo.summary import format_row, header, write_summary

pytestmark = pytest.mark.unit


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
