"""Alerts from the DAGs: the channels (Airflow SMTP connection, Apprise webhooks), the links, and
the small hooks task bodies and callbacks call.

What to send and when is decided by :mod:`driftloop.monitor.alerts`; here the events are built from
task context and handed over. Nothing here ever fails a task: a broken channel or config is logged
and recorded as a failed delivery. Importing this module is cheap (DAG files use the callbacks).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

from airflow.sdk.bases.notifier import BaseNotifier

from driftloop.core.alert_config import EmailChannel, EventKind, WebhookChannel

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig
    from driftloop.monitor.alerts import Alert, Sender

__all__ = [
    "ApprovalNotifier",
    "after_check",
    "after_promotion",
    "after_shadow_review",
    "gate_verdict",
    "on_task_failure",
    "quarantined",
    "send",
]

log = logging.getLogger(__name__)

LANDING_TASK = "wait_for_landing"


class AlertNotSent(RuntimeError):
    """A channel answered but did not take the message (e.g. a webhook returned 500)."""


def _email(ch: EmailChannel) -> Sender:
    def send(alert: Alert) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        with SmtpHook(smtp_conn_id=ch.conn_id) as hook:
            hook.send_email_smtp(
                to=ch.to,
                subject=alert.subject,
                html_content=alert.html(),
                from_email=hook.from_email or "driftloop@localhost",
                mime_subtype="alternative",
            )

    return send


def _webhook(ch: WebhookChannel) -> Sender:
    def send(alert: Alert) -> None:
        import apprise

        ap = apprise.Apprise()
        if ch.url_env:
            url = os.environ.get(ch.url_env)
            if not url:
                raise AlertNotSent(f"environment variable {ch.url_env} is not set")
            ap.add(url)
        else:
            from airflow.providers.apprise.hooks.apprise import AppriseHook

            hook = AppriseHook(apprise_conn_id=str(ch.conn_id))
            hook.set_config_from_conn(hook.get_connection(str(ch.conn_id)), ap)
        if not ap.notify(
            title=alert.subject, body=alert.markdown(), body_format=apprise.NotifyFormat.MARKDOWN
        ):
            raise AlertNotSent("the webhook did not accept the message (see the log above)")

    return send


def senders(cfg: PipelineConfig) -> dict[str, Sender]:
    """One sender per configured channel."""
    return {
        name: _email(ch) if isinstance(ch, EmailChannel) else _webhook(ch)
        for name, ch in cfg.alerts.channels.items()
    }


def send(cfg: PipelineConfig, alerts: list[Alert]) -> None:
    """Deliver ``alerts`` (deduplicated and recorded by the library); never raises."""
    if not alerts or not cfg.alerts.active:
        return
    try:
        from driftloop.core.storage import open_store
        from driftloop.monitor.alerts import deliver

        deliver(cfg, open_store(cfg.storage), alerts, senders(cfg))
    except Exception:  # an alert must never fail the pipeline's task (issue 26); logged in full
        log.exception("alerts %s not sent", [a.key for a in alerts])


# -- links ---------------------------------------------------------------------------------------
def base_url(cfg: PipelineConfig) -> str:
    """The Airflow UI's address for links: ``alerts.base_url``, else Airflow's ``[api] base_url``."""
    from airflow.configuration import conf

    url = cfg.alerts.base_url or conf.get("api", "base_url", fallback=None)
    return (url or "http://localhost:8080").rstrip("/")


def run_url(cfg: PipelineConfig, context: Any) -> str:
    ti = context["ti"]
    return f"{base_url(cfg)}/dags/{ti.dag_id}/runs/{quote(ti.run_id, safe='')}"


def _links(cfg: PipelineConfig, context: Any, day: str | None = None) -> dict[str, str]:
    from driftloop.airflow.links import monitor_link, report_link

    base = base_url(cfg)
    links = {"Run": run_url(cfg, context)}
    if day:
        links["Report"] = base + report_link(cfg.name, day)
    links["Monitoring"] = base + monitor_link(cfg.name)
    return links


def _alert(
    kind: EventKind,
    cfg: PipelineConfig,
    day: str,
    what: str,
    why: str,
    key: str,
    links: dict[str, str],
    details: list[str] | None = None,
) -> Alert:
    from driftloop.monitor.alerts import Alert

    return Alert(kind, cfg.name, day, what, why, key, links, details or [])


# -- hooks called by task bodies -----------------------------------------------------------------
_Hook = TypeVar("_Hook", bound=Callable[..., None])


def _quiet_hook(fn: _Hook) -> _Hook:
    """A task body's alert hook: nothing when alerts are off, and never an exception (an alert
    must not fail the pipeline's task; the error is logged in full)."""

    @functools.wraps(fn)
    def hook(cfg: PipelineConfig, *args: Any, **kwargs: Any) -> None:
        if not cfg.alerts.active:
            return
        try:
            fn(cfg, *args, **kwargs)
        except Exception:  # see the docstring: logged, never raised
            log.exception("alert hook %s failed; no alert sent", fn.__name__)

    return cast("_Hook", hook)


@_quiet_hook
def after_check(cfg: PipelineConfig, day: str, decision: dict[str, Any], context: Any) -> None:
    """The drift check's alerts (episode start/change/end, retrain triggered or suppressed),
    then any queued digest."""
    from driftloop.core.storage import open_store
    from driftloop.monitor.alerts import check_alerts, flush_digest

    store = open_store(cfg.storage)
    send(cfg, check_alerts(cfg, store, day, decision, _links(cfg, context, day)))
    if cfg.alerts.digest:
        flush_digest(cfg, store, day, senders(cfg))


@_quiet_hook
def quarantined(cfg: PipelineConfig, result: Any, context: Any) -> None:
    """A day (or some of its rows) quarantined: reason, rows kept, where."""
    day = str(result.partition)
    if result.status == "quarantined":
        where, what = result.quarantine_uri, "day quarantined"
        kept = f"Rows kept: 0 (the whole delivery, {result.rows} rows, set apart)"
    elif result.quarantined_rows:
        where, what = result.rows_quarantine_uri, "rows quarantined"
        kept = f"Rows kept: {result.rows}; set apart: {result.quarantined_rows}"
    else:
        return
    details = [kept, f"Where: {where}", "Fix the delivery, then clear the ingest run to redo it."]
    links = _links(cfg, context)
    send(
        cfg,
        [
            _alert(
                EventKind.QUARANTINE,
                cfg,
                day,
                what,
                result.message,
                f"quarantine/{day}",
                links,
                details,
            )
        ],
    )


@_quiet_hook
def gate_verdict(cfg: PipelineConfig, decision: dict[str, Any], outcome: str, context: Any) -> None:
    """The train run's verdict: promoted, rejected (by the gate or a person), or in shadow."""
    from driftloop.airflow.links import mlflow_version_url

    version, day = str(decision["challenger_version"]), str(decision.get("partition") or "")
    links = {
        **_links(cfg, context),
        "Model version": mlflow_version_url(cfg.tracking_uri(), cfg.model_name, version),
    }
    why = str(decision.get("reason") or "")
    trigger = f"Trigger: {decision.get('trigger_reason') or 'manual'}"
    send(
        cfg, [_alert(EventKind.GATE, cfg, day, outcome, why, f"gate/v{version}", links, [trigger])]
    )


@_quiet_hook
def after_shadow_review(
    cfg: PipelineConfig, day: str, summary: dict[str, Any] | None, context: Any
) -> None:
    """A shadow challenger's verdict (promoted, rejected, or a win that waits for approval)."""
    if not summary or summary.get("outcome") not in ("promoted", "rejected", "awaiting_approval"):
        return
    if summary.get("outcome") == "awaiting_approval" and not summary.get("new_win"):
        return
    version = summary.get("version")
    what = f"shadow verdict: v{version} {str(summary['outcome']).replace('_', ' ')}"
    send(
        cfg,
        [
            _alert(
                EventKind.SHADOW,
                cfg,
                day,
                what,
                str(summary.get("reason") or ""),
                f"shadow/v{version}/{summary['outcome']}",
                _links(cfg, context),
            )
        ],
    )


@_quiet_hook
def after_promotion(
    cfg: PipelineConfig, action: str, record: dict[str, Any], reason: str, actor: str, context: Any
) -> None:
    """A manual promotion or rollback: who, why, what the champion is now."""
    previous = record.get("previous_champion")
    what = f"{action}: champion is now v{record['champion']}"
    details = [f"By: {actor}", f"Previous champion: v{previous}" if previous else ""]
    day = context["dag_run"].run_after.date().isoformat()
    send(
        cfg,
        [
            _alert(
                EventKind.PROMOTION,
                cfg,
                day,
                what,
                reason or "no reason given",
                f"promotion/{context['ti'].run_id}",
                _links(cfg, context),
                [d for d in details if d],
            )
        ],
    )


# -- callbacks -----------------------------------------------------------------------------------
def _context_day(context: Any) -> str:
    """The run's partition day (logical date, else the run's date)."""
    dr = context["dag_run"]
    when = dr.logical_date or dr.run_after
    return when.date().isoformat()


def on_task_failure(context: Any) -> None:
    """``on_failure_callback`` of every task: a landing sensor that timed out is late data; any
    other task that failed after its retries is a task failure (quarantine tells on its own)."""
    try:
        from driftloop.airflow.factory import pipeline_config

        cfg = pipeline_config(context)
        if not cfg.alerts.active:
            return
        ti, err = context["ti"], context.get("exception")
        # A driftloop error failed at once arrives as Airflow's exception carrying its kind.
        name = getattr(err, "error_kind", None) or (
            type(err).__name__ if err is not None else "unknown error"
        )
        if name == "DataQuarantined":
            return
        day = _context_day(context)
        if ti.task_id == LANDING_TASK and "Timeout" in name:
            alert = _alert(
                EventKind.LATE_DATA,
                cfg,
                day,
                "day not landed by its deadline",
                f"no delivery for {day} arrived before the landing sensor's timeout",
                f"late_data/{day}",
                _links(cfg, context),
                ["Deliver the day's files to landing/, then clear the ingest run."],
            )
        else:
            alert = _alert(
                EventKind.TASK_FAILED,
                cfg,
                day,
                f"task {ti.dag_id}.{ti.task_id} failed after its retries",
                f"{name}: {str(err)[:300]}",
                f"task_failed/{ti.dag_id}/{ti.run_id}/{ti.task_id}",
                _links(cfg, context),
            )
        send(cfg, [alert])
    except Exception:  # a callback's error would hide the task's own; logged in full
        log.exception("failure alert not sent")


class ApprovalNotifier(BaseNotifier):
    """Notifier of the approval step: tells the approvers a promotion waits for them, with the
    link that opens the request."""

    def __init__(self, decision_task: str = "gate") -> None:
        super().__init__()
        self.decision_task = decision_task

    def notify(self, context: Any) -> None:
        try:
            from airflow.providers.standard.operators.hitl import HITLOperator

            from driftloop.airflow.factory import pipeline_config

            cfg = pipeline_config(context)
            if not cfg.alerts.active:
                return
            decision = context["ti"].xcom_pull(task_ids=self.decision_task) or {}
            version = decision.get("challenger_version")
            day = str(decision.get("partition") or _context_day(context))
            url = HITLOperator.generate_link_to_ui_from_context(
                context=context, base_url=base_url(cfg)
            )
            approvers = ", ".join(cfg.gate.approvers) or "any user whose role may approve"
            from driftloop.core.config import format_duration

            timeout = context["task"].response_timeout
            within = format_duration(timeout) if timeout else "no time limit"
            details = [f"Approvers: {approvers}", f"Answer within: {within}"]
            alert = _alert(
                EventKind.APPROVAL,
                cfg,
                day,
                f"waiting for approval: promote v{version} to champion",
                str(decision.get("reason") or "the gate passed it"),
                f"approval/{context['ti'].run_id}/{context['ti'].task_id}",
                {"Approval request": url, **_links(cfg, context)},
                details,
            )
            send(cfg, [alert])
        except Exception:  # the request stands without its alert; logged in full
            log.exception("approval alert not sent")
