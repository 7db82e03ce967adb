"""Alerts: what to tell people, when (no storms), and the record of what was sent.

Pure rules over the pipeline's storage; the channels themselves are given by the caller as
``senders`` (``driftloop.airflow.alerting`` builds them from Airflow connections), so this module
runs without Airflow.

- :class:`Alert`: one event, with the one message builder (subject, plain text, HTML, chat text).
- Episodes (drift, estimated drop, decay): announced when they start, when what fired changes, when
  they end, and again only after ``alerts.repeat_after`` (:func:`episode_phase`).
- One-off events (a quarantined day, a gate verdict, ...) are sent once per dedup key, so a rerun
  of the task does not send again.
- State lives under ``monitoring/alerts/`` in the pipeline's storage (it survives restarts); every
  delivery attempt's outcome is recorded per day (``monitoring/alerts/date=<day>/``) for the
  monitoring view. A failing channel is logged and recorded, never raised.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from driftloop.core.alert_config import EventKind
from driftloop.core.partition import Partition, PartitionLike

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig
    from driftloop.core.storage import Store

__all__ = [
    "ALERTS_PREFIX",
    "Alert",
    "Delivery",
    "EpisodeState",
    "Sender",
    "alert_days",
    "check_alerts",
    "deliver",
    "episode_phase",
    "flush_digest",
    "sent_on",
]

log = logging.getLogger(__name__)

ALERTS_PREFIX = "monitoring/alerts"
_STATE = f"{ALERTS_PREFIX}/state"
_DIGEST = f"{ALERTS_PREFIX}/digest"
_SAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


@dataclass(frozen=True)
class Alert:
    """One event for people: pipeline, day, what happened, why (one line), links.

    ``key`` deduplicates: a one-off alert with a key already sent is not sent again.
    """

    kind: EventKind
    pipeline: str
    day: str
    what: str
    why: str
    key: str
    links: dict[str, str] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return f"[driftloop] {self.pipeline} {self.day}: {self.what}"

    def text(self) -> str:
        """Plain text: the email's text part and the generic webhook's message."""
        lines = [
            f"Pipeline: {self.pipeline}",
            f"Day: {self.day}",
            f"What: {self.what}",
            f"Why: {self.why}",
        ]
        lines += self.details
        lines += [f"{name}: {url}" for name, url in self.links.items()]
        return "\n".join(lines)

    def markdown(self) -> str:
        """Chat text (Slack, Teams, Mattermost render it): the same facts, links clickable."""
        lines = [f"**{self.what}** ({self.pipeline}, {self.day})", self.why, *self.details]
        links = " · ".join(f"[{name}]({url})" for name, url in self.links.items())
        return "\n".join([*lines, links] if links else lines)

    def html(self) -> str:
        """The email's HTML body."""
        e = html.escape
        rows = "".join(
            f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>"
            for k, v in [
                ("Pipeline", self.pipeline),
                ("Day", self.day),
                ("What", self.what),
                ("Why", self.why),
            ]
        )
        details = "".join(f"<p>{e(d)}</p>" for d in self.details)
        links = "".join(f"<li><a href='{e(u)}'>{e(n)}</a></li>" for n, u in self.links.items())
        return f"<table>{rows}</table>{details}" + (f"<ul>{links}</ul>" if links else "")


# A channel: sends one (subject, alert) or raises. Built by the caller (email, webhook, ...).
Sender = Callable[[Alert], None]


@dataclass(frozen=True)
class Delivery:
    """One alert on one channel: recorded per day for the monitoring view."""

    kind: str
    channel: str
    day: str
    what: str
    ok: bool
    attempts: int
    error: str | None = None
    key: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Delivery:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class EpisodeState:
    """An episode kind's state: open or not, since when, last announced day, what fired."""

    open: bool
    since: str
    last_sent: str
    fingerprint: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EpisodeState:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def episode_phase(
    state: EpisodeState | None,
    day: date,
    active: bool,
    fingerprint: str,
    repeat_after: timedelta | None,
) -> tuple[str | None, EpisodeState | None]:
    """What to announce of an episode today (``started``, ``changed``, ``still open``, ``ended``,
    or None: stay quiet) and its new state.

    A day at or before the last announced one announces nothing (a rerun, or a backfill behind the
    live days): the same episode is never told twice.
    """
    iso = day.isoformat()
    if state is not None and iso <= state.last_sent:
        return None, state
    if active:
        if state is None or not state.open:
            return "started", EpisodeState(True, iso, iso, fingerprint)
        if fingerprint != state.fingerprint:
            return "changed", EpisodeState(True, state.since, iso, fingerprint)
        due = repeat_after is not None and day - date.fromisoformat(state.last_sent) >= repeat_after
        if due:
            return "still open", EpisodeState(True, state.since, iso, fingerprint)
        return None, state
    if state is not None and state.open:
        return "ended", EpisodeState(False, state.since, iso, fingerprint)
    return None, state


def _state_key(key: str) -> str:
    return f"{_STATE}/{_SAFE.sub('_', key)}.json"


def _read_state(store: Store, key: str) -> EpisodeState | None:
    k = _state_key(key)
    return EpisodeState.from_json(store.read_json(k)) if store.exists(k) else None


def _write_state(store: Store, key: str, state: EpisodeState) -> None:
    store.write_bytes(_state_key(key), json.dumps(asdict(state), sort_keys=True).encode())


# -- the daily check's episodes ------------------------------------------------------------------
_EPISODES: dict[EventKind, str] = {
    EventKind.DRIFT: "drift alarm",
    EventKind.ESTIMATED_DROP: "estimated performance drop",
    EventKind.PERFORMANCE_DECAY: "performance decay",
}


def _episodes(signals: Mapping[str, Any]) -> dict[EventKind, tuple[bool, str] | None]:
    """Each episode kind's (active, fingerprint) of a check's signals; None: not known today."""
    fired = [k for k in ("feature_drift", "prediction_drift") if signals.get(k)]
    return {
        EventKind.DRIFT: None
        if signals.get("insufficient_data")
        else (bool(fired), ",".join(fired)),
        EventKind.ESTIMATED_DROP: (bool(signals.get("estimated_drop")), "")
        if signals.get("estimate_available")
        else None,
        EventKind.PERFORMANCE_DECAY: None
        if signals.get("insufficient_labels", True)
        else (bool(signals.get("performance_decay")), ""),
    }


def _episode_why(kind: EventKind, signals: Mapping[str, Any], reason: str) -> str:
    if kind == EventKind.DRIFT:
        parts = []
        if signals.get("feature_drift"):
            share = float(signals.get("drift_share") or 0)
            parts.append(
                f"features drifted: {', '.join(signals.get('drifted_features') or [])} "
                f"(share {share:.2f})"
            )
        if signals.get("prediction_drift"):
            parts.append(f"prediction drift (PSI {signals.get('prediction_psi') or 0:.2f})")
        return "; ".join(parts) or "no drift any more"
    metric = signals.get("primary_metric", "")
    value = signals.get(
        "estimated_value" if kind == EventKind.ESTIMATED_DROP else "live_value", None
    )
    base = signals.get("holdout_value")
    if value is not None and base is not None:
        return f"{metric} {base:.3f} at training -> {value:.3f} now"
    return reason


def check_alerts(
    cfg: PipelineConfig,
    store: Store,
    day: PartitionLike,
    decision: Mapping[str, Any],
    links: Mapping[str, str],
) -> list[Alert]:
    """The alerts of one day's drift check: episode starts/changes/ends, and the retrain decision.

    ``decision``: the policy's decision (``RetrainDecision.to_dict()``, with its ``signals``).
    The episodes' state is updated as they are announced.
    """
    d = Partition.of(day).day
    iso, name = d.isoformat(), cfg.name
    signals = decision.get("signals") or {}
    reason = str(decision.get("reason") or "")
    out: list[Alert] = []
    for kind, known in _episodes(signals).items():
        if known is None:
            continue
        active, fingerprint = known
        state = _read_state(store, kind)
        phase, new = episode_phase(state, d, active, fingerprint, cfg.alerts.repeat_after)
        if phase is None or new is None:
            continue
        why = _episode_why(kind, signals, reason)
        if phase == "ended":
            why = f"back within tolerance (episode since {new.since})"
        what = f"{_EPISODES[kind]} {phase}"
        out.append(Alert(kind, name, iso, what, why, f"{kind}/{new.since}/{iso}", dict(links)))
        _write_state(store, kind, new)
    if decision.get("retrain") and not decision.get("pending"):
        what = "first training started" if decision.get("bootstrap") else "retrain triggered"
        out.append(Alert(EventKind.RETRAIN, name, iso, what, reason, f"retrain/{iso}", dict(links)))
    elif decision.get("fired"):
        # Suppressed (cooldown, waiting for labels, already training): told once per reason kind.
        fired = ",".join(sorted(decision["fired"]))
        state = _read_state(store, "retrain_suppressed")
        phase, new = episode_phase(state, d, True, fired, cfg.alerts.repeat_after)
        if phase in ("started", "changed", "still open") and new is not None:
            out.append(
                Alert(
                    EventKind.RETRAIN,
                    name,
                    iso,
                    "retrain waiting for data" if decision.get("pending") else "retrain suppressed",
                    reason,
                    f"retrain_suppressed/{iso}",
                    dict(links),
                )
            )
            _write_state(store, "retrain_suppressed", new)
    else:
        state = _read_state(store, "retrain_suppressed")
        _, new = episode_phase(state, d, False, "", cfg.alerts.repeat_after)
        if new is not None and new != state:
            _write_state(store, "retrain_suppressed", new)
    return out


# -- delivery ------------------------------------------------------------------------------------
def _sent_key(key: str) -> str:
    return f"{_STATE}/sent/{_SAFE.sub('_', key)}.json"


def _record_key(day: str, alert_key: str, channel: str) -> str:
    digest = hashlib.sha1(f"{alert_key}|{channel}".encode()).hexdigest()[:12]
    return f"{ALERTS_PREFIX}/date={day}/{digest}.json"


def _send(sender: Sender, alert: Alert, attempts: int) -> tuple[bool, int, str | None]:
    """Up to ``attempts`` tries with a short backoff; (ok, tries, last error)."""
    error = None
    for n in range(1, attempts + 1):
        try:
            sender(alert)
            return True, n, None
        except Exception as err:  # any channel failure is recorded, never raised (see module doc)
            error = f"{type(err).__name__}: {err}"[:500]
            log.warning("alert %s: attempt %d/%d failed: %s", alert.key, n, attempts, error)
            if n < attempts:
                time.sleep(min(0.5 * 2 ** (n - 1), 5.0))
    return False, attempts, error


def deliver(
    cfg: PipelineConfig,
    store: Store,
    alerts: Iterable[Alert],
    senders: Mapping[str, Sender],
) -> list[Delivery]:
    """Send each alert to the channels its kind is routed to; record every outcome.

    An alert whose key was already delivered is skipped (task reruns); kinds in
    ``alerts.digest`` are queued for :func:`flush_digest` instead. Never raises for a channel.
    """
    if not cfg.alerts.active:
        return []
    out: list[Delivery] = []
    for alert in alerts:
        if store.exists(_sent_key(alert.key)):
            log.info("alert %s already sent; not again", alert.key)
            continue
        if alert.kind in cfg.alerts.digest:
            store.write_bytes(
                f"{_DIGEST}/{_SAFE.sub('_', alert.key)}.json",
                json.dumps(asdict(alert), sort_keys=True).encode(),
            )
            store.write_bytes(_sent_key(alert.key), b"{}")
            continue
        out += _deliver_one(cfg, store, alert, senders)
    return out


def _deliver_one(
    cfg: PipelineConfig,
    store: Store,
    alert: Alert,
    senders: Mapping[str, Sender],
    channels: list[str] | None = None,
) -> list[Delivery]:
    out = []
    for channel in cfg.alerts.channels_for(alert.kind) if channels is None else channels:
        sender = senders.get(channel)
        ok, tries, error = (
            _send(sender, alert, cfg.alerts.send_attempts)
            if sender is not None
            else (False, 0, f"channel {channel} is not available")
        )
        rec = Delivery(alert.kind, channel, alert.day, alert.what, ok, tries, error, alert.key)
        store.write_bytes(
            _record_key(alert.day, alert.key, channel),
            json.dumps(asdict(rec), sort_keys=True).encode(),
        )
        (log.info if ok else log.error)(
            "alert %s -> %s: %s%s", alert.what, channel, "sent" if ok else "FAILED: ", error or ""
        )
        out.append(rec)
    store.write_bytes(
        _sent_key(alert.key), json.dumps({"day": alert.day, "what": alert.what}).encode()
    )
    return out


def flush_digest(
    cfg: PipelineConfig, store: Store, day: PartitionLike, senders: Mapping[str, Sender]
) -> list[Delivery]:
    """Send the queued digest alerts as one message per kind-routed channel, dated ``day``."""
    keys = sorted(store.list(f"{_DIGEST}/"))
    if not keys or not cfg.alerts.active:
        return []
    queued = [Alert(**store.read_json(k)) for k in keys]
    queued.sort(key=lambda a: (a.day, a.kind))
    iso = Partition.of(day).day.isoformat()
    digest = Alert(
        kind=queued[0].kind,
        pipeline=cfg.name,
        day=iso,
        what=f"daily digest: {len(queued)} event(s)",
        why=", ".join(sorted({a.what for a in queued})),
        key=f"digest/{iso}",
        details=[f"- {a.day}: {a.what}: {a.why}" for a in queued],
    )
    channels = [c for a in queued for c in cfg.alerts.channels_for(a.kind)]
    out = _deliver_one(cfg, store, digest, senders, list(dict.fromkeys(channels)))
    for k in keys:
        store.delete_prefix(k)
    return out


def alert_days(store: Store) -> set[date]:
    """The days that have alert deliveries recorded."""
    out = set()
    for key in store.list(f"{ALERTS_PREFIX}/"):
        head = key[len(ALERTS_PREFIX) + 1 :].partition("/")[0]
        if head.startswith("date="):
            out.add(Partition.from_key(head).day)
    return out


def sent_on(store: Store, day: PartitionLike) -> list[Delivery]:
    """The alert deliveries recorded for ``day`` (for the monitoring view), in a stable order."""
    iso = Partition.of(day).day.isoformat()
    recs = [
        Delivery.from_json(store.read_json(k))
        for k in store.list(f"{ALERTS_PREFIX}/date={iso}/")
        if k.endswith(".json")
    ]
    return sorted(recs, key=lambda r: (r.kind, r.channel, r.key))
