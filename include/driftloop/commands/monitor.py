"""``driftloop drift --date D``: the daily drift check of the champion, its report and decision."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from driftloop.cli import _date, command, emit
from driftloop.config import PipelineConfig

# Where a run's holdout metrics may be logged, in order of preference.
_METRIC_PREFIXES = ("holdout_", "holdout.", "test_", "")


@dataclass
class ChampionContext:
    version: str | None
    profile: Any  # driftloop.drift.Profile
    holdout_metrics: dict[str, float]
    training_end: date | None


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date", type=_date, required=True, help="partition day to check")
    p.add_argument("--profile", type=Path, help="reference profile JSON (default: the champion's)")
    p.add_argument(
        "--training-active",
        action="store_true",
        help="a training run is queued or running: report, but do not ask for another",
    )


def _holdout_metrics(metrics: dict[str, float]) -> dict[str, float]:
    from driftloop.monitoring import METRICS

    out = {}
    for m in METRICS:
        for prefix in _METRIC_PREFIXES:
            if f"{prefix}{m}" in metrics:
                out[m] = float(metrics[f"{prefix}{m}"])
                break
    return out


def _as_profile(obj: Any) -> Any:
    from driftloop.drift import Profile

    if isinstance(obj, Profile):
        return obj
    if isinstance(obj, str | bytes):
        return Profile.from_json(obj)
    if isinstance(obj, dict):
        return Profile.from_dict(obj)
    raise TypeError(f"cannot read a reference profile from {type(obj).__name__}")


def champion_context(cfg: PipelineConfig, profile_path: Path | None = None) -> ChampionContext:
    """The champion's version, reference profile, holdout metrics and training end date.

    Uses ``driftloop.registry.champion`` / ``load_reference_profile``; the holdout metrics and the
    training partition date come from the champion's MLflow run.
    """
    from mlflow.tracking import MlflowClient

    from driftloop import registry
    from driftloop.drift import Profile
    from driftloop.policy import PARTITION_TAG

    champ = registry.champion(cfg)
    version = None
    if champ is not None:
        version = str(champ["version"] if isinstance(champ, dict) else champ.version)
    if profile_path is not None:
        profile = Profile.from_json(profile_path.read_text())
    elif version is None:
        raise SystemExit("driftloop drift: no champion model yet; pass --profile to check anyway")
    else:
        profile = _as_profile(registry.load_reference_profile(cfg, version))
    metrics: dict[str, float] = {}
    training_end = None
    if version is not None:
        client = MlflowClient(tracking_uri=cfg.tracking_uri())
        run = client.get_run(client.get_model_version(cfg.model_name, version).run_id)
        metrics = _holdout_metrics(run.data.metrics)
        tag = run.data.tags.get(PARTITION_TAG)
        training_end = date.fromisoformat(tag[:10]) if tag else None
    return ChampionContext(version, profile, metrics, training_end)


@command("drift", "daily drift and performance check of the champion; writes the drift report")(
    _args
)
def _drift(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    from driftloop import monitoring, policy
    from driftloop.report import write_report
    from driftloop.storage import open_store

    store = open_store(cfg.storage)
    ctx = champion_context(cfg, args.profile)
    report = monitoring.check(
        cfg,
        args.date,
        ctx.profile,
        ctx.holdout_metrics,
        ctx.version,
        store=store,
        training_end=ctx.training_end,
    )
    decision = policy.decide_for(
        cfg,
        report.signals(),
        args.date,
        training_active=args.training_active,
        last_training_date=policy.last_training_date(cfg),
    )
    uri = write_report(store, args.date, report, decision)
    emit(
        {
            "date": args.date.isoformat(),
            "report": uri,
            "champion_version": ctx.version,
            "status": report.drift.status,
            "drifted": report.drift.drifted,
            "performance": report.performance.status,
            "retrain": decision.retrain,
            "reason": decision.reason,
        }
    )
    return 0
