"""The daily check of the champion, end to end: what the ``drift_check`` DAG and ``driftloop drift`` run.

Loads the champion's reference profile and holdout metrics, measures drift and live performance
(:mod:`driftloop.monitor.monitoring`), finds when the current drift began, applies the retrain policy
(:mod:`driftloop.monitor.policy`) and writes the day's report (:mod:`driftloop.monitor.report`). The outcome carries
the conf for the ``train`` DAG when the policy says to retrain.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.core.storage import (
    DRIFT,
    LABELS,
    VALIDATED,
    Store,
    as_date,
    open_store,
    partition_prefix,
)
from driftloop.data.windows import window_shortfall
from driftloop.monitor.asof import AsOf, ChampionContext, as_of, champion_context
from driftloop.monitor.onset import decay_onset, drift_onset
from driftloop.tracking.mlflow import (
    TAG_CHECK_DATE,
    TAG_CHECK_STATUS,
    TAG_LAST_DRIFT_CHECK,
    TAG_MODEL_NAME,
    TAG_MODEL_VERSION,
    TAG_NOTE,
    TAG_RETRAIN,
    ensure_monitoring_experiment,
    mlflow_client,
)

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig

log = logging.getLogger(__name__)


@dataclass
class CheckOutcome:
    """Result of one day's check; ``summary()`` is what the DAG task returns (small, JSON-able)."""

    day: date
    report_uri: str
    status: str
    decision: dict[str, Any]
    champion_version: str | None
    drift_share: float | None = None
    drifted: list[str] = field(default_factory=list)
    performance: str | None = None
    trigger_conf: dict[str, Any] | None = None
    mlflow_run_id: str | None = None

    @property
    def retrain(self) -> bool:
        return bool(self.decision.get("retrain"))

    def summary(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "report": self.report_uri,
            "status": self.status,
            "champion_version": self.champion_version,
            "drift_share": self.drift_share,
            "drifted": self.drifted,
            "performance": self.performance,
            "retrain": self.retrain,
            "reason": self.decision.get("reason"),
            "trigger_conf": self.trigger_conf,
            "mlflow_run_id": self.mlflow_run_id,
        }


def log_check_to_mlflow(cfg: PipelineConfig, day: date, body: dict[str, Any]) -> str:
    """Log one day's check as a run of the ``<experiment>-monitoring`` experiment; returns its id.

    Metrics: drift share, per-feature PSI / JS / Wasserstein, prediction PSI, live metrics and
    decay; artifacts: report.json and report.html. The run is tagged with the champion version it
    checked, and that model version gets a tag pointing at its newest check (the link both ways).
    A separate experiment keeps training-run queries (cooldown, lineage) free of monitoring runs.
    """
    from mlflow.entities import Metric, Param

    from driftloop.monitor.report import HTML_NAME, JSON_NAME, render_html

    client = mlflow_client(cfg)
    exp_id = ensure_monitoring_experiment(client, cfg)
    version = body.get("champion_version")
    drift = body.get("drift") or {}
    decision = body.get("decision") or {}
    run = client.create_run(
        exp_id,
        run_name=f"drift-check-{day.isoformat()}",
        tags={
            TAG_CHECK_DATE: day.isoformat(),
            TAG_MODEL_NAME: cfg.model_name,
            TAG_MODEL_VERSION: str(version),
            TAG_CHECK_STATUS: str(drift.get("status")),
            TAG_RETRAIN: str(bool(decision.get("retrain"))).lower(),
            TAG_NOTE: str(decision.get("reason") or ""),
        },
    )
    stamp = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    values: dict[str, float | None] = {"drift_share": drift.get("drift_share")}
    for f in drift.get("features") or []:
        for stat in ("psi", "js", "wasserstein"):
            values[f"{stat}.{f['name']}"] = f.get(stat)
    values["prediction_psi"] = (drift.get("prediction") or {}).get("psi")
    perf = body.get("performance") or {}
    values["performance_decay"] = perf.get("decay")
    values.update({f"live_{k}": v for k, v in (perf.get("live") or {}).items()})
    est = body.get("estimated_performance") or {}
    if est.get("metric"):
        values[f"estimated_{est['metric']}"] = (est.get("day") or {}).get("value")
        values[f"estimated_window_{est['metric']}"] = (est.get("window") or {}).get("value")
    metrics = [
        Metric(k, float(v), stamp, 0) for k, v in values.items() if isinstance(v, int | float)
    ]
    params = [Param("drift_days_used", ",".join(body.get("drift_days_used") or []) or "-")]
    client.log_batch(run.info.run_id, metrics=metrics, params=params)
    client.log_text(run.info.run_id, json.dumps(body, indent=2, sort_keys=True), JSON_NAME)
    client.log_text(run.info.run_id, render_html(body), HTML_NAME)
    client.set_terminated(run.info.run_id)
    if version is not None:
        client.set_model_version_tag(
            cfg.model_name, str(version), TAG_LAST_DRIFT_CHECK, f"{day}: {run.info.run_id}"
        )
    return run.info.run_id


def labelled_days_since(store: Store, start: date, end: date, view: AsOf | None = None) -> int:
    """Validated days in [start, end] whose labels have arrived (by the day of ``view``)."""
    if view is not None:
        return len(view.labelled_days(start, end))
    labelled = set(store.partitions(LABELS))
    return sum(1 for d in store.partitions(VALIDATED) if start <= d <= end and d in labelled)


def run_daily_check(
    cfg: PipelineConfig,
    day: str | date,
    *,
    training_active: bool = False,
    profile_path: Path | None = None,
    store: Store | None = None,
) -> CheckOutcome:
    """Check ``day``, write its report, and decide about retraining.

    Point-in-time: the champion judged is the one serving on ``day`` (the registry's records), and
    only labels landed by ``day`` count (:mod:`driftloop.monitor.asof`), so a backfill decides as
    the same days lived one by one, and a rerun reproduces the record.
    """
    from driftloop.monitor import monitoring, policy
    from driftloop.monitor.report import report_dict, write_report_body

    day = as_date(day)
    store = store or open_store(cfg.storage)
    champ = champion_context(cfg, profile_path, day, store)
    view = as_of(cfg, store, day, champ)
    if champ.profile is None:
        return _bootstrap(cfg, store, day, view, training_active=training_active)

    report = monitoring.check(
        cfg,
        day,
        champ.profile,
        champ.holdout_metrics,
        champ.version,
        store=store,
        training_end=champ.training_end,
        trained_days=champ.trained_days,
        view=view,
    )
    estimated = _estimate(cfg, store, day, champ, report.drift_days_used, view)
    signals = report.signals()
    if cfg.retrain.estimated_drop_signal and estimated["window"]["value"] is not None:
        signals = replace(
            signals,
            estimate_available=True,
            estimated_drop=bool(estimated["drop"]),
            estimated_value=estimated["window"]["value"],
        )
    if signals.performance_decay:
        onset = decay_onset(store, cfg, day, champ.version, champ.holdout_metrics, view)
    else:
        onset = drift_onset(
            store, day, champ.version, signals.feature_drift or signals.prediction_drift
        )
    decision = policy.decide_for(
        cfg,
        signals,
        day,
        training_active=training_active,
        last_training_date=policy.last_training_date(cfg, before=day),
        drift_onset=onset,
        labelled_days_since_onset=labelled_days_since(store, onset, day, view) if onset else 0,
    )
    if decision.retrain:
        shortfall = window_shortfall(cfg, day, since=decision.since, labels_as_of=day)
        if shortfall is not None:
            decision = policy.pending_for_data(decision, shortfall)
    uri = store.uri(partition_prefix(DRIFT, day))
    trigger_conf = _trigger_conf(day, decision, uri)
    body = {
        **report_dict(report, decision),
        "signals": signals.to_dict(),
        "estimated_performance": estimated,
        "trigger_conf": trigger_conf,
        "as_of": view.to_dict(),
    }
    write_report_body(store, day, body)
    mlflow_run = log_check_to_mlflow(cfg, day, body)
    log.info(
        "%s vs champion v%s: %s (drift share %s; drifted: %s; reference: %s); performance: %s; "
        "report: %s",
        day,
        champ.version,
        report.drift.status,
        report.drift.drift_share,
        ", ".join(report.drift.drifted) or "none",
        report.reference.get("kind"),
        report.performance.status,
        uri,
    )
    log.info("%s: decision: %s", day, decision.reason)
    return CheckOutcome(
        day=day,
        report_uri=uri,
        status=report.drift.status,
        decision=decision.to_dict(),
        champion_version=champ.version,
        drift_share=report.drift.drift_share,
        drifted=list(report.drift.drifted),
        performance=report.performance.status,
        trigger_conf=trigger_conf,
        mlflow_run_id=mlflow_run,
    )


def _estimate(
    cfg: PipelineConfig,
    store: Store,
    day: date,
    champ: ChampionContext,
    window: list[str],
    view: AsOf,
) -> dict[str, Any]:
    """The champion's primary metric estimated before labels (report key ``estimated_performance``)."""
    from driftloop.monitor.estimates import estimated_performance, load_estimator

    estimator, reason = load_estimator(cfg, champ.version)
    return estimated_performance(
        cfg,
        store,
        day,
        champ.version,
        champ.holdout_metrics.get(cfg.gate.primary_metric),
        [as_date(d) for d in window],
        estimator,
        reason,
        view,
    )


def _trigger_conf(day: date, decision: Any, report_uri: str) -> dict[str, Any] | None:
    """The conf of the ``train`` run a retrain decision asks for (None: no retrain)."""
    if not decision.retrain:
        return None
    conf = {
        "date": day.isoformat(),
        "reason": f"drift_check {day.isoformat()}: {decision.reason}",
        "report_uri": report_uri,
    }
    if decision.since:
        conf["since"] = decision.since.isoformat()
    return conf


def _bootstrap(
    cfg: PipelineConfig, store: Store, day: date, view: AsOf, *, training_active: bool
) -> CheckOutcome:
    """No champion yet: nothing to compare against, but train the first model once data allows."""
    from driftloop.monitor import policy
    from driftloop.monitor.report import write_report_body

    window = cfg.training.window_days
    have = len(view.labelled_days(day - timedelta(days=window - 1), day))
    need = cfg.retrain.bootstrap_labelled_days
    decision = policy.decide_bootstrap(
        day,
        labelled_days=have,
        min_labelled_days=need,
        shortfall=window_shortfall(cfg, day, labels_as_of=day) if have >= need else None,
        training_active=training_active,
        last_training_date=policy.last_training_date(cfg, before=day),
        cooldown_days=cfg.retrain.cooldown_days,
    )
    uri = store.uri(partition_prefix(DRIFT, day))
    trigger_conf = _trigger_conf(day, decision, uri)
    body = {
        "day": day.isoformat(),
        "champion_version": None,
        "status": "no_champion",
        "decision": decision.to_dict(),
        "trigger_conf": trigger_conf,
        "as_of": view.to_dict(),
    }
    write_report_body(store, day, body)
    log.info("%s: no champion yet; decision: %s", day, decision.reason)
    return CheckOutcome(
        day, uri, "no_champion", decision.to_dict(), None, trigger_conf=trigger_conf
    )


def mark_unscored(cfg: PipelineConfig, days: list[str], reason: str) -> list[str]:
    """Record that ``days`` went through scoring with nothing to score them with (no champion).

    The drift check of a day waits for its predictions, its quarantine, or this record.
    """
    from driftloop.model.scoring import NO_CHAMPION, write_scoring_status

    store = open_store(cfg.storage)
    body = {"status": NO_CHAMPION, "reason": reason}
    return [write_scoring_status(store, d, body) for d in days]


INGEST_FAILED = "ingest_failed"  # a scoring record's status: the day's ingest failed for good


def mark_ingest_failed(cfg: PipelineConfig, day: str, err: BaseException) -> str | None:
    """Record that ``day``'s ingest failed for good (a config error, a refusal: not its data, which
    is quarantined, and not an outage, which is retried), so the day's drift check goes ahead
    without it instead of waiting for a scoring that never comes. Returns the record's URI, or None
    when nothing was recorded (an outage, a quarantine, or the store itself unusable)."""
    from driftloop.core.errors import EXIT_QUARANTINED, exit_code_for, is_retried, one_line
    from driftloop.model.scoring import write_scoring_status

    if is_retried(err) or exit_code_for(err) == EXIT_QUARANTINED:
        return None
    body = {"status": INGEST_FAILED, "reason": one_line(err)}
    try:
        return write_scoring_status(open_store(cfg.storage), day, body)
    except Exception as record_err:  # a store that cannot be written: the task's error stands
        log.warning("%s: could not record the failed ingest: %s", day, one_line(record_err))
        return None


__all__ = [
    "INGEST_FAILED",
    "ChampionContext",
    "CheckOutcome",
    "champion_context",
    "labelled_days_since",
    "log_check_to_mlflow",
    "mark_ingest_failed",
    "mark_unscored",
    "run_daily_check",
]
