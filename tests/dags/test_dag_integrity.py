"""Every DAG in dags/ imports cleanly, follows the project's policy, and parses cheaply."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from driftloop.core.pipelines import STAGES, dag_id

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
HEAVY = ("pandas", "sklearn", "mlflow", "great_expectations")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dags) == sorted(dag_id("churn", stage) for stage in STAGES)


def test_every_dag_follows_the_policy(dagbag) -> None:
    problems = []
    for id_, dag in sorted(dagbag.dags.items()):
        if not dag.tags:
            problems.append(f"{id_}: no tags")
        if not dag.doc_md:
            problems.append(f"{id_}: no doc_md")
        for t in dag.tasks:
            if t.owner in ("", "airflow"):
                problems.append(f"{id_}.{t.task_id}: owner {t.owner!r}")
            if t.retries < 1:
                problems.append(f"{id_}.{t.task_id}: retries {t.retries} (policy: >= 1)")
    assert not problems, "DAG policy violations:\n" + "\n".join(problems)


MAX_DAG_FILE_LINES = 80


# The one file in dags/ without DAGs: it raises the broken configs' error (see its docstring).
CONFIG_CHECK = DAGS / "pipeline_configs.py"


def _dag_files() -> list[Path]:
    files = sorted(p for p in DAGS.glob("*.py") if p != CONFIG_CHECK)
    assert files, f"no DAG files in {DAGS}"
    return files


def test_one_dag_file_per_stage_and_the_config_check() -> None:
    assert sorted(p.stem for p in _dag_files()) == sorted(STAGES)
    tree = ast.parse(CONFIG_CHECK.read_text())
    code = [n for n in tree.body if not isinstance(n, ast.Import | ast.ImportFrom)]
    assert [ast.unparse(n) for n in code[1:]] == ["check_configs()"]  # after the docstring


@pytest.mark.parametrize("path", _dag_files(), ids=lambda p: p.name)
def test_dag_files_are_wiring_only(path: Path) -> None:
    """Short, and nothing at top level but imports and one loop over the factory's pipelines
    holding the DAG function and its call.

    The loop is the DAG factory's shape (one file per stage, one DAG per pipeline config); task
    bodies, operators and helpers live in ``driftloop.airflow``, where they are unit-tested;
    functions nested in the DAG function (e.g. small ``@task`` wrappers) are wiring.
    """
    source = path.read_text()
    lines = source.count("\n")
    assert lines <= MAX_DAG_FILE_LINES, f"{path.name}: {lines} lines (max {MAX_DAG_FILE_LINES})"
    tree = ast.parse(source, filename=str(path))
    problems = []
    dag_functions = []
    loops = [n for n in tree.body if isinstance(n, ast.For)]
    assert len(loops) == 1, f"{path.name}: {len(loops)} top-level loops (want one over pipelines)"
    (loop,) = loops
    assert isinstance(loop.iter, ast.Call) and getattr(loop.iter.func, "id", None) == "pipelines", (
        f"{path.name}: the loop must be over pipelines(<stage>)"
    )
    assert loop.iter.args and getattr(loop.iter.args[0], "value", None) == path.stem
    for node in [n for n in tree.body if n is not loop] + loop.body:
        if isinstance(node, ast.ClassDef):
            problems.append(f"class {node.name}")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            is_dag = any(
                isinstance(d, ast.Call) and getattr(d.func, "id", None) == "dag"
                for d in node.decorator_list
            )
            if is_dag:
                dag_functions.append(node.name)
            else:
                problems.append(f"helper function {node.name}()")
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            problems.append(f"module-level assignment at line {node.lineno}")
    assert not problems, f"{path.name} is not wiring only: " + ", ".join(problems)
    assert len(dag_functions) == 1, f"{path.name}: DAG functions {dag_functions}"


# Runs in a fresh interpreter: the parent test process may already hold heavy modules.
_PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({
    "errors": {k: v[-2000:] for k, v in bag.import_errors.items()},
    "dags": sorted(bag.dags),
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2].split(",")),
}))
"""


def _parse_in_subprocess(tmp_path: Path, **env: str) -> dict:
    environ = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        **env,
    }
    proc = subprocess.run(
        [sys.executable, "-c", _PARSE, str(DAGS), ",".join(HEAVY)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_parsing_imports_no_heavy_library(tmp_path: Path) -> None:
    out = _parse_in_subprocess(tmp_path)
    assert out["errors"] == {}
    assert "churn__ingest" in out["dags"]
    assert out["heavy"] == []


def test_parsing_needs_no_database_or_connection(tmp_path: Path) -> None:
    # A metadata DB that cannot be opened (its folder does not exist), and no connections or variables defined: a DAG file that
    # looks up either at parse time fails to import here.
    out = _parse_in_subprocess(
        tmp_path,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path}/no-such-dir/airflow.db",
        AIRFLOW__SECRETS__BACKEND="",
    )
    assert out["errors"] == {}
    assert "churn__ingest" in out["dags"]


# -- many pipelines ------------------------------------------------------------------------------


def _pipeline_folder(tmp_path: Path, **configs: dict) -> Path:
    """A configs folder: churn.yaml as is, and variants of it by file name (``overrides``)."""
    base = yaml.safe_load((REPO / "configs" / "churn.yaml").read_text())
    folder = tmp_path / "configs"
    (folder / "examples").mkdir(parents=True)
    (folder / "examples" / "not_a_pipeline.yaml").write_text("name: ignored\n")  # subfolder
    (folder / "README.md").write_text("not a config")
    for stem, overrides in configs.items():
        cfg = {**base, **overrides}
        (folder / f"{stem}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return folder


def test_repo_configs_folder_gives_each_pipeline_a_full_set_of_dags(tmp_path: Path) -> None:
    out = _parse_in_subprocess(tmp_path, DRIFTLOOP_CONFIGS=str(REPO / "configs"))
    assert out["errors"] == {}
    pipelines = ("churn", "churn_eu")
    assert out["dags"] == sorted(dag_id(p, s) for p in pipelines for s in STAGES)


def test_two_pipelines_have_distinct_ids_assets_and_schedules(tmp_path: Path, monkeypatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    folder = _pipeline_folder(
        tmp_path,
        churn={"storage": {"root": str(tmp_path / "churn")}},
        fraud={
            "name": "fraud",
            "storage": {"root": str(tmp_path / "fraud")},
            "schedule": {"start_date": "2025-06-01", "interval": "0 6 * * *", "catchup": False},
        },
    )
    monkeypatch.setenv("DRIFTLOOP_CONFIGS", str(folder))
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert sorted(bag.dags) == sorted(dag_id(p, s) for p in ("churn", "fraud") for s in STAGES)

    def assets(pipeline: str) -> set[str]:
        found = set()
        for stage in STAGES:
            dag = bag.dags[dag_id(pipeline, stage)]
            found |= {a.uri for t in dag.tasks for a in t.outlets}
        return found

    churn, fraud = assets("churn"), assets("fraud")
    assert churn and fraud and not churn & fraud
    assert all(uri.startswith("x-driftloop://fraud/") for uri in fraud)
    score = bag.dags["fraud__score"]
    # New data, and a promotion (which scores the backlog of days validated before it).
    assert [a.name for a in score.timetable.asset_condition.objects] == [
        "fraud.validated",
        "fraud.model",
    ]
    ingest = bag.dags["fraud__ingest"]
    assert (ingest.start_date.date().isoformat(), ingest.catchup) == ("2025-06-01", False)
    assert ingest.schedule == "0 6 * * *"
    assert "pipeline:fraud" in ingest.tags
    # drift_check starts its own pipeline's train
    trigger = bag.dags["fraud__drift_check"].get_task("trigger_train")
    assert trigger.trigger_dag_id == "fraud__train"


def test_a_broken_config_is_an_import_error_and_hides_no_other_pipeline(tmp_path: Path) -> None:
    folder = _pipeline_folder(
        tmp_path,
        churn={"storage": {"root": str(tmp_path / "churn")}},
        broken={
            "name": "broken",
            "storage": {"root": str(tmp_path / "broken")},
            "training": {"window_days": 1},
        },
        clash={"name": "clash", "storage": {"root": str(tmp_path / "churn")}},
    )
    out = _parse_in_subprocess(tmp_path, DRIFTLOOP_CONFIGS=str(folder))
    assert out["dags"] == sorted(dag_id("churn", s) for s in STAGES)
    # Only the DAG-less file has the error: Airflow marks every DAG of a file with one stale.
    assert list(out["errors"]) == [str(CONFIG_CHECK)]
    (error,) = out["errors"].values()
    assert f"invalid config {folder / 'broken.yaml'}" in error
    assert "training.window_days" in error
    assert f"invalid config {folder / 'clash.yaml'}" in error
    assert f"storage.root: same as {folder / 'churn.yaml'}" in error
