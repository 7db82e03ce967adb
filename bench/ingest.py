"""Benchmark of ingest + validation: 1M- and 5M-row CSV (or Parquet) days through
``ingest_partition``.

For each size, a fresh process ingests the day (CSV -> raw Parquet -> GX validation -> validated
Parquet) and reports its peak RSS after the first run (goal: <= 600 MB at the largest size, and flat
in rows: largest / smallest <= 1.1x) and the median wall time of ``--repeats`` more runs. Another
fresh process reads the same file with ``pyarrow.csv.read_csv`` (median after a warm-up): ingest's
rows/s as a share of pyarrow's is reported as a ratio (informational, no goal).

The CSV is the synthetic churn feed (``driftloop.data.synth``, the columns of configs/churn.yaml)
generated in chunks with distinct ids; with ``--format parquet`` the same rows are delivered as
``features.parquet`` (typed as ingest stores them, row groups of 125k rows) and pyarrow's
reference is ``pyarrow.parquet.read_table``; ``validation.max_rows`` is raised through
``DRIFTLOOP__VALIDATION__MAX_ROWS`` and the GX suite regenerated into a temp GX root to match.

Usage: ``python bench/ingest.py [--quick] [--rows N ...] [--repeats N] [--format csv|parquet]``
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from _common import emit, goal, in_child, isolated_driftloop, parser, peak_rss_mb, timed

DAY = date(2026, 1, 15)
CHUNK = 250_000
RSS_GOAL_MB = 600


def _max_rows(rows: int) -> int:
    return 2 * rows + 1000  # synth varies a day's size by a few percent


def _phase_data(state: str, rows: int, fmt: str = "csv") -> dict[str, Any]:
    """Write ``landing/<DAY>/features.<fmt>`` of about ``rows`` rows, chunk by chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from driftloop.core.storage import LANDING_FEATURES, landing_prefix
    from driftloop.data import synth
    from driftloop.data.ingest import parse_features

    cfg = isolated_driftloop(Path(state), validation__max_rows=_max_rows(rows))
    path = Path(cfg.storage.root) / landing_prefix(DAY) / LANDING_FEATURES[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    writer: pq.ParquetWriter | None = None
    for k, start in enumerate(range(0, rows, CHUNK)):
        n = min(CHUNK, rows - start)
        df = synth.generate_day(cfg, DAY, synth.Scenario(), seed=k, rows=n).features
        df[cfg.dataset.id_column] = df[cfg.dataset.id_column] + f"-{k}"
        if fmt == "csv":
            with path.open("w" if k == 0 else "a") as f:
                df.to_csv(f, index=False, header=k == 0, lineterminator="\n")
        else:
            typed = parse_features(cfg, df.to_csv(index=False, lineterminator="\n").encode())
            table = pa.Table.from_pandas(typed, preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=CHUNK // 2)
        written += len(df)
    if writer is not None:
        writer.close()
    return {"rows": written, "file_mb": path.stat().st_size / 2**20, "file": str(path)}


def _phase_ingest(state: str, rows: int, repeats: int) -> dict[str, Any]:
    cfg = isolated_driftloop(Path(state), validation__max_rows=_max_rows(rows))
    import great_expectations  # noqa: F401  (imports are not the stage's work)
    from driftloop.data.ingest import ingest_partition

    t0 = time.perf_counter()
    result = ingest_partition(cfg, DAY)
    first = time.perf_counter() - t0
    rss = peak_rss_mb()
    if result.status != "validated":
        raise RuntimeError(f"the benchmark day was not validated: {result.message}")
    median = timed(lambda: ingest_partition(cfg, DAY), repeats, warmup=0)[0] if repeats else first
    return {"ingest_s": median, "ingest_peak_rss_mb": rss, "validated_rows": result.rows}


def _phase_arrow(path: str, repeats: int) -> dict[str, Any]:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    read = pq.read_table if path.endswith(".parquet") else pcsv.read_csv
    median, table = timed(lambda: read(path), repeats)
    return {"arrow_read_s": median, "arrow_rows": table.num_rows}


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--rows", type=int, nargs="+", help="day sizes (default 1M 5M)")
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv", help="delivery format")
    ap.set_defaults(repeats=1)
    args = ap.parse_args(argv)
    sizes = args.rows or ([5_000, 20_000] if args.quick else [1_000_000, 5_000_000])
    out: dict[str, Any] = {"sizes": {}}
    for rows in sizes:
        with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as state:
            data = in_child(_phase_data, state, rows, args.format)
            ingest = in_child(_phase_ingest, state, rows, args.repeats)
            arrow = in_child(_phase_arrow, data["file"], args.repeats)
        n = data["rows"]
        out["sizes"][str(rows)] = {
            "rows": n,
            "format": args.format,
            "file_mb": data["file_mb"],
            **ingest,
            "arrow_read_s": arrow["arrow_read_s"],
            "ingest_rows_per_s": n / ingest["ingest_s"],
            "arrow_rows_per_s": n / arrow["arrow_read_s"],
            "ingest_vs_arrow_throughput": n / ingest["ingest_s"] / (n / arrow["arrow_read_s"]),
        }
    small, large = out["sizes"][str(min(sizes))], out["sizes"][str(max(sizes))]
    out["largest_rows"] = large["rows"]
    out["peak_rss_largest_mb"] = goal(large["ingest_peak_rss_mb"], RSS_GOAL_MB, unit=" MB")
    out["peak_rss_growth"] = goal(large["ingest_peak_rss_mb"] / small["ingest_peak_rss_mb"], 1.1)
    emit("ingest", out, save=not args.no_save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
