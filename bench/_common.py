"""Shared helpers of the benchmarks in bench/: timing, peak RSS in fresh processes, JSON output.

Every script prints ONE JSON object on stdout and writes the same object to
``bench/results/<name>.json`` (git-ignored). Figures that have a goal are reported as
``{"value", "goal", "meets_goal"}`` (see ``goal``), so a reader never has to look the goal up.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent
KEY_PACKAGES = ("numpy", "pandas", "pyarrow", "scikit-learn", "great-expectations", "mlflow")


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (interpreter and imports included)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB elsewhere


def timed(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls; and its last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what is printed meanwhile (MLflow's run links, library output) to stderr, at the
    file-descriptor level, so that stdout carries only the benchmark's JSON object."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _child(target: Callable[..., dict[str, Any]], args: tuple[Any, ...], q: Any) -> None:
    # The parent's stdout carries only its JSON object: what the phase prints (library logs,
    # Airflow's console output) goes to stderr, at the file-descriptor level.
    sys.stdout.flush()
    os.dup2(2, 1)
    try:
        out = target(*args)
        q.put({"ok": True, **out})
    except BaseException as err:  # reported to the parent, which raises
        q.put({"ok": False, "error": f"{type(err).__name__}: {err}"})
        raise


def in_child(target: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``target(*args)`` in a freshly spawned process; return its dict (must be picklable).

    A fresh process inherits no memory from the parent, so ``peak_rss_mb()`` called inside the
    target measures that phase alone (plus the interpreter and its imports).
    """
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(target, args, q))
    p.start()
    result = q.get()
    p.join()
    if not result.pop("ok") or p.exitcode != 0:
        raise RuntimeError(f"{target.__name__} failed: {result.get('error', p.exitcode)}")
    return result


def goal(value: float, limit: float, *, at_most: bool = True, unit: str = "") -> dict[str, Any]:
    """A figure beside its goal: ``value <= limit`` (or ``>=`` with ``at_most=False``)."""
    ok = value <= limit if at_most else value >= limit
    return {
        "value": round(value, 3),
        "goal": f"{'<=' if at_most else '>='} {limit}{unit}",
        "meets_goal": bool(ok),
    }


def versions(*extra: str) -> dict[str, str]:
    out = {}
    for name in (*KEY_PACKAGES, *extra):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict[str, Any]:
    """Cores, RAM, Python, and the load when the figures were taken (others may share the box)."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        ram = float("nan")
    try:
        uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    except OSError:
        uptime = ""
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(ram, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "uptime": uptime.strip(),
    }


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every script shares: ``--quick`` (small sizes, seconds) and ``--repeats``."""
    ap = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    ap.add_argument("--quick", action="store_true", help="small sizes: finishes in seconds")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs after one warm-up")
    ap.add_argument(
        "--no-save", action="store_true", help=f"do not write {RESULTS.name}/<name>.json"
    )
    return ap


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 3)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


def emit(
    name: str, figures: dict[str, Any], *, save: bool = True, extra_packages: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Print the benchmark's JSON object (figures + versions + machine) and save it under results/.

    ``meets_goal`` at the top is true when every figure with a goal meets it.
    """
    goals = [v["meets_goal"] for v in figures.values() if isinstance(v, dict) and "meets_goal" in v]
    doc = _rounded(
        {
            "benchmark": name,
            **figures,
            "meets_goal": all(goals),
            "versions": versions(*extra_packages),
            "machine": machine(),
        }
    )
    text = json.dumps(doc, indent=2, sort_keys=True)
    print(text)
    if save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{name}.json").write_text(text + "\n")
    return doc


def isolated_driftloop(state: Path, **overrides: Any) -> Any:
    """Point driftloop at ``state`` (storage, MLflow sqlite store, Data Docs, GX project) and load
    the demo config (configs/churn.yaml) with ``overrides`` (``validation__max_rows=...``).

    The overrides are exported as ``DRIFTLOOP__*`` variables, so code that reloads the config (DAG
    tasks, the CLI) sees the same. The GX suite is regenerated into ``state/gx`` from the effective
    config, because a changed ``max_rows`` no longer matches the committed suite. Returns the config.
    """
    from driftloop.core.config import load_config
    from driftloop.data.validation import write_gx_project

    state.mkdir(parents=True, exist_ok=True)
    env = {
        "DRIFTLOOP_HOME": str(state),
        "DRIFTLOOP__STORAGE__ROOT": str(state / "data"),
        "DRIFTLOOP__MLFLOW__TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}",
        "DRIFTLOOP__VALIDATION__DATA_DOCS_DIR": str(state / "data_docs"),
        "DRIFTLOOP__VALIDATION__GX_ROOT": str(state / "gx"),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        **{f"DRIFTLOOP__{k.upper()}": str(v) for k, v in overrides.items()},
    }
    os.environ.update(env)
    cfg = load_config()
    write_gx_project(cfg)
    return cfg


def train_champion(cfg: Any, days: int = 10, rows: int = 600) -> str:
    """Write ``days`` small labelled partitions (the tests' helper) and train, gate and promote a
    first model with the configured (default) estimator; returns the champion's version."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from driftloop.core.storage import open_store
    from driftloop.model.workflow import TrainRequest, train_gate_promote
    from tests.support.data import write_days

    write_days(open_store(cfg.storage), cfg, days, rows=rows)
    done = train_gate_promote(cfg, TrainRequest(reason="bench"), actor="bench", auto_promote="on")
    return str(done["train"]["model_version"])


def write_validated(cfg: Any, day: Any, rows: int, chunk: int = 250_000) -> int:
    """Write a validated partition of about ``rows`` synthetic rows for ``day``, chunk by chunk
    (never the whole day in memory); returns the row count."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import pyarrow as pa
    import pyarrow.parquet as pq

    from driftloop.core.partition import PART_FILE
    from driftloop.core.storage import VALIDATED, open_store
    from driftloop.data import synth
    from tests.support.data import validated_frame

    store = open_store(cfg.storage)
    store.write_partition(VALIDATED, day, {PART_FILE: b""})  # the marker; the file follows
    path = Path(cfg.storage.root) / store.key(VALIDATED, day, PART_FILE)
    written = 0
    writer = None
    try:
        for k, start in enumerate(range(0, rows, chunk)):
            batch = synth.generate_day(
                cfg, day, synth.Scenario(), seed=k, rows=min(chunk, rows - start)
            )
            df = validated_frame(cfg, batch)
            df[cfg.dataset.id_column] = df[cfg.dataset.id_column] + f"-{k}"
            table = pa.Table.from_pandas(df, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table)
            written += len(df)
    finally:
        if writer is not None:
            writer.close()
    return written
