"""Benchmark of batch scoring: ``score_partition`` (Parquet in, Parquet out) vs raw ``predict_proba``.

A champion is trained first (default estimator, 10 small synthetic days, real MLflow on a sqlite
store in a temp dir). Then, for a 1M-row validated partition, fresh processes measure:
- ``score_partition``: peak RSS after the first run;
- then ``--repeats`` rounds, in the same process, of ``score_partition`` and of the same model's
  ``predict_proba`` on the same rows already in memory (after a warm-up), interleaved so that both
  see the same load: the medians' ratio is score_partition's rows/s as a share of
  ``predict_proba``'s (goal >= 0.8x);
and ``score_partition``'s peak RSS on a 10M-row partition (goal: <= 1.1x the 1M figure).

Usage: ``python bench/scoring.py [--quick] [--rows N] [--large-rows N] [--repeats N]``
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from _common import (
    emit,
    goal,
    in_child,
    isolated_driftloop,
    parser,
    peak_rss_mb,
    timed,
    train_champion,
    write_validated,
)

DAY = date(2026, 2, 1)


def _phase_setup(state: str, sizes: list[int]) -> dict[str, Any]:
    cfg = isolated_driftloop(Path(state))
    version = train_champion(cfg)
    rows = {}
    for i, n in enumerate(sizes):
        rows[str(n)] = write_validated(cfg, date(DAY.year, DAY.month, DAY.day + i), n)
    return {"model_version": version, "rows": rows}


def _phase_score(state: str, day: date, repeats: int) -> dict[str, Any]:
    """Peak RSS after a first ``score_partition``; then (``repeats``) ``score_partition`` and the
    model's ``predict_proba`` on the same rows in memory, interleaved in this process so that both
    see the same machine load (the frame is read after the RSS figure is taken)."""
    import statistics

    cfg = isolated_driftloop(Path(state))
    from driftloop.core.storage import VALIDATED, open_store
    from driftloop.model.model_io import load_model
    from driftloop.model.scoring import resolve_model, score_partition

    model = load_model(cfg, resolve_model(cfg).version)  # imports and loading are not the work
    t0 = time.perf_counter()
    result = score_partition(cfg, day)
    first = time.perf_counter() - t0
    out = {"score_peak_rss_mb": peak_rss_mb(), "scored_rows": result.rows, "score_s": first}
    if repeats:
        frame = open_store(cfg.storage).read_table(VALIDATED, day)[cfg.dataset.feature_names]
        model.predict_proba(frame)  # warm-up
        scores, raws = [], []
        for _ in range(repeats):
            scores.append(timed(lambda: score_partition(cfg, day), 1, warmup=0)[0])
            raws.append(timed(lambda: model.predict_proba(frame), 1, warmup=0)[0])
        out |= {"score_s": statistics.median(scores), "predict_proba_s": statistics.median(raws)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--rows", type=int, default=None, help="the timed size (1M)")
    ap.add_argument("--large-rows", type=int, default=None, help="the memory point (10M; 0: skip)")
    args = ap.parse_args(argv)
    rows = args.rows or (20_000 if args.quick else 1_000_000)
    large = args.large_rows if args.large_rows is not None else 10 * rows
    repeats = 1 if args.quick else args.repeats
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as state:
        setup = in_child(_phase_setup, state, [rows, large] if large else [rows])
        out["model_version"] = setup["model_version"]
        out["rows"] = setup["rows"][str(rows)]
        out |= in_child(_phase_score, state, DAY, max(repeats, 1))
        if large:
            big = in_child(_phase_score, state, date(DAY.year, DAY.month, DAY.day + 1), 0)
            out["large_rows"] = big["scored_rows"]
            out["large_score_s"] = big["score_s"]
            out["large_score_peak_rss_mb"] = big["score_peak_rss_mb"]
            out["large_rss_ratio"] = goal(big["score_peak_rss_mb"] / out["score_peak_rss_mb"], 1.1)
    out["score_rows_per_s"] = out["rows"] / out["score_s"]
    out["predict_proba_rows_per_s"] = out["rows"] / out["predict_proba_s"]
    out["score_vs_predict_proba"] = goal(
        out["predict_proba_s"] / out["score_s"], 0.8, at_most=False
    )
    emit("scoring", out, save=not args.no_save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
