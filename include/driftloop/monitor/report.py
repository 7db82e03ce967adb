"""The daily drift report: ``monitoring/drift/date=<day>/report.json`` and ``report.html``.

report.json is the machine-readable record (what the DAG and the plugin link to); report.html is a
self-contained page for humans: the decision and its reason, a per-feature table, reference vs
current distributions as inline PNG bar plots, and the performance section. Both are written in
one atomic partition write, so a rerun of the day replaces them together.
"""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import date
from typing import TYPE_CHECKING, Any

from driftloop.core.storage import DRIFT, Store

if TYPE_CHECKING:
    from driftloop.monitor.monitoring import MonitoringReport
    from driftloop.monitor.policy import RetrainDecision

JSON_NAME = "report.json"
HTML_NAME = "report.html"


def report_dict(report: MonitoringReport, decision: RetrainDecision) -> dict[str, Any]:
    """The body of report.json: the monitoring findings plus the decision."""
    return {**report.to_dict(), "decision": decision.to_dict()}


def write_report(
    store: Store,
    day: str | date,
    report: MonitoringReport,
    decision: RetrainDecision,
    extra: dict[str, Any] | None = None,
) -> str:
    """Write report.json and report.html as the day's drift partition; returns the partition URI.

    ``extra`` adds top-level keys to report.json (e.g. the conf sent to the training DAG).
    """
    return write_report_body(store, day, {**report_dict(report, decision), **(extra or {})})


def write_report_body(store: Store, day: str | date, body: dict[str, Any]) -> str:
    """Write a report body (see :func:`report_dict`) as report.json + report.html; returns the URI."""
    files = {
        JSON_NAME: json.dumps(body, indent=2, sort_keys=True, allow_nan=False).encode(),
        HTML_NAME: render_html(body).encode(),
    }
    return store.write_partition(DRIFT, day, files)


# -- HTML ------------------------------------------------------------------------------------------
def _estimate_html(est: dict[str, Any] | None, realised: float | None) -> list[str]:
    """The estimated primary metric (before labels) beside the realised one, and past errors."""
    if not est:
        return []
    e = html.escape
    day, win = est.get("day") or {}, est.get("window") or {}
    out = [
        "<h3>Estimated before labels</h3>",
        f"<p>{e(str(est.get('metric')))} by {e(str(est.get('method')).upper())}: day "
        f"{e(str(day.get('date')))} {_num(day.get('value'))} on {day.get('rows', 0)} rows; "
        f"drift window {_num(win.get('value'))}; holdout {_num(est.get('holdout_value'))}; "
        f"realised (labelled window) {_num(realised)}. Estimated drop beyond tolerance "
        f"{_num(est.get('tolerance'))}: <b>{'yes' if est.get('drop') else 'no'}</b>."
        + (f" {e(str(est['reason']))}." if est.get("reason") else "")
        + "</p>",
    ]
    errors = est.get("errors") or []
    if errors:
        out.append("<table><tr><th>day</th><th>estimated</th><th>realised</th><th>error</th></tr>")
        out.extend(
            f"<tr><td>{e(r['date'])}</td><td>{_num(r['estimated'])}</td>"
            f"<td>{_num(r['realised'])}</td><td>{_num(r['error'])}</td></tr>"
            for r in errors
        )
        out.append(f"</table><p>Mean absolute error {_num(est.get('mean_absolute_error'))}.</p>")
    return out


def _bar_plot(title: str, bins: list[str], reference: list[float], current: list[float]) -> str:
    """Reference vs current shares per bin as a base64 PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(bins))
    fig, ax = plt.subplots(figsize=(5.2, 2.4), dpi=80)
    try:
        ax.bar(x - 0.2, reference, width=0.4, label="reference", color="#8fa9c8")
        ax.bar(x + 0.2, current, width=0.4, label="current", color="#d9822b")
        ax.set_xticks(x, bins, rotation=45, ha="right", fontsize=6)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(title, fontsize=9, loc="left")
        ax.legend(fontsize=7, frameon=False, ncol=2, loc="lower right", bbox_to_anchor=(1, 1))
        fig.subplots_adjust(
            left=0.1, right=0.98, top=0.88, bottom=0.38
        )  # no tight_layout: it draws twice
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _num(x: Any, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}
th{background:#f3f3f3}.drift{background:#fde2e1}.ok{color:#2a7}.bad{color:#c33;font-weight:bold}
.decision{padding:1em;border-radius:6px;background:#f6f6f6}.plots{display:flex;flex-wrap:wrap;gap:8px}
"""


def _reference_html(ref: dict[str, Any]) -> str:
    """The line naming the drift reference (and a fallback, in the warning colour)."""
    if not ref:
        return ""
    cls = " class='bad'" if ref.get("fallback") else ""
    return (
        f"<p{cls}>Drift reference <b>{html.escape(str(ref.get('kind')))}</b> (configured: "
        f"{html.escape(str(ref.get('configured')))}): {html.escape(str(ref.get('note')))}.</p>"
    )


def render_html(body: dict[str, Any]) -> str:
    """A self-contained HTML page for a report.json body."""
    e = html.escape
    if "drift" not in body:  # no champion yet: only the (bootstrap) decision to show
        dec = body["decision"]
        verdict = "TRAIN FIRST MODEL" if dec["retrain"] else "waiting"
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>Drift report "
            f"{e(body['day'])}</title><style>{_CSS}</style></head><body>"
            f"<h1>Drift report {e(body['day'])}</h1><p>No champion model yet: there is no "
            f"reference to compare this day with.</p><div class='decision'><b>{verdict}</b>: "
            f"{e(dec['reason'])}</div></body></html>"
        )
    drift, perf, dec = body["drift"], body["performance"], body["decision"]
    th = drift["thresholds"]
    verdict = "RETRAIN" if dec["retrain"] else "no retrain"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Drift report {e(body['day'])}"
        f"</title><style>{_CSS}</style></head><body>",
        f"<h1>Drift report {e(body['day'])}</h1>",
        f"<div class='decision'><b class='{'bad' if dec['retrain'] else 'ok'}'>{verdict}</b>: "
        f"{e(dec['reason'])}</div>",
        "<p>Champion version <b>{}</b> (trained through {}). Drift status <b>{}</b>: {} of {} "
        "features drifted (share {:.2f}, alarm at {}); {} current rows vs {} reference rows "
        "(minimum {}). Days used: {}; missing: {}.</p>".format(
            e(str(body["champion_version"])),
            e(str(body["training_end"] or "unknown")),
            e(drift["status"]),
            len(drift["drifted"]),
            len(drift["features"]),
            drift["drift_share"],
            th["drift_share"],
            drift["n_current"],
            drift["n_reference"],
            drift["min_samples"],
            e(", ".join(body["drift_days_used"]) or "none"),
            e(", ".join(body["drift_days_missing"]) or "none"),
        ),
        _reference_html(body.get("reference") or {}),
        f"<p><small>Rule: {e(drift['rule'])}. Thresholds: PSI {th['psi']}, JS {th['js']}, "
        f"Wasserstein {th['wasserstein']}, prediction PSI {th['prediction_psi']}.</small></p>",
        "<h2>Features</h2><table><tr><th>feature</th><th>type</th><th>PSI</th><th>JS</th>"
        "<th>Wasserstein</th><th>missing ref / cur</th><th>rows</th><th>critical</th>"
        "<th>drifted</th></tr>",
    ]
    for f in drift["features"]:
        parts.append(
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1%} / {:.1%}</td>"
            "<td>{}</td><td>{}</td><td>{}</td></tr>".format(
                " class='drift'" if f["drifted"] else "",
                e(f["name"]),
                f["type"],
                _num(f["psi"]),
                _num(f["js"]),
                _num(f["wasserstein"]),
                f["missing_share_reference"],
                f["missing_share_current"],
                f["n_current"],
                "yes" if f["critical"] else "",
                "<b>yes</b>" if f["drifted"] else "no",
            )
        )
    parts.append("</table>")

    pred = drift.get("prediction")
    parts.append("<h2>Prediction drift</h2>")
    if pred:
        column = pred.get("column") or "score"
        parts.append(
            f"<p>PSI of {e(column)} {_num(pred['psi'])} (threshold {pred['threshold']}), JS "
            f"{_num(pred['js'])}, {pred['n_current']} scored rows: "
            f"<b>{'drifted' if pred['drifted'] else 'stable'}</b></p>"
        )
        per_column = pred.get("per_column_psi") or {}
        if per_column:  # multiclass: every class probability, the most-moved one plotted
            listed = ", ".join(f"{e(k)} {_num(v)}" for k, v in per_column.items())
            parts.append(f"<p>PSI per class probability: {listed}</p>")
        parts.append(
            _img(_bar_plot(column, pred["bins"], pred["reference"], pred["current"]), column)
        )
    else:
        parts.append("<p>No scores of the champion in the window, or no reference scores.</p>")

    parts.append("<h2>Performance</h2>")
    metric = perf["primary_metric"]
    parts.append(
        f"<p>Status <b>{e(perf['status'])}</b> on {perf['n_labelled']} labelled rows (minimum "
        f"{perf['min_labelled']}) of version {e(str(perf['model_version']))}; {e(metric)} holdout "
        f"{_num(perf['holdout'].get(metric))} -> live {_num(perf['live'].get(metric))} (decay "
        f"{_num(perf['decay'])}, tolerance {_num(perf['tolerance'])}). Days used: "
        f"{e(', '.join(perf['days_used']) or 'none')}.</p>"
    )
    parts.append("<table><tr><th>metric</th><th>holdout</th><th>live</th></tr>")
    for m, live in perf["live"].items():
        parts.append(
            f"<tr><td>{e(m)}</td><td>{_num(perf['holdout'].get(m))}</td><td>{_num(live)}</td></tr>"
        )
    parts.append("</table>")
    parts.extend(_estimate_html(body.get("estimated_performance"), perf["live"].get(metric)))

    parts.append("<h2>Distributions (reference vs current)</h2><div class='plots'>")
    for f in drift["features"]:
        title = f"{f['name']}{' (drifted)' if f['drifted'] else ''}"
        parts.append(_img(_bar_plot(title, f["bins"], f["reference"], f["current"]), f["name"]))
    parts.append("</div></body></html>")
    return "\n".join(parts)
