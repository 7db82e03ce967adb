"""Benchmark of the drift check: 1,000,000 reference and 1,000,000 current rows x 20 features.

Prints one JSON document::

    {"profile_build_s", "profile_peak_rss_mb", "check_s", "check_peak_rss_mb",
     "flagged": [...], "expected": [...], "rows": ..., ...}

Each phase runs in its own freshly spawned process, which reports its own peak resident set size
(``ru_maxrss`` of RUSAGE_SELF); the figure includes the interpreter and numpy/pandas/pyarrow, with
nothing subtracted. The data is written to parquet in a temp dir first (by another process), and
both phases stream it with ``ParquetFile.iter_batches``, so the check's memory stays flat in the
number of rows. Times cover the phase's work (reading, counting, statistics), not interpreter start and imports.

Usage: ``python bench/drift.py [--rows N] [--batch-size N]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

N_NUMERIC = 15
N_CATEGORICAL = 5
SHIFTED_NUMERIC = {"num_03": "mean +1 sd", "num_07": "sd x2", "num_11": "lognormal x1.6"}
SHIFTED_CATEGORICAL = {"cat_2": "frequencies reversed"}
ROW_GROUP = 131_072
CATEGORIES = [
    ["a", "b", "c"],
    ["north", "south", "east", "west"],
    ["p0", "p1", "p2", "p3", "p4", "p5"],
    ["x", "y"],
    [f"k{i}" for i in range(8)],
]


def bench_config() -> Any:
    """A pipeline config for the 20 synthetic features (built in code, not from YAML)."""
    from driftloop.core.config import parse_config

    features = [{"name": f"num_{i:02d}", "type": "numeric"} for i in range(N_NUMERIC)]
    features += [
        {"name": f"cat_{i}", "type": "categorical", "categories": CATEGORIES[i]}
        for i in range(N_CATEGORICAL)
    ]
    return parse_config(
        {
            "name": "bench",
            "dataset": {
                "id_column": "id",
                "timestamp_column": "ts",
                "target": "y",
                "features": features,
            },
            "storage": {"root": tempfile.gettempdir()},
            "validation": {"suite": "bench"},
        },
        environ={},
    )


def _write(path: Path, rows: int, seed: int, shifted: bool, row_group: int) -> None:
    """Write ``rows`` synthetic rows in row groups (never the whole table in memory)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    try:
        for start in range(0, rows, row_group):
            n = min(row_group, rows - start)
            cols: dict[str, Any] = {}
            for i in range(N_NUMERIC):
                name = f"num_{i:02d}"
                kind = i % 3
                if kind == 0:
                    x = rng.normal(10 * i, 1 + i, n)
                elif kind == 1:
                    x = rng.lognormal(1.0, 0.5, n)
                else:
                    x = rng.poisson(3 + i, n).astype(np.float64)
                if shifted and name == "num_03":
                    x = x + (1 + i)
                elif shifted and name == "num_07":
                    x = x.mean() + (x - x.mean()) * 2
                elif shifted and name == "num_11":
                    x = x * 1.6
                x[rng.random(n) < 0.01] = np.nan  # some missing values on both sides
                cols[name] = x
            for i, cats in enumerate(CATEGORIES):
                p = np.linspace(1, 2, len(cats))
                if shifted and i == 2:
                    p = p[::-1] ** 3
                idx = rng.choice(len(cats), size=n, p=p / p.sum())
                values = np.asarray(cats, dtype=object)[idx]
                if shifted:  # a trickle of categories never seen in training
                    values[rng.random(n) < 0.0005] = "new"
                cols[f"cat_{i}"] = pa.array(values, type=pa.string())
            table = pa.table(cols)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB elsewhere


def _phase_data(workdir: str, rows: int, row_group: int, out: Any) -> None:
    _write(Path(workdir) / "reference.parquet", rows, 1, False, row_group)
    _write(Path(workdir) / "current.parquet", rows, 2, True, row_group)
    out.put({"data_peak_rss_mb": _peak_rss_mb()})


def _warm_imports() -> None:
    """Import what the phase uses before timing it: module loading is not the phase's work."""
    import pandas  # noqa: F401  (pyarrow's numpy conversion pulls it in on first use)
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401

    import driftloop.drift  # noqa: F401


def _batches(path: Path, batch_size: int) -> Any:
    import pyarrow.parquet as pq

    # No pre-buffering: read one column chunk at a time, keeping the reader's memory small.
    return pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size)


def _phase_profile(workdir: str, batch_size: int, out: Any) -> None:
    from driftloop.drift import build_profile

    _warm_imports()
    cfg = bench_config()
    t0 = time.perf_counter()
    batches = _batches(Path(workdir) / "reference.parquet", batch_size)
    profile = build_profile(batches, cfg)
    (Path(workdir) / "profile.json").write_text(profile.to_json())
    out.put({"profile_build_s": time.perf_counter() - t0, "profile_peak_rss_mb": _peak_rss_mb()})


def _phase_check(workdir: str, batch_size: int, out: Any) -> None:
    from driftloop.drift import Accumulator, Profile, detect

    _warm_imports()
    cfg = bench_config()
    t0 = time.perf_counter()
    profile = Profile.from_json((Path(workdir) / "profile.json").read_text())
    acc = Accumulator(profile)
    for batch in _batches(Path(workdir) / "current.parquet", batch_size):
        acc.update(batch)
    result = detect(profile, acc, cfg)
    elapsed = time.perf_counter() - t0
    out.put(
        {
            "check_s": elapsed,
            "check_peak_rss_mb": _peak_rss_mb(),
            "flagged": result.drifted,
            "status": result.status,
            "n_current": result.n_current,
            "max_psi_unshifted": max(f.psi for f in result.features if f.name not in _expected()),
        }
    )


def _expected() -> list[str]:
    return sorted([*SHIFTED_NUMERIC, *SHIFTED_CATEGORICAL])


def _run(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")  # a fresh process: no memory inherited from the parent
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    result = q.get()
    p.join()
    if p.exitcode != 0:
        raise RuntimeError(f"{target.__name__} exited with {p.exitcode}")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=65_536)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as workdir:
        out: dict[str, Any] = {"rows": args.rows, "features": N_NUMERIC + N_CATEGORICAL}
        out |= _run(_phase_data, workdir, args.rows, ROW_GROUP)
        out |= _run(_phase_profile, workdir, args.batch_size)
        out |= _run(_phase_check, workdir, args.batch_size)
    out["expected"] = _expected()
    out["flagged"] = sorted(out["flagged"])
    out["exact"] = out["flagged"] == out["expected"]
    out["batch_size"] = args.batch_size
    for k, v in list(out.items()):
        if isinstance(v, float):
            out[k] = round(v, 3)
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0 if out["exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
