"""What a person needs to decide on a promotion, as Markdown: the approval request's body.

Champion and challenger on the same holdout (the challenger's), each metric with its delta and the
gate rule it is held to, pass or fail; why the training happened (with a link to the drift report
that asked for it) and what it was trained on. Pure: the numbers come from the gate decision and the
training result, nothing is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driftloop.core.metrics import MetricTable


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


def _rule(
    name: str, new: float, old: float | None, decision: Mapping[str, Any], table: MetricTable
) -> str:
    """The gate rule ``name`` is held to, and whether this challenger meets it."""
    thresholds = decision.get("thresholds") or {}
    guards = thresholds.get("guards") or {}
    if name == decision.get("primary_metric"):
        floor = thresholds.get("floor")
        floor_ok = floor is None or table.regression(name, new, floor) <= 0
        parts = [f"floor {floor}: {'pass' if floor_ok else 'FAIL'}"]
        if old is not None:
            need = thresholds.get("min_improvement", 0)
            gain = -table.regression(name, new, old)
            ok = gain > 0 and gain >= need - 1e-12
            parts.append(f"gain ≥ {need}: {'pass' if ok else 'FAIL'}")
        return "primary; " + ", ".join(parts)
    if name in guards and old is not None:
        worse = table.regression(name, new, old)
        ok = worse <= guards[name] + 1e-12
        return f"guard, may worsen ≤ {guards[name]}: {'pass' if ok else 'FAIL'}"
    return ""


def metrics_table(decision: Mapping[str, Any], table: MetricTable) -> list[str]:
    """Markdown rows: metric, challenger, champion, delta (+ is better), rule and verdict."""
    new = decision.get("challenger_metrics") or {}
    old = decision.get("champion_metrics") or {}
    lines = [
        "| metric | challenger | champion | change | rule |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    names = [n for n in table.names if n in new] + sorted(set(new) - set(table.names))
    for name in names:
        value, before = new[name], old.get(name)
        change = "" if before is None else f"{-table.regression(name, value, before):+.4f}"
        arrow = " (lower is better)" if name in table.lower_is_better else ""
        rule = _rule(name, value, before, decision, table)
        lines.append(f"| {name}{arrow} | {_num(value)} | {_num(before)} | {change} | {rule} |")
    return lines


def _window(partitions: Sequence[str], holdout: Sequence[str]) -> str:
    if not partitions:
        return "unknown"
    train = [p for p in partitions if p not in set(holdout)]
    span = f"{min(partitions)} .. {max(partitions)} ({len(partitions)} labelled days"
    return span + (f"; holdout {', '.join(holdout)})" if holdout else ")") if train else span + ")"


def approval_evidence(
    decision: Mapping[str, Any],
    trained: Mapping[str, Any],
    table: MetricTable,
    *,
    report_url: str | None = None,
    timeout: str | None = None,
) -> str:
    """The Markdown body of a promotion request (see the module docstring).

    ``timeout``: how long the request waits (e.g. ``7d``) before it resolves to Reject.
    """
    challenger = decision.get("challenger_version")
    champion = decision.get("champion_version")
    verdict = f"**The gate passed** ({decision.get('rule')}): {decision.get('reason')}."
    lines = [verdict, ""]
    if champion:
        lines.append(
            f"Challenger v{challenger} against champion v{champion}, both scored on the "
            f"challenger's holdout ({trained.get('n_holdout', '?')} rows; change: + is better):"
        )
    else:
        lines.append(
            f"No champion yet: v{challenger} would be the first "
            f"(holdout of {trained.get('n_holdout', '?')} rows)."
        )
    lines += ["", *metrics_table(decision, table), ""]
    reason = decision.get("trigger_reason") or "manual"
    why = f"**Why this training:** {reason}"
    if report_url:
        why += f" ([drift report]({report_url}))"
    lines.append(why)
    lines.append("")
    lines.append(
        f"**Trained on:** {_window(trained.get('partitions') or [], trained.get('holdout_partitions') or [])}, "
        f"{trained.get('n_train', '?')} training rows, {trained.get('algorithm', '?')}"
    )
    lines.append("")
    lines.append(
        "Approve moves the champion alias to the challenger; Reject keeps "
        + (f"v{champion}" if champion else "no champion")
        + " and records the challenger rejected, with the reason given below."
        + (f" Unanswered, the request is rejected after {timeout}." if timeout else "")
    )
    return "\n".join(lines)


def shadow_evidence(verdict: Mapping[str, Any], table: MetricTable) -> str:
    """Markdown: the shadow's outcome and, per live partition, both models on the same rows.

    ``verdict``: :meth:`driftloop.monitor.shadow.ShadowVerdict.to_dict` plus ``version``/``since``.
    """
    compared = verdict.get("compared") or []
    metric = compared[0]["metric"] if compared else "?"
    arrow = " (lower is better)" if metric in table.lower_is_better else ""
    since, reason = verdict.get("since", "?"), str(verdict.get("reason", ""))
    # "won in shadow: roc_auc over ..." leads in bold rather than after "In shadow since ...:",
    # which said "shadow" twice in one breath.
    outcome, sep, detail = reason.partition(": ")
    if sep and "shadow" in outcome:
        lead = f"**{outcome[:1].upper()}{outcome[1:]}** (since {since}): {detail}."
    else:
        lead = f"**In shadow since {since}:** {reason}."
    lines = [
        lead,
        "",
        "Both models on the same labelled rows of each live partition (change: + is better):",
        "",
        f"| partition | rows | challenger {metric}{arrow} | champion {metric} | change |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for c in compared:
        new, old = c.get("challenger"), c.get("champion")
        change = "" if None in (new, old) else f"{-table.regression(metric, new, old):+.4f}"
        lines.append(
            f"| {c['partition']} | {c['rows']:,} | {_num(new)} | "
            f"{_num(old)} (v{c['champion_version']}) | {change} |"
        )
    return "\n".join(lines)


def shadow_win_evidence(
    shadow: str,
    gate: Mapping[str, Any] | None,
    table: MetricTable,
    *,
    challenger: str,
    champion: str,
    timeout: str | None = None,
) -> str:
    """The Markdown body of the approval request for a version that won in shadow.

    ``shadow``: the recorded per-partition evidence (:func:`shadow_evidence`); ``gate``: the offline
    gate's decision that sent the version into shadow (None if it was not recorded).
    """
    decision = gate or {}
    lines = [shadow, ""]
    if gate:
        lines += [
            f"**The offline gate passed** ({decision.get('rule')}): {decision.get('reason')}.",
            "",
            f"Challenger v{challenger} against champion v{champion} on the challenger's holdout "
            "(change: + is better):",
            "",
            *metrics_table(decision, table),
            "",
        ]
    lines.append(
        f"Approve moves the champion alias to v{challenger}; Reject keeps v{champion} and ends the shadow (the challenger alias is removed), with the reason given below."
        + (f" Unanswered, the request is rejected after {timeout}." if timeout else "")
    )
    return "\n".join(lines)


__all__ = ["approval_evidence", "metrics_table", "shadow_evidence", "shadow_win_evidence"]
