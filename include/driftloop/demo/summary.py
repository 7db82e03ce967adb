"""Outputs of the closed-loop demo: the per-day table, summary.json, summary.png, summary.html."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLUMNS = (
    ("day", "day", 10),
    ("rows", "rows", 6),
    ("validation", "validation", 11),
    ("drift_share", "drift", 6),
    # The primary metric estimated for the day itself, before its labels (the champion's scores).
    ("estimated_metric", "est", 13),
    # The primary metric of the pipeline on the newly labelled day (its name: ``live_metric_name``).
    ("live_metric", "live", 13),
    ("champion_version", "champion", 8),
    ("action", "action", 0),
)
# Known only once the day's labels have landed, so in the summary files, not in the running table:
# the realised metric of the day (same model version as its estimate) and estimated - realised.
SETTLED = (("realised_metric", "realised", 13), ("estimation_error", "est error", 9))
METRIC_KEYS = ("estimated_metric", "live_metric", "realised_metric")


# What two demo runs must share for their retrain days to compare (a config setting aside).
COMPARABLE = ("scenario", "seed", "start", "drift_start", "rows_per_day")


def load_baseline(path: Path, run: dict[str, Any]) -> dict[str, Any]:
    """The meta of the baseline run's summary.json at ``path``, checked to be the same simulation
    as ``run`` (its ``COMPARABLE`` facts: scenario, seed, first day, drift onset, rows a day; the
    number of days may differ), so that only the config differs (e.g.
    ``retrain.estimated_drop_signal`` off in the baseline)."""
    meta: dict[str, Any] = json.loads(Path(path).read_text())["meta"]
    differ = [
        f"{k} {meta.get(k)!r} vs {run.get(k)!r}" for k in COMPARABLE if meta.get(k) != run.get(k)
    ]
    if differ:
        raise ValueError(f"baseline {path} is another simulation: {'; '.join(differ)}")
    return meta


def days_saved(meta: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """How many days sooner than the baseline run the first retrain after the drift onset started
    (negative: later; None when either run did not retrain after the onset)."""
    ours, theirs = meta.get("retrain_after_onset_days"), baseline.get("retrain_after_onset_days")
    saved = None if ours is None or theirs is None else theirs - ours
    return {"baseline_retrain_after_onset_days": theirs, "days_saved": saved}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _titles(
    live_metric_name: str | None, columns: Sequence[tuple[str, str, int]] = COLUMNS
) -> list[tuple[str, int]]:
    """Column titles; the metric columns are named by their metric (e.g. ``live roc_auc``)."""
    return [
        (f"{t} {live_metric_name}" if key in METRIC_KEYS and live_metric_name else t, w)
        for key, t, w in columns
    ]


def _summary_columns() -> tuple[tuple[str, str, int], ...]:
    """The columns of summary.html: the table's, with the settled ones after the estimate."""
    at = [key for key, _, _ in COLUMNS].index("estimated_metric") + 1
    return (*COLUMNS[:at], *SETTLED, *COLUMNS[at:])


def estimation_lines(
    rows: Sequence[dict[str, Any]], mae: float | None, metric: str | None
) -> list[str]:
    """The estimator's record as text: per estimated day, estimated vs realised, then the MAE.

    ``rows`` are :class:`driftloop.monitor.estimation_error.EstimationRow` dicts.
    """
    if not rows:
        return []
    name = metric or "metric"
    widths = (10, 8, 6, 16, 16, 9)
    titles = ("day", "model", "method", f"est {name}", f"realised {name}", "error")
    lines = ["  ".join(t.ljust(w) for t, w in zip(titles, widths, strict=True))]
    for r in rows:
        version = f"v{r['model_version']}" if r.get("model_version") else None
        cells = (r["date"], version, r.get("method"), r.get("estimated"), r.get("realised"),
                 r.get("error"))  # fmt: skip
        lines.append("  ".join(_cell(c).ljust(w) for c, w in zip(cells, widths, strict=True)))
    settled = sum(r.get("error") is not None for r in rows)
    lines.append(
        f"estimator mean absolute error: {_cell(mae)} over {settled} labelled day(s) "
        f"of {len(rows)} estimated"
    )
    return lines


def header(live_metric_name: str | None = None) -> str:
    """The table's header; ``live_metric_name`` names the live column's metric (the pipeline's
    primary metric: roc_auc, macro_f1, rmse...)."""
    return "  ".join(
        title.ljust(width) if width else title for title, width in _titles(live_metric_name)
    )


def format_row(record: dict[str, Any]) -> str:
    """One line of the demo table."""
    return "  ".join(
        _cell(record.get(key)).ljust(width) if width else _cell(record.get(key))
        for key, _, width in COLUMNS
    )


def write_summary(
    records: Sequence[dict[str, Any]], out: Path, meta: dict[str, Any]
) -> dict[str, Path]:
    """Write summary.json, summary.png and summary.html into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "summary.json", "png": out / "summary.png", "html": out / "summary.html"}
    paths["json"].write_text(
        json.dumps({"meta": meta, "days": list(records)}, indent=2, default=str)
    )
    _plot(records, paths["png"], meta)
    paths["html"].write_text(_html(records, meta))
    return paths


def _series(records: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [float("nan") if r.get(key) is None else float(r[key]) for r in records]


def _plot(records: Sequence[dict[str, Any]], path: Path, meta: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = list(range(len(records)))
    labels = [str(r["day"]) for r in records]
    metric = meta.get("live_metric_name") or "metric"
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    ax1.plot(x, _series(records, "drift_share"), marker=".", color="tab:orange")
    ax1.set_ylabel("share of drifted features")
    ax1.set_ylim(-0.02, 1.02)
    if any(r.get("estimated_metric") is not None for r in records):
        # Each day's own metric: estimated on the day, realised once its labels landed.
        ax2.plot(x, _series(records, "realised_metric"), marker=".", color="tab:blue",
                 label=f"realised {metric}")  # fmt: skip
        ax2.plot(x, _series(records, "estimated_metric"), marker="x", ms=4, ls="--",
                 color="tab:orange", label=f"estimated {metric} (before labels)")  # fmt: skip
        mae = meta.get("estimator_mae")
        title = f"{metric} of each day" + (f" (estimator MAE {mae:.4f})" if mae is not None else "")
        ax2.set_title(title, fontsize=9, loc="left")
        ax2.legend(fontsize=8, loc="lower left")
        ax2.set_ylabel(metric)
    else:
        ax2.plot(x, _series(records, "live_metric"), marker=".", color="tab:blue")
        ax2.set_ylabel(f"live {metric} (labelled day)")
    for ax in (ax1, ax2):
        for i, r in enumerate(records):
            if r.get("validation") == "quarantined":
                ax.axvspan(i - 0.5, i + 0.5, color="tab:red", alpha=0.15, lw=0)
            if r.get("retrain_triggered"):
                ax.axvline(i, color="tab:purple", ls="--", lw=1)
            if r.get("promoted"):
                ax.axvline(i, color="tab:green", lw=2)
        ax.grid(alpha=0.3)
    if meta.get("drift_start") in labels:
        for ax in (ax1, ax2):
            ax.axvline(labels.index(meta["drift_start"]), color="black", ls=":", lw=1)
    step = max(1, len(x) // 12)
    ax2.set_xticks(x[::step], labels[::step], rotation=30, ha="right")
    what = meta.get("scenario") or Path(str(meta.get("source") or "")).name
    fig.suptitle(
        f"driftloop {meta.get('mode') or 'demo'}: {what}"
        "\n(dotted: drift start, dashed: retrain triggered, green: promotion, red: quarantined)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _html(records: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    columns = _summary_columns()
    titles = _titles(meta.get("live_metric_name"), columns)
    head = "".join(f"<th>{html.escape(title)}</th>" for title, _ in titles)
    rows = []
    for r in records:
        cls = "q" if r.get("validation") == "quarantined" else ("p" if r.get("promoted") else "")
        cells = "".join(f"<td>{html.escape(_cell(r.get(key)))}</td>" for key, _, _ in columns)
        rows.append(f'<tr class="{cls}">{cells}</tr>')
    facts = "".join(
        f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>" for k, v in meta.items()
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>driftloop demo</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;font-size:13px}}
tr.q{{background:#fde2e2}}tr.p{{background:#e2f7e2}}</style></head>
<body><h1>driftloop demo</h1><ul>{facts}</ul>
<img src="summary.png" alt="drift and the live metric over time" style="max-width:100%">
<table><tr>{head}</tr>{"".join(rows)}</table></body></html>
"""
