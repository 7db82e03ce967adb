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
    # The primary metric of the pipeline on the newly labelled day (its name: ``live_metric_name``).
    ("live_metric", "live", 13),
    ("champion_version", "champion", 8),
    ("action", "action", 0),
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _titles(live_metric_name: str | None) -> list[tuple[str, int]]:
    """Column titles; the live column is named by its metric (e.g. ``live roc_auc``)."""
    return [
        (f"{t} {live_metric_name}" if key == "live_metric" and live_metric_name else t, w)
        for key, t, w in COLUMNS
    ]


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


def _plot(records: Sequence[dict[str, Any]], path: Path, meta: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = list(range(len(records)))
    labels = [str(r["day"]) for r in records]
    drift = [r.get("drift_share") for r in records]
    live = [r.get("live_metric") for r in records]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    ax1.plot(
        x, [d if d is not None else float("nan") for d in drift], marker=".", color="tab:orange"
    )
    ax1.set_ylabel("share of drifted features")
    ax1.set_ylim(-0.02, 1.02)
    ax2.plot(x, [a if a is not None else float("nan") for a in live], marker=".", color="tab:blue")
    ax2.set_ylabel(f"live {meta.get('live_metric_name') or 'metric'} (labelled day)")
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
    fig.suptitle(
        f"driftloop demo: scenario {meta.get('scenario')} (dotted: drift start, dashed: retrain "
        "triggered, green: promotion, red: quarantined)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _html(records: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    titles = _titles(meta.get("live_metric_name"))
    head = "".join(f"<th>{html.escape(title)}</th>" for title, _ in titles)
    rows = []
    for r in records:
        cls = "q" if r.get("validation") == "quarantined" else ("p" if r.get("promoted") else "")
        cells = "".join(f"<td>{html.escape(_cell(r.get(key)))}</td>" for key, _, _ in COLUMNS)
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
