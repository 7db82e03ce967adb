"""The monitoring view of a pipeline: a :class:`~driftloop.monitor.timeline.Timeline` as one HTML page.

Charts are inline SVG drawn here (no JavaScript, no fonts or scripts from the internet: the page
works behind a firewall), all on the same day axis so a marker lines up across them: champion
versions with retrain / training / promotion markers, drift share, the most drifted features,
prediction drift, the live metric and the metric estimated before labels against the champion's
holdout metric, rows validated and quarantined; then the registry events and the decision log,
newest first, each day linking to its drift report. Hovering a bar or a marker shows its numbers (SVG ``<title>``).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from driftloop.monitor.timeline import Check, Marker, Timeline

__all__ = ["render_timeline"]

# Geometry of every chart (SVG user units; the SVG scales to the page width).
WIDTH = 1000
LEFT = 150
RIGHT = 16
TOP = 10
AXIS = 22  # room for the day labels under a chart

PALETTE = ("#dbe7f5", "#e3f1e1", "#f6e6d3", "#ece0f3", "#f5dfe4", "#dff1f0")
MARKER_STYLE = {  # kind -> (colour, dash, label)
    "retrain": ("#d9822b", "4 3", "retrain requested"),
    "trained": ("#6b7f99", "1 3", "trained"),
    "promoted": ("#2a8a4a", "", "promoted"),
    "rejected": ("#c33", "2 2", "rejected"),
    "rollback": ("#7a4bb0", "6 2", "rolled back"),
}
ESTIMATE_COLOUR = "#e67e22"  # the estimated metric's line
HEAT = ((0.0, "#f4f6f8"), (0.1, "#fde9c9"), (0.2, "#f8c27a"), (0.5, "#e8803a"), (1.0, "#c0392b"))

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:20px 28px;
color:#1f2933;background:#fff;font-size:14px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:15px;margin:0 0 6px;color:#334}
.sub{color:#616e7c;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 14px}
.card{flex:1 1 112px;max-width:220px;border:1px solid #e4e7eb;border-radius:8px;padding:6px 10px}
.card b{display:block;font-size:17px;white-space:nowrap}
.card span{color:#616e7c;font-size:11px}
.chart{border:1px solid #e4e7eb;border-radius:8px;padding:10px 12px 4px;margin:0 0 12px}
.chart svg{display:block;width:100%;height:auto}
.note{color:#616e7c;font-size:12px;margin:2px 0 6px}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;color:#52606d;margin:0 0 10px}
.legend i{display:inline-block;width:18px;height:0;border-top:2px solid;margin-right:5px;
vertical-align:middle}.legend i.box{height:10px;border:0;width:12px}
svg text{font-family:inherit}
table{border-collapse:collapse;width:100%;font-size:13px}
td:nth-child(-n+3),.log td:nth-child(-n+6){white-space:nowrap}.log td:nth-child(8){min-width:180px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef0f2;vertical-align:top}
th{position:sticky;top:0;background:#f5f7fa;font-weight:600}
.log{max-height:560px;overflow:auto;border:1px solid #e4e7eb;border-radius:8px}
tr.retrain td{background:#fff4e8}tr.pending td{background:#fdfbe6}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;white-space:nowrap}
.p-retrain{background:#f8d7b4;color:#7a3e00}.p-pending{background:#f6eeb0;color:#5c4d00}
.p-none{background:#e6ebf0;color:#3e4c59}.p-suppressed{background:#efe4d6;color:#6b4a1f}
.p-drift{background:#fbd5d2;color:#8a1c12}.p-ok{background:#d8efdf;color:#1d5c33}
.p-wait{background:#eceff3;color:#52606d}
.p-signal{background:#fff;border:1px solid #cbd2d9;color:#3e4c59;font-size:11px}
a{color:#1f5fa8}
"""


@dataclass(frozen=True)
class _Axis:
    """The shared day axis: day -> x."""

    first: date
    n: int

    @property
    def step(self) -> float:
        return (WIDTH - LEFT - RIGHT) / max(self.n, 1)

    def x(self, day: date) -> float:
        """Centre of ``day``'s slot."""
        return LEFT + ((day - self.first).days + 0.5) * self.step

    def ticks(self) -> list[date]:
        """About eight evenly spaced days to label."""
        every = max(1, round(self.n / 8))
        return [self.first + timedelta(days=i) for i in range(0, self.n, every)]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _svg(height: int, body: Iterable[str], label: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{_e(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>'
    )


def _axis_labels(axis: _Axis, y: float) -> list[str]:
    return [
        f'<text x="{axis.x(d):.1f}" y="{y + 15:.1f}" font-size="12" fill="#7b8794" '
        f'text-anchor="middle">{d.isoformat()}</text>'
        for d in axis.ticks()
    ]


def _marker_lines(axis: _Axis, markers: list[Marker], y0: float, y1: float) -> list[str]:
    """Faint vertical lines of the markers, so they line up across every chart."""
    out = []
    for m in markers:
        colour, dash, _ = MARKER_STYLE[m.kind]
        x = axis.x(m.day)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0}" y2="{y1}" stroke="{colour}" '
            f'stroke-opacity="0.45" stroke-dasharray="{dash}"/>'
        )
    return out


def _frame(y0: float, y1: float, label: str, top: str, bottom: str) -> list[str]:
    """The plot area's base line, its name on the left and the y range."""
    return [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y1}" y2="{y1}" stroke="#cbd2d9"/>',
        f'<text x="8" y="{(y0 + y1) / 2 + 4:.1f}" font-size="14" fill="#334">{_e(label)}</text>',
        f'<text x="{LEFT - 6}" y="{y0 + 9}" font-size="11" fill="#7b8794" '
        f'text-anchor="end">{_e(top)}</text>',
        f'<text x="{LEFT - 6}" y="{y1}" font-size="11" fill="#7b8794" '
        f'text-anchor="end">{_e(bottom)}</text>',
    ]


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str, attrs: str = "") -> str:
    """A bar or cell with its tooltip (``attrs``: extra attributes, e.g. a class)."""
    return (
        f'<rect{attrs} x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{max(h, 0.5):.1f}" '
        f'fill="{fill}"><title>{_e(tip)}</title></rect>'
    )


def _threshold(y: float, label: str) -> str:
    return (
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c33" '
        f'stroke-dasharray="5 4" stroke-width="1"><title>{_e(label)}</title></line>'
    )


# -- charts ----------------------------------------------------------------------------------------
def _label_rows(axis: _Axis, markers: list[Marker]) -> list[tuple[int, bool]]:
    """For each marker, the label row that keeps it clear of the others, and whether the label
    goes left of the marker (near the right edge)."""
    ends: list[float] = []  # per row, where its last label ends
    out = []
    for m in markers:
        x, width = axis.x(m.day), 7 + 6.8 * len(_marker_label(m))
        left = x + width > WIDTH - RIGHT
        x0, x1 = (x - width, x) if left else (x, x + width)
        row = next((i for i, end in enumerate(ends) if x0 > end + 4), len(ends))
        if row == len(ends):
            ends.append(x1)
        else:
            ends[row] = x1
        out.append((row, left))
    return out


def _marker_label(m: Marker) -> str:
    label = MARKER_STYLE[m.kind][2] + (f" v{m.version}" if m.version else "")
    return f"{label}, {m.note}" if m.note else label


def _versions_chart(t: Timeline, axis: _Axis) -> str:
    """Champion bands (one colour per version) and the markers above them, labelled."""
    rows = _label_rows(axis, t.markers)
    line_h = 15
    y0 = TOP + line_h * max([r for r, _ in rows] + [0]) + line_h + 8
    y1 = y0 + 30
    out = _frame(y0, y1, "champion", "", "")[1:2]
    colours: dict[str, str] = {}
    for band in t.bands:
        colour = colours.setdefault(band.version, PALETTE[len(colours) % len(PALETTE)])
        x0 = axis.x(band.first) - axis.step / 2
        x1 = axis.x(band.last) + axis.step / 2
        out.append(
            f'<g class="band" data-version="{_e(band.version)}"><rect x="{x0:.1f}" y="{y0}" '
            f'width="{x1 - x0:.1f}" height="{y1 - y0}" rx="3" fill="{colour}" stroke="#9aa5b1" '
            f'stroke-width="0.5"><title>v{_e(band.version)} champion {band.first} to {band.last}'
            f"</title></rect>"
        )
        if x1 - x0 > 22:
            out.append(
                f'<text x="{(x0 + x1) / 2:.1f}" y="{(y0 + y1) / 2 + 4:.1f}" font-size="12" '
                f'font-weight="600" fill="#334" text-anchor="middle">v{_e(band.version)}</text>'
            )
        out.append("</g>")
    if not t.bands:
        out.append(
            f'<text x="{LEFT + 6}" y="{(y0 + y1) / 2 + 4}" font-size="12" fill="#7b8794">'
            "no champion in any checked day yet</text>"
        )
    for m, (row, left) in zip(t.markers, rows, strict=True):
        colour, dash, _ = MARKER_STYLE[m.kind]
        x, y = axis.x(m.day), TOP + row * line_h
        tx, anchor = (x - 7, "end") if left else (x + 7, "start")
        out.append(
            f'<g class="marker marker-{m.kind}" data-day="{m.day}" '
            f'data-version="{_e(m.version or "")}"><title>{m.day}: {_e(m.text)}</title>'
            f'<path d="M{x - 4.5:.1f},{y} L{x + 4.5:.1f},{y} L{x:.1f},{y + 9} Z" '
            f'fill="{colour}"/><line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 9}" y2="{y1}" '
            f'stroke="{colour}" stroke-width="1.6" stroke-dasharray="{dash}"/>'
            f'<text x="{tx:.1f}" y="{y + 10}" font-size="12" fill="{colour}" '
            f'text-anchor="{anchor}">{_e(_marker_label(m))}</text></g>'
        )
    out += _axis_labels(axis, y1)
    return _svg(int(y1) + AXIS, out, "champion versions and markers")


def _bars_chart(
    t: Timeline,
    axis: _Axis,
    label: str,
    values: list[tuple[date, float, bool, str]],
    top: float,
    threshold: tuple[float, str] | None,
) -> list[str]:
    """Bars of ``(day, value, alarm, tooltip)`` from 0 to ``top``; alarm bars in orange."""
    y0, y1 = TOP, TOP + 90
    out = _frame(y0, y1, label, _num(top, 2), "0")
    out += _marker_lines(axis, t.markers, y0, y1)
    width = max(axis.step * 0.7, 1.0)
    for day, value, alarm, tip in values:
        h = (y1 - y0) * min(value / top, 1.0) if top > 0 else 0.0
        fill = "#e8803a" if alarm else "#8fa9c8"
        out.append(_rect(axis.x(day) - width / 2, y1 - h, width, h, fill, tip))
    if threshold is not None and top > 0:
        value, tip = threshold
        out.append(_threshold(y1 - (y1 - y0) * min(value / top, 1.0), tip))
    out += _axis_labels(axis, y1)
    return out


def _drift_chart(t: Timeline, axis: _Axis) -> str:
    checks = [(d, c) for d, c in t.checks if c.drift_share is not None]
    threshold = next((c.drift_threshold for _, c in reversed(checks) if c.drift_threshold), None)
    values = [
        (
            d,
            c.drift_share or 0.0,
            c.status == "drift",
            f"{d}: drift share {_num(c.drift_share, 2)} ({c.status}); drifted: "
            f"{', '.join(c.drifted) or 'none'}",
        )
        for d, c in checks
    ]
    top = max([v for _, v, _, _ in values] + [threshold or 0.0, 0.1])
    limit = (threshold, f"alarm at drift share {threshold}") if threshold else None
    return _svg(TOP + 90 + AXIS, _bars_chart(t, axis, "drift share", values, top, limit), "drift")


def _heat(psi: float) -> str:
    colour = HEAT[0][1]
    for bound, c in HEAT:
        if psi >= bound:
            colour = c
    return colour


def _features_chart(t: Timeline, axis: _Axis) -> str | None:
    """PSI per day of the features that drifted most often; drifted days outlined."""
    top = t.top_drifted(5)
    if not top:
        return None
    row = 20
    y0 = TOP
    out = []
    height = y0 + row * len(top)
    out += _marker_lines(axis, t.markers, y0, height)
    width = max(axis.step, 1.0)
    for i, (name, n) in enumerate(top):
        y = y0 + i * row
        short = name if len(name) <= 15 else name[:14] + "…"  # the label column is narrow
        out.append(
            f'<text x="8" y="{y + 14}" font-size="13" fill="#334"><title>{_e(name)}: drifted on '
            f'{n} days</title>{_e(short)}<tspan fill="#7b8794" font-size="10"> {n} d</tspan></text>'
        )
        for d, c in t.checks:
            psi = c.psi.get(name)
            if psi is None:
                continue
            drifted = name in c.drifted
            stroke = ' stroke="#8a1c12" stroke-width="1.2"' if drifted else ""
            tip = f"{d}: {name} PSI {psi:.3f}{' (drifted)' if drifted else ''}"
            x = axis.x(d) - width / 2
            out.append(_rect(x, y + 2, width, row - 4, _heat(psi), tip, stroke))
    out += _axis_labels(axis, height)
    return _svg(height + AXIS, out, "most drifted features")


def _line(points: list[tuple[float, float]], colour: str, dash: str = "") -> str:
    if not points:
        return ""
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return (
        f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2" '
        f'stroke-dasharray="{dash}" stroke-linejoin="round"/>'
    )


def _segments(
    points: list[tuple[date, float]], axis: _Axis, scale: Callable[[float], float]
) -> list[list[tuple[float, float]]]:
    """Runs of consecutive days (a gap in the data breaks the line)."""
    runs: list[list[tuple[float, float]]] = []
    previous = None
    for d, v in points:
        if previous is None or (d - previous).days > 1:
            runs.append([])
        runs[-1].append((axis.x(d), scale(v)))
        previous = d
    return runs


def _dots(
    points: list[tuple[date, float, str]], axis: _Axis, scale: Callable[[float], float], colour: str
) -> list[str]:
    return [
        f'<circle cx="{axis.x(d):.1f}" cy="{scale(v):.1f}" r="2.6" fill="{colour}">'
        f"<title>{_e(tip)}</title></circle>"
        for d, v, tip in points
    ]


def _series_chart(
    t: Timeline,
    axis: _Axis,
    label: str,
    series: list[tuple[str, str, list[tuple[date, float, str]]]],
    threshold: tuple[float, str] | None = None,
) -> str | None:
    """Lines of ``(colour, dash, points)``; None when no series has a point."""
    values = [v for _, _, pts in series for _, v, _ in pts]
    if not values:
        return None
    if threshold is not None:
        values.append(threshold[0])
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or 0.05
    lo, hi = (max(lo - pad, 0.0) if lo >= 0 else lo - pad), hi + pad
    y0, y1 = TOP, TOP + 90

    def scale(v: float) -> float:
        return y1 - (y1 - y0) * (v - lo) / (hi - lo)

    out = _frame(y0, y1, label, _num(hi), _num(lo))
    out += _marker_lines(axis, t.markers, y0, y1)
    if threshold is not None:
        out.append(_threshold(scale(threshold[0]), threshold[1]))
    for colour, dash, pts in series:
        for run in _segments([(d, v) for d, v, _ in pts], axis, scale):
            out.append(_line(run, colour, dash))
        out += _dots(pts, axis, scale, colour)
    out += _axis_labels(axis, y1)
    return _svg(y1 + AXIS, out, label)


def _prediction_chart(t: Timeline, axis: _Axis) -> str | None:
    pts = [
        (d, c.prediction_psi, f"{d}: prediction PSI {c.prediction_psi:.3f}")
        for d, c in t.checks
        if c.prediction_psi is not None
    ]
    threshold = next(
        (c.prediction_threshold for _, c in reversed(t.checks) if c.prediction_threshold), None
    )
    limit = (threshold, f"prediction PSI threshold {threshold}") if threshold else None
    return _series_chart(t, axis, "prediction PSI", [("#7a4bb0", "", pts)], limit)


def _metric_chart(t: Timeline, axis: _Axis) -> str | None:
    metric = t.metric or "metric"
    live = [
        (d, c.live, f"{d}: live {metric} {c.live:.4f} (v{c.champion_version})")
        for d, c in t.checks
        if c.live is not None
    ]
    holdout = [
        (d, c.holdout, f"{d}: holdout {metric} of v{c.champion_version} {c.holdout:.4f}")
        for d, c in t.checks
        if c.holdout is not None
    ]
    estimated = [(d, c.estimated, _estimate_tip(d, c, metric)) for d, c in t.checks
                 if c.estimated is not None]  # fmt: skip
    (live_c, live_d, _), (est_c, est_d, _), (hold_c, hold_d, _) = PERF_LINES
    return _series_chart(
        t,
        axis,
        metric,
        [(hold_c, hold_d, holdout), (est_c, est_d, estimated), (live_c, live_d, live)],
    )


def _estimate_tip(d: date, c: Check, metric: str) -> str:
    """The hover text of an estimate: window and day values, method, and the policy's reading."""
    day = f"; the day alone {c.estimated_day:.4f}" if c.estimated_day is not None else ""
    verdict = "drop beyond tolerance" if c.estimate_drop else "within tolerance"
    why = f": {c.estimate_reason}" if c.estimate_reason else ""
    if not why and c.holdout is not None:
        why = f" (holdout {c.holdout:.4f})"
    return (
        f"{d}: estimated {metric} {_num(c.estimated, 4)} before labels "
        f"({c.estimate_method or 'estimate'}, v{c.champion_version}{day}); {verdict}{why}"
    )


def _rows_chart(t: Timeline, axis: _Axis) -> str:
    """Stacked bars per day: validated rows (green) under quarantined rows (red)."""
    y0, y1 = TOP, TOP + 70
    top = max([(d.validated_rows or 0) + (d.quarantined_rows or 0) for d in t.days] + [1])
    out = _frame(y0, y1, "rows", f"{top:,}", "0")
    out += _marker_lines(axis, t.markers, y0, y1)
    width = max(axis.step * 0.7, 1.0)
    for d in t.days:
        x = axis.x(d.day) - width / 2
        base = float(y1)
        for rows, colour, what in (
            (d.validated_rows, "#4c9a6a", "validated"),
            (d.quarantined_rows, "#d9534f", "quarantined"),
        ):
            if not rows:
                continue
            h = (y1 - y0) * rows / top
            tip = f"{d.day}: {rows:,} rows {what}"
            if what == "quarantined" and d.quarantine_reason:
                tip += f": {d.quarantine_reason}"
            out.append(_rect(x, base - h, width, h, colour, tip, f' class="rows-{what}"'))
            base -= h
        if d.quarantined and not d.quarantined_rows:  # count unknown: a pale full-height bar
            tip = f"{d.day}: quarantined: {d.quarantine_reason or ''}"
            attrs = ' class="rows-quarantined" fill-opacity="0.35"'
            out.append(_rect(x, y0, width, y1 - y0, "#d9534f", tip, attrs))
    out += _axis_labels(axis, y1)
    return _svg(y1 + AXIS, out, "rows validated and quarantined")


# -- tables ----------------------------------------------------------------------------------------
def _status_pill(c: Check) -> str:
    cls = {"drift": "p-drift", "no_drift": "p-ok"}.get(c.status, "p-wait")
    return f'<span class="pill {cls}">{_e(c.status.replace("_", " "))}</span>'


VERDICT_PILL = {
    "retrain": "p-retrain",
    "retrain pending": "p-pending",
    "retrain suppressed": "p-suppressed",
}  # any other verdict ("no retrain"): p-none


def _decision_pill(c: Check) -> str:
    cls = VERDICT_PILL.get(c.verdict, "p-none")
    return f'<span class="pill {cls}">{_e(c.verdict)}</span>'


def _fired(c: Check) -> str:
    """The signals that fired, one small pill each (the decision's ``fired``)."""
    return "".join(
        f' <span class="pill p-signal">{_e(name.replace("_", " "))}</span>' for name in c.fired
    )


def _reason(text: str) -> str:
    """A policy reason as HTML; its arrows (``0.794 -> 0.681``) drawn as one character, so a
    wrapped line never breaks one in two."""
    return _e(text).replace(" -&gt; ", " → ")


def _decision_log(t: Timeline, report_url: Callable[[date], str]) -> str:
    metric = t.metric or "metric"
    rows = []
    for d, c in reversed(t.checks):
        cls = "retrain" if c.retrain else ("pending" if c.pending else "")
        version = f"v{_e(c.champion_version)}" if c.champion_version else "none"
        known = c.live is not None or c.holdout is not None  # a metric may well be 0
        perf = f"{_num(c.live)} / {_num(c.holdout)}" if known else "–"
        estimate = _num(c.estimated)
        if c.estimate_drop:
            estimate += ' <span class="pill p-drift">drop</span>'
        rows.append(
            f'<tr class="{cls}" data-day="{d}"><td>{d}</td><td>{version}</td>'
            f"<td>{_status_pill(c)} {_num(c.drift_share, 2)}</td><td>{_num(c.prediction_psi)}</td>"
            f"<td>{perf}</td><td class='est'>{estimate}</td><td>{_decision_pill(c)}{_fired(c)}</td>"
            f"<td>{_reason(c.reason)}</td>"
            f'<td><a href="{_e(report_url(d))}">report</a></td></tr>'
        )
    if not rows:
        return "<p class='note'>No drift check has run yet.</p>"
    return (
        "<div class='log'><table><thead><tr><th>day</th><th>champion</th><th>drift share</th>"
        f"<th>prediction PSI</th><th>{_e(metric)} live / holdout</th>"
        f"<th>{_e(metric)} estimated</th><th>decision</th>"
        "<th>reason</th><th></th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
    )


def _events(t: Timeline) -> str:
    items = [m for m in t.markers if m.kind != "retrain"]
    if not items:
        return "<p class='note'>No model trained yet.</p>"
    rows = "".join(
        f'<tr class="event-{m.kind}"><td>{m.day}</td><td><span style="color:'
        f'{MARKER_STYLE[m.kind][0]}">&#9660;</span> {_e(MARKER_STYLE[m.kind][2])}</td>'
        f"<td>{'v' + _e(m.version) if m.version else ''}</td><td>{_e(m.text)}</td></tr>"
        for m in reversed(items)
    )
    return (
        "<table><thead><tr><th>day</th><th>event</th><th>version</th><th>detail</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
    )


def _alerts(t: Timeline) -> str:
    """One row per day that alerts were sent about: which kinds, to which channels."""
    rows = "".join(
        f"<tr class='alerts-sent'><td>{d.day}</td><td>{_e(', '.join(d.alerts))}</td></tr>"
        for d in reversed(t.days)
        if d.alerts
    )
    if not rows:
        return "<p class='note'>No alerts sent.</p>"
    return f"<table><thead><tr><th>day</th><th>alerts sent</th></tr></thead><tbody>{rows}</tbody></table>"


def _cards(t: Timeline) -> str:
    checks = t.checks
    last = checks[-1] if checks else None
    champion = f"v{t.bands[-1].version}" if t.bands else "none"
    quarantined = sum(1 for d in t.days if d.quarantined)
    validated = sum(d.validated_rows or 0 for d in t.days)
    cards = [
        (champion, "champion"),
        (str(len(checks)), "checked days"),
        (f"{validated:,}", "rows validated"),
        (str(quarantined), "quarantined days"),
        (str(sum(1 for m in t.markers if m.kind == "retrain")), "retrains asked"),
        (str(sum(1 for m in t.markers if m.kind == "promoted")), "promotions"),
    ]
    if last is not None:
        cards.insert(1, (last[1].verdict, f"on {last[0]}"))
        c = last[1]
        if c.estimated is not None:
            # Beside the holdout it is read against (a number alone says nothing of a drop).
            label = f"estimated {t.metric or 'metric'}"
            if c.estimate_drop:
                label += ": drop" + (
                    f" vs holdout {_num(c.holdout)}" if c.holdout is not None else ""
                )
            elif c.holdout is not None:
                label += f" (holdout {_num(c.holdout)})"
            cards.insert(2, (_num(c.estimated), label))
    return (
        "<div class='cards'>"
        + "".join(f"<div class='card'><b>{_e(v)}</b><span>{_e(k)}</span></div>" for v, k in cards)
        + "</div>"
    )


def _legend() -> str:
    marks = "".join(
        f'<span><i style="border-color:{c};border-top-style:{"dashed" if d else "solid"}"></i>'
        f"{_e(name)}</span>"
        for c, d, name in MARKER_STYLE.values()
    )
    boxes = (
        '<span><i class="box" style="background:#8fa9c8"></i>below alarm</span>'
        '<span><i class="box" style="background:#e8803a"></i>drift alarm</span>'
        '<span><i class="box" style="background:#4c9a6a"></i>rows validated</span>'
        '<span><i class="box" style="background:#d9534f"></i>rows quarantined</span>'
        '<span><i style="border-color:#c33;border-top-style:dashed"></i>threshold</span>'
    )
    return f"<div class='legend'>{marks}{boxes}</div>"


PERF_LINES = (  # the live performance chart's lines: colour, dash, label
    ("#1f5fa8", "", "live {}"),
    (ESTIMATE_COLOUR, "", "{} estimated before labels"),
    ("#9aa5b1", "5 4", "champion's holdout {}"),
)


def _line_legend(lines: Iterable[tuple[str, str, str]], metric: str) -> str:
    """A chart's own legend: one swatch per line."""
    items = "".join(
        f'<span class="line-key"><i style="border-color:{c};border-top-style:'
        f'{"dashed" if d else "solid"}"></i>{_e(name.format(metric))}</span>'
        for c, d, name in lines
    )
    return f"<div class='legend'>{items}</div>"


def _section(
    title: str, body: str | None, note: str = "", empty: str = "", legend: str = ""
) -> str:
    """A chart with its title and note; ``empty`` says why there is no chart (None body)."""
    note_html = f"<p class='note'>{_e(note if body is not None else empty)}</p>"
    key = legend if body is not None else ""
    return f"<div class='chart'><h2>{_e(title)}</h2>{note_html}{key}{body or ''}</div>"


def render_timeline(
    t: Timeline,
    report_url: Callable[[date], str],
    *,
    index_url: str | None = None,
) -> str:
    """The monitoring page of a timeline; ``report_url(day)`` is where a day's report is served."""
    back = f'<a href="{_e(index_url)}">all pipelines</a> · ' if index_url else ""
    head = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(t.pipeline)} · monitoring"
        f"</title><style>{_CSS}</style></head><body><h1>{_e(t.pipeline)}: monitoring</h1>"
    )
    if not t.days:
        return (
            f"{head}<p class='sub'>{back}Nothing in storage yet: once days are ingested and "
            "checked, their drift, rows, decisions and model versions show here.</p></body></html>"
        )
    axis = _Axis(t.days[0].day, len(t.days))
    metric = t.metric or "the primary metric"
    parts = [
        head,
        f"<p class='sub'>{back}model <b>{_e(t.model_name)}</b>, {t.days[0].day} to "
        f"{t.days[-1].day} ({len(t.days)} days). Hover a bar or a marker for its numbers.</p>",
        _cards(t),
        _legend(),
        _section("Champion versions, retrains and promotions", _versions_chart(t, axis)),
        _section(
            "Feature drift",
            _drift_chart(t, axis),
            "Share of features drifted in each day's window; orange: the drift alarm.",
        ),
        _section(
            "Most drifted features",
            _features_chart(t, axis),
            "PSI per day of the features that drifted on the most days (outlined: drifted).",
            "No feature has drifted on any checked day.",
        ),
        _section(
            "Prediction drift",
            _prediction_chart(t, axis),
            "PSI of the champion's scores against its reference scores.",
            "Not measured yet: no scores of the champion in any checked window.",
        ),
        _section(
            "Live performance",
            _metric_chart(t, axis),
            f"Live {metric} on the rows labelled so far (labels come late, so it lags), {metric} "
            f"estimated from the scores before their labels, and the champion's holdout "
            f"{metric}."
            + (
                ""
                if any(c.live is not None for _, c in t.checks)
                else " No live value yet: too few labelled rows of the champion's predictions."
            ),
            "No champion checked yet.",
            _line_legend(PERF_LINES, t.metric or "metric"),
        ),
        _section("Rows validated and quarantined", _rows_chart(t, axis)),
        "<div class='chart'><h2>Registry events</h2>" + _events(t) + "</div>",
        "<div class='chart'><h2>Alerts sent</h2>" + _alerts(t) + "</div>",
        "<h2>Decision log</h2>",
        _decision_log(t, report_url),
        "</body></html>",
    ]
    return "\n".join(parts)
