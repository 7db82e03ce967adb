"""Which configs are pipelines, the DAG ids of a pipeline, and the schedule section of a config."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from driftloop.core.config import ConfigError, load_config, project_root
from driftloop.core.pipelines import (
    STAGES,
    config_files,
    dag_id,
    find_pipeline,
    load_pipelines,
    split_dag_id,
)

CHURN = project_root() / "configs" / "churn.yaml"


def _write(folder: Path, stem: str, **overrides: object) -> Path:
    cfg = {**yaml.safe_load(CHURN.read_text()), **overrides}
    path = folder / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_dag_ids_round_trip() -> None:
    assert dag_id("churn", "drift_check") == "churn__drift_check"
    for pipeline in ("churn", "churn_eu", "a__b", "x-y"):
        for stage in STAGES:
            assert split_dag_id(dag_id(pipeline, stage)) == (pipeline, stage)
    with pytest.raises(ValueError, match="unknown stage"):
        dag_id("churn", "deploy")
    for bad in ("ingest", "churn__deploy", "__ingest"):
        with pytest.raises(ValueError, match="not a pipeline DAG id"):
            split_dag_id(bad)


def test_config_sources_folder_wins_then_single_file_then_repo(tmp_path, monkeypatch) -> None:
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "multiclass.yaml").write_text("name: x\n")
    (tmp_path / "notes.md").write_text("no config")
    a = _write(tmp_path, "a", name="a", storage={"root": str(tmp_path / "a")})
    b = _write(tmp_path, "b", name="b", storage={"root": str(tmp_path / "b")})
    c = _write(tmp_path, "c", name="c", storage={"root": str(tmp_path / "c")})
    c = c.rename(tmp_path / "c.yml")
    monkeypatch.delenv("DRIFTLOOP_CONFIGS", raising=False)
    monkeypatch.delenv("DRIFTLOOP_CONFIG", raising=False)
    assert config_files() == sorted((project_root() / "configs").glob("*.yaml"))
    monkeypatch.setenv("DRIFTLOOP_CONFIG", str(a))
    assert config_files() == [a]
    monkeypatch.setenv("DRIFTLOOP_CONFIGS", str(tmp_path))
    assert config_files() == [a, b, c]  # no subfolder, no other file
    assert load_pipelines().names() == ["a", "b", "c"]
    assert find_pipeline("b").source == str(b)


def test_the_repo_configs_are_two_distinct_pipelines(monkeypatch) -> None:
    monkeypatch.delenv("DRIFTLOOP__STORAGE__ROOT", raising=False)
    loaded = load_pipelines(project_root() / "configs")
    assert loaded.errors == {}
    assert loaded.names() == ["churn", "churn_eu"]
    churn, eu = loaded.configs
    assert churn.storage.root != eu.storage.root and churn.model_name != eu.model_name


def test_broken_and_clashing_configs_are_reported_by_file_and_key(tmp_path) -> None:
    good = _write(tmp_path, "a_good", storage={"root": str(tmp_path / "a")})
    _write(tmp_path, "b_broken", name="broken", training={"window_days": 1})
    _write(tmp_path, "c_clash", name="clash", storage={"root": str(tmp_path / "a") + "/"})
    _write(tmp_path, "d_same_name", storage={"root": str(tmp_path / "d")})
    loaded = load_pipelines(tmp_path)
    assert loaded.names() == ["churn"]
    errors = loaded.errors
    assert sorted(Path(p).name for p in errors) == [
        "b_broken.yaml",
        "c_clash.yaml",
        "d_same_name.yaml",
    ]
    assert "training.window_days" in errors[str(tmp_path / "b_broken.yaml")]
    assert f"storage.root: same as {good}" in errors[str(tmp_path / "c_clash.yaml")]
    assert f"name: same as {good}" in errors[str(tmp_path / "d_same_name.yaml")]
    with pytest.raises(
        ConfigError, match=r"no pipeline named 'broken'(.|\n)*training\.window_days"
    ):
        find_pipeline("broken", tmp_path)


def test_schedule_section_defaults_and_overrides(tmp_path) -> None:
    cfg = load_config(_write(tmp_path, "p", schedule={"start_date": "2025-03-01"}), environ={})
    assert (cfg.schedule.start_date, cfg.schedule.interval, cfg.schedule.catchup) == (
        date(2025, 3, 1),
        "@daily",
        True,
    )
    cfg = load_config(CHURN, environ={"DRIFTLOOP__SCHEDULE__START_DATE": "2026-05-02"})
    assert cfg.schedule.start_date == date(2026, 5, 2)
    with pytest.raises(ConfigError, match=r"schedule\.start_date"):
        load_config(_write(tmp_path, "q", schedule={"start_date": "yesterday"}), environ={})


def test_cli_lists_pipelines_and_exits_2_on_a_broken_config(tmp_path, capsys) -> None:
    from driftloop.cli.main import main

    _write(tmp_path, "churn", storage={"root": str(tmp_path / "churn")})
    assert main(["pipelines", "--configs", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["errors"] == {}
    (churn,) = out["pipelines"]
    assert churn["dags"] == [f"churn__{s}" for s in STAGES]
    assert (churn["registered_model"], churn["start_date"]) == ("churn-model", "2026-01-01")
    _write(tmp_path, "broken", name="broken", training={"window_days": 1})
    assert main(["pipelines", "--configs", str(tmp_path)]) == 2
    out = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in out["pipelines"]] == ["churn"]
    assert "training.window_days" in out["errors"][str(tmp_path / "broken.yaml")]
