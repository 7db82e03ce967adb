"""Benchmark of the drift check: 1M reference and 1M current rows x 20 features, plus a 10M point.

Prints one JSON object (see ``_common.emit``): profile build and check times, the check's peak RSS
at 1M and at 10M current rows (goal: the 10M figure <= 1.1x the 1M one) and the check's time as a
multiple of a plain pyarrow scan of the same columns with the same batches (goal: <= 3x).

Each phase runs in its own freshly spawned process, which reports its own peak resident set size
(``ru_maxrss`` of RUSAGE_SELF) after its first run; the figure includes the interpreter and
numpy/pandas/pyarrow, with nothing subtracted. The data is written to parquet in a temp dir first
(by another process), and the phases stream it with ``ParquetFile.iter_batches``. Times are medians
of ``--repeats`` runs after a warm-up and cover the work (reading, counting, statistics), not
interpreter start and imports.

Usage: ``python bench/drift.py [--quick] [--rows N] [--large-rows N] [--batch-size N]``
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, goal, in_child, parser, peak_rss_mb, timed

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


def _phase_data(workdir: str, rows: int, large_rows: int, row_group: int) -> dict[str, Any]:
    _write(Path(workdir) / "reference.parquet", rows, 1, False, row_group)
    _write(Path(workdir) / "current.parquet", rows, 2, True, row_group)
    if large_rows:
        _write(Path(workdir) / "current_large.parquet", large_rows, 3, True, row_group)
    return {"data_peak_rss_mb": peak_rss_mb()}


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


def _phase_profile(workdir: str, batch_size: int) -> dict[str, Any]:
    from driftloop.drift import build_profile

    _warm_imports()
    cfg = bench_config()
    t0 = time.perf_counter()
    batches = _batches(Path(workdir) / "reference.parquet", batch_size)
    profile = build_profile(batches, cfg)
    (Path(workdir) / "profile.json").write_text(profile.to_json())
    return {"profile_build_s": time.perf_counter() - t0, "profile_peak_rss_mb": peak_rss_mb()}


def _check(workdir: str, current: str, batch_size: int) -> Any:
    from driftloop.drift import Accumulator, Profile, detect

    profile = Profile.from_json((Path(workdir) / "profile.json").read_text())
    acc = Accumulator(profile)
    for batch in _batches(Path(workdir) / current, batch_size):
        acc.update(batch)
    return detect(profile, acc, bench_config())


def _phase_check(workdir: str, current: str, batch_size: int, repeats: int) -> dict[str, Any]:
    """Peak RSS after the first (warm-up) check of this fresh process; median of ``repeats`` more."""
    _warm_imports()
    t0 = time.perf_counter()
    result = _check(workdir, current, batch_size)
    first = time.perf_counter() - t0
    rss = peak_rss_mb()
    median = (
        timed(lambda: _check(workdir, current, batch_size), repeats, warmup=0)[0]
        if repeats
        else first
    )
    return {
        "check_s": median,
        "check_peak_rss_mb": rss,
        "flagged": sorted(result.drifted),
        "status": result.status,
        "n_current": result.n_current,
        "max_psi_unshifted": max(f.psi for f in result.features if f.name not in _expected()),
    }


def _scan(path: Path, batch_size: int) -> int:
    """The I/O floor: read the same 20 columns with the same batches, and touch every batch."""
    return sum(batch.num_rows for batch in _batches(path, batch_size))


def _phase_scan(workdir: str, batch_size: int, repeats: int) -> dict[str, Any]:
    _warm_imports()
    path = Path(workdir) / "current.parquet"
    median = timed(lambda: _scan(path, batch_size), repeats)[0]
    return {"scan_s": median}


def _expected() -> list[str]:
    return sorted([*SHIFTED_NUMERIC, *SHIFTED_CATEGORICAL])


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--rows", type=int, default=None, help="rows of reference and current (1M)")
    ap.add_argument("--large-rows", type=int, default=None, help="the memory point (10M; 0: skip)")
    ap.add_argument("--batch-size", type=int, default=65_536)
    args = ap.parse_args(argv)
    rows = args.rows or (20_000 if args.quick else 1_000_000)
    large = args.large_rows if args.large_rows is not None else (10 * rows)
    repeats = 1 if args.quick else args.repeats
    out: dict[str, Any] = {"rows": rows, "large_rows": large, "batch_size": args.batch_size}
    out["features"] = N_NUMERIC + N_CATEGORICAL
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as workdir:
        out |= in_child(_phase_data, workdir, rows, large, ROW_GROUP)
        out |= in_child(_phase_profile, workdir, args.batch_size)
        out |= in_child(_phase_check, workdir, "current.parquet", args.batch_size, repeats)
        out |= in_child(_phase_scan, workdir, args.batch_size, repeats)
        if large:
            big = in_child(_phase_check, workdir, "current_large.parquet", args.batch_size, 0)
            out["large_check_s"] = big["check_s"]
            out["large_check_peak_rss_mb"] = big["check_peak_rss_mb"]
            out["large_exact"] = big["flagged"] == _expected()
            out["large_rss_ratio"] = goal(big["check_peak_rss_mb"] / out["check_peak_rss_mb"], 1.1)
    out["expected"] = _expected()
    out["exact"] = out["flagged"] == out["expected"]
    out["check_vs_scan"] = goal(out["check_s"] / out["scan_s"], 3.0)
    emit("drift", out, save=not args.no_save)
    return 0 if out["exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
