"""The benchmark suite (bench/): each script's JSON shape at its smallest size, and the shared helpers.

The heavy scripts (ingest, scoring, training, orchestration) need GX, MLflow training or Airflow
runs even at their quick sizes (a minute or more each), so only the fast ones run end to end here;
the others are checked through the helpers they share.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import _common  # noqa: E402  (bench/ is not a package: its scripts import _common by path)


def _run(script: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", "--no-save", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _check_shape(doc: dict, name: str, goals: list[str]) -> None:
    assert doc["benchmark"] == name
    assert {"cores", "ram_gb", "python", "load_average"} <= set(doc["machine"])
    assert {"numpy", "pandas", "pyarrow"} <= set(doc["versions"])
    for key in goals:
        figure = doc[key]
        assert isinstance(figure["value"], float | int) and figure["goal"].startswith(("<=", ">="))
        assert isinstance(figure["meets_goal"], bool)
    assert doc["meets_goal"] is all(doc[k]["meets_goal"] for k in goals)


def test_drift_quick_json() -> None:
    doc = _run("drift.py", "--rows", "5000", "--large-rows", "10000")
    _check_shape(doc, "drift", ["check_vs_scan", "large_rss_ratio"])
    assert doc["exact"] is True and doc["large_exact"] is True
    assert doc["check_peak_rss_mb"] > 0 and doc["scan_s"] > 0


def test_dag_parsing_quick_json() -> None:
    doc = _run("dag_parsing.py")
    _check_shape(doc, "dag_parsing", ["dagbag_fill_s"])
    assert doc["pipelines"] == 10 and doc["dags"] == 50  # five DAGs per pipeline
    assert set(doc["one_pipeline"]["dags"]) == {
        f"churn__{stage}" for stage in ("ingest", "score", "drift_check", "train", "promote")
    }


def test_goal_is_a_figure_beside_its_limit() -> None:
    assert _common.goal(0.5, 1.0) == {"value": 0.5, "goal": "<= 1.0", "meets_goal": True}
    assert _common.goal(0.7, 0.8, at_most=False)["meets_goal"] is False
    assert _common.goal(600.0, 600, unit=" MB")["goal"] == "<= 600 MB"


def test_timed_is_a_median_after_warmup() -> None:
    calls = []
    median, last = _common.timed(lambda: calls.append(1) or len(calls), repeats=3, warmup=2)
    assert len(calls) == 5 and last == 5 and median >= 0


def _double(x: int) -> dict:
    return {"x": 2 * x, "rss": _common.peak_rss_mb()}


def _boom() -> dict:
    raise ValueError("no")


def test_in_child_returns_the_dict_of_a_fresh_process() -> None:
    out = _common.in_child(_double, 21)
    assert out["x"] == 42 and out["rss"] > 1
    with pytest.raises(RuntimeError, match="ValueError: no"):
        _common.in_child(_boom)


def test_emit_prints_and_saves_one_object(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    doc = _common.emit("x", {"a": 1.23456, "f": _common.goal(2.0, 1.0)})
    printed = json.loads(capsys.readouterr().out)
    assert printed == doc == json.loads((tmp_path / "x.json").read_text())
    assert doc["a"] == 1.235 and doc["meets_goal"] is False


@pytest.mark.parametrize(
    "script", ["ingest", "scoring", "training", "orchestration", "scale_workers"]
)
def test_heavy_scripts_parse_their_options(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{script}.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--quick" in done.stdout and "--repeats" in done.stdout


def test_stdout_to_stderr_keeps_stdout_for_the_json() -> None:
    code = (
        "import os, sys, _common\n"
        "with _common.stdout_to_stderr():\n"
        "    print('library chatter')\n"
        "    os.write(1, b'raw chatter\\n')\n"
        "print('{}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=BENCH, capture_output=True, text=True, check=True
    )
    assert done.stdout == "{}\n"
    assert "library chatter" in done.stderr and "raw chatter" in done.stderr
