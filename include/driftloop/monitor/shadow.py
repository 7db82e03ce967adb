"""Shadow challengers: compare a challenger with the champion on live partitions, then decide.

A challenger that passed the offline gate with ``gate.shadow_partitions`` on is not promoted at
once: the ``score`` DAG scores each new partition with it beside the champion
(``predictions/shadow/date=<day>/``), and :func:`review` (the ``drift_check`` DAG's daily
``review_shadow`` task, ``driftloop``'s library users) compares the two once labels have arrived:

* each partition on the same rows (the ids both models scored that have a label), with the gate's
  primary metric and its direction (:mod:`driftloop.core.metrics`), recorded as
  ``v<version>-shadow-<day>`` in the registry audit trail;
* after ``gate.shadow_partitions`` compared partitions: promoted if the mean of the challenger's
  per-partition metric beats the champion's by more than ``gate.shadow_margin`` (strictly: a tie
  keeps the champion), else rejected (the ``challenger`` alias removed, the version tagged);
* rejected as well when ``gate.shadow_max_days`` pass without enough labelled partitions, or when
  the champion it is measured against was replaced meanwhile.

:func:`compare` and :func:`verdict` are pure; :func:`load_comparison` and :func:`review` read
storage and act on the registry.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from driftloop.core.metrics import MetricTable, metric_table
from driftloop.core.storage import LABELS, PREDICTIONS, SHADOW_PREDICTIONS, Store, as_date
from driftloop.data.labels import read_labels

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.core.config import Gate, PipelineConfig

log = logging.getLogger(__name__)

# Float noise must not turn a tie into a win.
_EPS = 1e-12
SHADOW_STATUS_PREFIX = "monitoring/shadow"

Outcome = Literal["waiting", "promote", "reject"]


@dataclass(frozen=True)
class PartitionComparison:
    """Champion and challenger on the same labelled rows of one partition."""

    partition: str
    metric: str
    rows: int
    champion_version: str
    challenger_version: str
    champion: float | None
    challenger: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ShadowVerdict:
    """What the shadow has shown so far, and what to do about it."""

    outcome: Outcome
    reason: str
    compared: list[PartitionComparison]
    champion_mean: float | None = None
    challenger_mean: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "compared": [c.to_dict() for c in self.compared]}


def compare(
    cfg: PipelineConfig,
    day: date | str,
    champion: pd.DataFrame,
    challenger: pd.DataFrame,
    labels: pd.DataFrame,
) -> PartitionComparison:
    """The primary metric of both models on the rows both scored and that have a label (pure)."""
    from driftloop.monitor.monitoring import live_metrics

    ds = cfg.dataset
    ids = set(champion[ds.id_column].astype(str)) & set(challenger[ds.id_column].astype(str))
    labels = labels[[ds.id_column, ds.target]].astype({ds.id_column: str})
    labels = labels[labels[ds.id_column].isin(ids)]
    metric = cfg.gate.primary_metric

    def on_rows(frame: pd.DataFrame) -> tuple[float | None, str]:
        frame = frame.astype({ds.id_column: str})
        joined = frame.merge(labels, on=ds.id_column, how="inner")
        value = live_metrics(cfg, joined).get(metric) if len(joined) else None
        return value, str(frame["model_version"].iloc[0]) if len(frame) else ""

    champ_value, champ_version = on_rows(champion)
    chall_value, chall_version = on_rows(challenger)
    return PartitionComparison(
        partition=as_date(day).isoformat(),
        metric=metric,
        rows=len(labels),
        champion_version=champ_version,
        challenger_version=chall_version,
        champion=champ_value,
        challenger=chall_value,
    )


def verdict(
    comparisons: list[PartitionComparison],
    gate: Gate,
    *,
    since: date,
    today: date,
    table: MetricTable | None = None,
) -> ShadowVerdict:
    """Decide on the first ``gate.shadow_partitions`` comparisons with a metric (pure).

    The challenger wins when the mean of its per-partition metric improves on the champion's by
    more than nothing and at least ``gate.shadow_margin``; with fewer comparisons it waits, until
    ``gate.shadow_max_days`` after ``since`` (then it is rejected).
    """
    table = table or metric_table()
    need = gate.shadow_partitions
    usable = sorted(
        (c for c in comparisons if c.champion is not None and c.challenger is not None),
        key=lambda c: c.partition,
    )[:need]
    metric = gate.primary_metric
    if len(usable) < need:
        waited = (today - since).days
        if waited >= gate.shadow_max_days:
            return ShadowVerdict(
                "reject",
                f"shadow timed out: {len(usable)}/{need} labelled partitions after {waited} days "
                f"(gate.shadow_max_days {gate.shadow_max_days})",
                usable,
            )
        return ShadowVerdict(
            "waiting", f"{len(usable)}/{need} labelled partitions compared", usable
        )
    champ = statistics.fmean(c.champion for c in usable if c.champion is not None)
    chall = statistics.fmean(c.challenger for c in usable if c.challenger is not None)
    gain = table.improvement(metric, chall, champ)
    wins = sum(table.improvement(metric, c.challenger, c.champion) > _EPS for c in usable)  # type: ignore[arg-type]
    summary = (
        f"{metric} over {need} labelled partitions: challenger {chall:.4f}, champion {champ:.4f} "
        f"(change {gain:+.4f}, + is better; better on {wins}/{need} partitions)"
    )
    if gain > _EPS and gain >= gate.shadow_margin - _EPS:
        return ShadowVerdict("promote", f"won in shadow: {summary}", usable, champ, chall)
    return ShadowVerdict(
        "reject",
        f"lost in shadow: {summary}; needs +{gate.shadow_margin:g} (a tie keeps the champion)",
        usable,
        champ,
        chall,
    )


def status_key(cfg: PipelineConfig, version: str, day: date | str) -> str:
    """Where a shadow scoring's outcome (rows, or the error) of one partition is recorded."""
    return f"{SHADOW_STATUS_PREFIX}/{cfg.model_name}/v{version}/date={as_date(day)}.json"


def score_shadow(cfg: PipelineConfig, day: date | str, version: str) -> dict[str, Any]:
    """Score a partition with the challenger in shadow into ``predictions/shadow/``.

    Never fails the champion's scoring: an error is logged and recorded (the partition then does
    not count in the shadow comparison). The outcome (rows, or the error) goes to
    :func:`status_key` and is returned.
    """
    import json

    from driftloop.core.storage import open_store
    from driftloop.model import scoring

    try:
        body = scoring.score_partition(cfg, day, version, zone=SHADOW_PREDICTIONS).to_dict()
        body["status"] = "scored"
    except Exception as err:
        log.exception("shadow scoring of %s with v%s failed (the champion's stands)", day, version)
        body = {
            "status": "failed",
            "partition": str(as_date(day)),
            "model_version": version,
            "error": str(err),
        }
    try:
        store = open_store(cfg.storage)
        store.write_bytes(status_key(cfg, version, day), json.dumps(body, sort_keys=True).encode())
    except Exception:
        log.exception("could not record the shadow scoring of %s", day)
    return body


def score_with_shadow(
    cfg: PipelineConfig,
    day: date | str,
    version: str,
    shadow_version: str | None = None,
    *,
    backlog: bool = False,
    chunk_rows: int | None = None,
) -> dict[str, Any]:
    """Score a partition with ``version`` and, when one is in shadow, with the challenger too.

    The result the ``score`` DAG's task and ``driftloop score`` both return: the champion's
    :class:`~driftloop.model.scoring.ScoreResult` as a dict, plus ``shadow`` (see
    :func:`score_shadow`) when ``shadow_version`` is given.
    """
    from driftloop.model import scoring

    out = scoring.score_partition(
        cfg, day, version, chunk_rows=chunk_rows, backlog=backlog
    ).to_dict()
    if shadow_version:
        out["shadow"] = score_shadow(cfg, day, shadow_version)
    return out


def load_comparison(
    store: Store,
    cfg: PipelineConfig,
    day: date,
    version: str,
    champion_version: str,
    labels_as_of: date | None = None,
) -> PartitionComparison | None:
    """One partition's comparison from storage; None while its predictions or labels are missing.

    ``labels_as_of``: only labels landed by that day (the review of that day) count.
    """
    if not all(
        store.partition_exists(zone, day) for zone in (PREDICTIONS, SHADOW_PREDICTIONS, LABELS)
    ):
        return None
    champion = store.read_table(PREDICTIONS, day)
    champion = champion[champion["model_version"].astype(str) == str(champion_version)]
    challenger = store.read_table(SHADOW_PREDICTIONS, day)
    challenger = challenger[challenger["model_version"].astype(str) == str(version)]
    labels = read_labels(store, cfg, day, labels_as_of)
    if champion.empty or challenger.empty or labels.empty:
        return None
    return compare(cfg, day, champion, challenger, labels)


def review(cfg: PipelineConfig, today: date | str) -> dict[str, Any] | None:
    """The daily step: compare the new labelled partitions of the challenger in shadow, record
    each, and promote or reject it once the verdict is in. None when no challenger is in shadow.

    Promotion goes through the registry's promotion (the champion lock, the stale-decision check,
    the audit record) with ``gate.auto_promote``; with it off the win is recorded once
    (``v<version>-shadow-won``; ``new_win`` is true only on that first review) and the version waits
    for a person's approval (the ``promote`` DAG, which the ``drift_check`` DAG starts for it).
    """
    from driftloop.core.storage import open_store
    from driftloop.model import registry
    from driftloop.model.evidence import shadow_evidence
    from driftloop.model.gate import GateDecision

    state = registry.shadow_challenger(cfg)
    if state is None:
        return None
    version, since = state["version"], as_date(state["since"])
    decided_on = as_date(today).isoformat()
    expected = state["champion_version"]
    store = open_store(cfg.storage)
    table = metric_table(cfg.dataset.task)
    comparisons = []
    for day in store.partitions(SHADOW_PREDICTIONS):
        if day < since:
            continue
        found = load_comparison(store, cfg, day, version, expected, as_date(today))
        if found is None:
            continue
        comparisons.append(found)
    result = verdict(comparisons, cfg.gate, since=since, today=as_date(today), table=table)
    need = cfg.gate.shadow_partitions
    for c in result.compared:
        if registry.read_record(cfg, version, f"shadow-{c.partition}") is None:
            progress = f"{len(result.compared)}/{need} labelled partitions compared"
            registry.record_shadow_partition(cfg, version, c.to_dict(), progress)
            log.info(
                "shadow v%s on %s (%d rows): %s challenger %s, champion v%s %s",
                version,
                c.partition,
                c.rows,
                c.metric,
                c.challenger,
                c.champion_version,
                c.champion,
            )
    current = registry.aliases(cfg).get(registry.CHAMPION)
    summary = {
        "version": version,
        "since": since.isoformat(),
        "champion_version": expected,
        **result.to_dict(),
    }
    summary["evidence"] = shadow_evidence(summary, table)
    if current != expected:
        reason = f"the champion moved from v{expected} to v{current} during the shadow"
        registry.end_shadow(cfg, version, "shadow stopped", reason, "shadow review", decided_on)
        return {**summary, "outcome": "reject", "reason": reason}
    if result.outcome == "reject":
        registry.end_shadow(
            cfg, version, "not promoted", result.reason, "shadow review", decided_on
        )
    elif result.outcome == "promote":
        decision = GateDecision(
            promote=True,
            rule="shadow",
            reason=result.reason,
            primary_metric=cfg.gate.primary_metric,
            challenger_metrics={cfg.gate.primary_metric: result.challenger_mean or 0.0},
            champion_metrics={cfg.gate.primary_metric: result.champion_mean or 0.0},
            challenger_version=version,
            champion_version=expected,
            thresholds={"shadow_partitions": need, "shadow_margin": cfg.gate.shadow_margin},
        )
        if cfg.gate.auto_promote:
            registry.promote_from_shadow(
                cfg, version, decision, result.reason, "shadow review (auto-promote)", decided_on
            )
        else:
            summary["outcome"] = "awaiting_approval"
            # The first review that sees the win records it (and asks for approval); later
            # days find the record and ask nothing again.
            summary["new_win"] = registry.read_record(cfg, version, "shadow-won") is None
            if summary["new_win"]:
                registry.record_shadow_win(cfg, version, decision, summary["evidence"])
    log.info("shadow v%s since %s: %s (%s)", version, since, summary["outcome"], result.reason)
    return summary


__all__ = [
    "PartitionComparison",
    "ShadowVerdict",
    "compare",
    "load_comparison",
    "review",
    "score_shadow",
    "score_with_shadow",
    "status_key",
    "verdict",
]
