"""Benchmark of DAG parsing: the whole dags/ folder with ``DagBag`` in a fresh interpreter.

Each measurement is a new Python process (median of ``--repeats`` after a warm-up that fills the
bytecode cache) which imports Airflow, then fills a ``DagBag`` of dags/ and reports how long that
took, beside the time of importing Airflow itself and the whole process wall time. It is measured
with one pipeline configured (``configs/churn.yaml``) and with ``--pipelines`` (default 10) copies of
it in a configs folder (``DRIFTLOOP_CONFIGS``), each with its own name and storage root: every
pipeline gets the five DAGs. Goal: <= 1 s to fill the DagBag with 10 pipelines (what the
dag-processor pays for the folder).

Usage: ``python bench/dag_parsing.py [--quick] [--repeats N] [--pipelines N]``
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from _common import REPO, emit, goal, parser

DAGS = REPO / "dags"

_PARSE = """
import json, sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({
    "import_airflow_s": t1 - t0,
    "dagbag_s": t2 - t1,
    "dags": sorted(bag.dags),
    "errors": sorted(bag.import_errors),
    "per_file_s": {s.file.rsplit("/", 1)[-1]: s.duration.total_seconds() if hasattr(s.duration, "total_seconds") else s.duration for s in bag.dagbag_stats},
}))
"""


def _parse_once(env: dict[str, str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PARSE, str(DAGS)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"parsing failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    if result["errors"]:
        raise RuntimeError(f"DAG import errors: {result['errors']}")
    return result


def _configs(folder: Path, n: int) -> Path:
    """``n`` copies of the churn config in ``folder``, each its own pipeline (name, storage root)."""
    base = yaml.safe_load((REPO / "configs" / "churn.yaml").read_text())
    folder.mkdir(parents=True)
    for i in range(n):
        name = f"churn{i:02d}"
        cfg = {**base, "name": name, "storage": {**base["storage"], "root": f"/tmp/{name}"}}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    return folder


def _measure(env: dict[str, str], repeats: int) -> dict[str, Any]:
    _parse_once(env)  # warm-up: bytecode cache, disk cache
    runs = [_parse_once(env) for _ in range(repeats)]
    med = {
        k: statistics.median(r[k] for r in runs)
        for k in ("dagbag_s", "import_airflow_s", "process_s")
    }
    return {
        "dags": runs[-1]["dags"],
        "dagbag_fill_s": med["dagbag_s"],
        "import_airflow_s": med["import_airflow_s"],
        "fresh_process_s": med["process_s"],
        "per_file_s": runs[-1]["per_file_s"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument(
        "--pipelines", type=int, default=10, help="pipelines of the many-pipelines point"
    )
    args = ap.parse_args(argv)
    repeats = 1 if args.quick else max(args.repeats, 5)
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as tmp:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(Path(tmp) / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONPYCACHEPREFIX": os.environ.get(
                "PYTHONPYCACHEPREFIX", str(REPO / ".driftloop" / "pycache")
            ),
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("DRIFTLOOP_CONFIGS", None)
        for key in [k for k in env if k.startswith("DRIFTLOOP__")]:  # would apply to every config
            del env[key]
        one = _measure({**env, "DRIFTLOOP_CONFIG": str(REPO / "configs" / "churn.yaml")}, repeats)
        folder = _configs(Path(tmp) / "configs", args.pipelines)
        many = _measure({**env, "DRIFTLOOP_CONFIGS": str(folder)}, repeats)
    out = {
        "pipelines": args.pipelines,
        "dags": len(many["dags"]),
        "runs": repeats,
        "dagbag_fill_s": goal(many["dagbag_fill_s"], 1.0, unit=" s"),
        "one_pipeline": one,
        "many_pipelines": {k: v for k, v in many.items() if k != "dags"},
    }
    emit("dag_parsing", out, save=not args.no_save, extra_packages=("apache-airflow",))
    return 0


if __name__ == "__main__":
    sys.exit(main())
