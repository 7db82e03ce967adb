"""Model registry: aliases, gating a challenger, promotion, rollback and their audit trail.

The gate's rules are pure (:mod:`driftloop.model.gate`); this module does the I/O around them:
re-scoring the champion on the challenger's holdout, recording the decision, moving aliases.

Only MLflow aliases are used (``champion``, ``challenger``, ``previous_champion``), never the
deprecated stages. Every decision is written three times: as a few tags + a description line on the
model version (what a person reads in the MLflow UI: the latest decision and its reason, the primary
metric, the training window and trigger), in full in the training run's ``decision.json`` artifact
(:func:`decision_record`: the gate's metrics and thresholds, then every promotion, rejection and
rollback), and as a JSON record in storage under ``registry/decisions/<model>/`` (an audit trail
that survives a registry migration).

One champion decision at a time: the gate, promotion, rollback and rejection each run under the
pipeline's champion lock (:mod:`driftloop.core.locking`, across processes and DAGs), and a promotion that
carries a gate decision is refused (:class:`StaleDecision`) when the champion moved since that gate,
so a challenger is always compared with the champion it replaces. :func:`gate_and_promote` holds the
lock across both steps. Record names are deterministic (``v<version>-<action>``)
so reruns overwrite instead of piling up; records carry the partition date of the run that trained
the version, and the wall-clock time only as extra information.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from driftloop.core.errors import EXIT_REFUSED, DriftloopError
from driftloop.core.locking import champion_lock
from driftloop.core.metrics import metric_table
from driftloop.model.gate import GateDecision, evaluate_gate
from driftloop.tracking.mlflow import (
    DECISION_ARTIFACT,
    HOLDOUT_ARTIFACT,
    PROFILE_ARTIFACT,
    TAG_DECISION,
    TAG_DECISION_REASON,
    TAG_ORPHAN,
    TAG_PARTITION_DATE,
    TAG_PARTITIONS,
    TAG_PRIMARY_METRIC,
    TAG_REASON,
    TAG_TRAINED_WINDOW,
    TAG_TRIGGER,
    mlflow_client,
    read_run_text,
    run_id_of,
)

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from driftloop.core.config import PipelineConfig
    from driftloop.drift import Profile

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous_champion"
DECISIONS_PREFIX = "registry/decisions"
# In promotion and rollback records: the partition days the version started serving from.
SERVED_FROM = "served_from"
# The challenger in shadow: the first partition it scores, the champion it is measured against,
# and a line a person reads in the registry UI. ``shadow_since`` is removed when the
# shadow ends; the line then says how it ended.
TAG_SHADOW = "driftloop.shadow"
TAG_SHADOW_SINCE = "driftloop.shadow_since"
TAG_SHADOW_CHAMPION = "driftloop.shadow_champion"


class RegistryError(DriftloopError, RuntimeError):
    """A registry operation cannot be done (unknown version, nothing to roll back to...)."""

    exit_code = EXIT_REFUSED


class StaleDecision(RegistryError):
    """The gate compared the challenger with a champion that is no longer the champion."""


# -- aliases ------------------------------------------------------------------------------------
def aliases(cfg: PipelineConfig) -> dict[str, str]:
    """Alias -> version of the registered model ({} when it does not exist yet)."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    client = mlflow_client(cfg)
    try:
        model = client.get_registered_model(cfg.model_name)
    except MlflowException as err:
        if err.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return {}
        raise
    return {alias: str(v) for alias, v in (model.aliases or {}).items()}


def version_by_alias(cfg: PipelineConfig, alias: str) -> ModelVersion | None:
    """The version behind ``alias``, or None if the alias (or the model) does not exist."""
    version = aliases(cfg).get(alias)
    return mlflow_client(cfg).get_model_version(cfg.model_name, version) if version else None


def champion(cfg: PipelineConfig) -> ModelVersion | None:
    """The current champion version (``models:/<name>@champion``), or None before the first one."""
    return version_by_alias(cfg, CHAMPION)


def set_challenger(cfg: PipelineConfig, version: str) -> None:
    """Point ``challenger`` at a freshly registered version.

    Only the challenger behind the alias is scored in shadow: one still in shadow is superseded,
    its shadow ended and recorded (outcome ``superseded``).
    """
    current = shadow_challenger(cfg)
    if current is not None and current["version"] != str(version):
        reason = f"v{version}, trained later, is the challenger now"
        end_shadow(cfg, current["version"], "superseded", reason, "driftloop")
    _point_challenger(cfg, version)


def _point_challenger(cfg: PipelineConfig, version: str) -> None:
    mlflow_client(cfg).set_registered_model_alias(cfg.model_name, CHALLENGER, str(version))


def load_reference_profile(cfg: PipelineConfig, version: str | None = None) -> Profile:
    """The drift reference profile logged with a version (default: the champion's).

    Raises:
        RegistryError: no version given and no champion yet.
    """
    from driftloop.drift import Profile

    client = mlflow_client(cfg)
    if version is None:
        current = champion(cfg)
        if current is None:
            raise RegistryError(f"{cfg.model_name} has no champion: no reference profile yet")
        version = str(current.version)
    mv = client.get_model_version(cfg.model_name, str(version))
    return Profile.from_json(read_run_text(cfg, run_id_of(mv), PROFILE_ARTIFACT))


# -- gate ---------------------------------------------------------------------------------------
def evaluate_challenger(
    cfg: PipelineConfig, version: str, min_improvement: float | None = None
) -> GateDecision:
    """Gate ``version`` against the champion, both scored on the challenger's own holdout.

    The champion's logged metrics came from an older holdout; re-scoring it on the same rows is the
    only fair comparison. The decision is recorded on the version and in storage (``-gate`` record).
    Runs under the champion lock; the decision names the champion it was made against.
    """
    with champion_lock(cfg):
        return _evaluate_challenger(cfg, version, min_improvement)


def gate_and_promote(
    cfg: PipelineConfig,
    version: str,
    *,
    reason: str,
    actor: str,
    min_improvement: float | None = None,
    auto_promote: bool = True,
    first_only: bool = False,
) -> tuple[GateDecision, dict[str, Any] | None]:
    """Gate ``version`` and, if it passes and ``auto_promote``, promote it, under one lock.

    Nothing can move the champion between the comparison and the alias move.
    ``first_only``: promote only a first model (challengers then earn promotion in shadow).
    Returns the decision and the promotion record (None when not promoted).
    """
    with champion_lock(cfg):
        decision = _evaluate_challenger(cfg, version, min_improvement)
        promoted = None
        first = decision.champion_version is None
        if decision.promote and auto_promote and (first or not first_only):
            promoted = _promote(cfg, version, f"{reason}; gate: {decision.reason}", actor, decision)
    return decision, promoted


def _evaluate_challenger(
    cfg: PipelineConfig, version: str, min_improvement: float | None
) -> GateDecision:
    import pandas as pd

    from driftloop.core.storage import as_date
    from driftloop.data.windows import frame_digest, load_days
    from driftloop.model.model_io import load_model
    from driftloop.model.pipeline import evaluate

    client = mlflow_client(cfg)
    version = str(version)
    mv = client.get_model_version(cfg.model_name, version)
    run = client.get_run(run_id_of(mv))
    table = metric_table(cfg.dataset.task)
    challenger_metrics = {k: v for k, v in run.data.metrics.items() if k in table.names}
    gate_cfg = cfg.gate
    if min_improvement is not None:
        gate_cfg = gate_cfg.model_copy(update={"min_improvement": float(min_improvement)})

    current = champion(cfg)
    champion_metrics: dict[str, float] | None = None
    if current is not None and str(current.version) == version:
        raise RegistryError(f"{cfg.model_name} v{version} is already the champion")
    if current is not None:
        spec = json.loads(read_run_text(cfg, run_id_of(mv), HOLDOUT_ARTIFACT))
        as_of = spec.get("labels_as_of")  # the labels the training saw, not those landed since
        holdout = load_days(
            cfg, [as_date(d) for d in spec["partitions"]], labels_as_of=as_of and as_date(as_of)
        )
        digest = frame_digest(holdout, spec["digest_columns"])
        if digest != spec["digest"] or len(holdout) != spec["n_rows"]:
            raise RegistryError(
                f"the holdout of v{version} ({spec['partitions']}) changed since training "
                f"(digest {digest} != {spec['digest']}): cannot compare on the same rows"
            )
        model = load_model(cfg, str(current.version))
        all_metrics = evaluate(model, pd.DataFrame(holdout), cfg)
        champion_metrics = {k: v for k, v in all_metrics.items() if k in table.names}

    decision = evaluate_gate(
        challenger_metrics,
        champion_metrics,
        gate_cfg,
        challenger_version=version,
        metrics=table,
        champion_version=str(current.version) if current is not None else None,
    )
    key = _record_gate(cfg, mv, decision)
    log.info(
        "gate %s v%s against champion %s (%s): %s; record: %s",
        "passes" if decision.promote else "rejects",
        version,
        f"v{decision.champion_version}" if decision.champion_version else "none",
        decision.rule,
        decision.reason,
        key,
    )
    return decision


def _record_gate(cfg: PipelineConfig, mv: ModelVersion, decision: GateDecision) -> str:
    client = mlflow_client(cfg)
    verdict = "promote" if decision.promote else "reject"
    run_tags = client.get_run(run_id_of(mv)).data.tags
    days = json.loads(run_tags.get(TAG_PARTITIONS) or "[]")
    pm = decision.primary_metric
    metric = f"{pm} {_fmt(decision.challenger_metrics.get(pm))}"
    if decision.champion_metrics:
        metric += (
            f" (champion v{decision.champion_version}: {_fmt(decision.champion_metrics.get(pm))})"
        )
    tags = {
        TAG_PRIMARY_METRIC: metric,
        TAG_TRAINED_WINDOW: f"{days[0]}..{days[-1]}" if days else "unknown",
        TAG_TRIGGER: run_tags.get(TAG_REASON) or "unknown",
    }
    for key, value in tags.items():
        client.set_model_version_tag(cfg.model_name, mv.version, key, value[:5000])
    _decide(
        cfg,
        mv,
        f"gate: {verdict} ({decision.rule})",
        decision.reason,
        {"action": "gate", "actor": "gate"},
        gate=decision.to_dict(),
    )
    return write_record(cfg, mv, "gate", {"decision": decision.to_dict()})


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:.4f}"


# -- promotion / rollback -----------------------------------------------------------------------
def promote(
    cfg: PipelineConfig,
    version: str,
    reason: str,
    actor: str,
    decision: GateDecision | None = None,
) -> dict[str, Any]:
    """Make ``version`` the champion; the current champion becomes ``previous_champion``.

    Promoting the current champion again changes nothing (idempotent reruns) but is still recorded.
    Runs under the champion lock.

    Raises:
        StaleDecision: ``decision`` was made against another champion than the current one (it
            moved since the gate): gate the version again.
        RegistryError: unknown version.
    """
    with champion_lock(cfg):
        return _promote(cfg, version, reason, actor, decision)


def _promote(
    cfg: PipelineConfig,
    version: str,
    reason: str,
    actor: str,
    decision: GateDecision | None,
    on_day: str | None = None,
) -> dict[str, Any]:
    client = mlflow_client(cfg)
    version = str(version)
    mv = get_version(cfg, version)
    if TAG_ORPHAN in (mv.tags or {}):
        raise RegistryError(
            f"{cfg.model_name} v{version} is an orphan and cannot be promoted: "
            f"{mv.tags[TAG_ORPHAN]}"
        )
    current = aliases(cfg).get(CHAMPION)
    changed = current != version
    if changed and decision is not None and decision.champion_version != current:
        raise StaleDecision(
            f"{cfg.model_name} v{version} was gated against champion "
            f"{_v(decision.champion_version)}, but the champion is now {_v(current)}: "
            "gate it again before promoting"
        )
    if changed:
        if current is not None:
            client.set_registered_model_alias(cfg.model_name, PREVIOUS_CHAMPION, current)
        client.set_registered_model_alias(cfg.model_name, CHAMPION, version)
    if aliases(cfg).get(CHALLENGER) == version:
        client.delete_registered_model_alias(cfg.model_name, CHALLENGER)
    if TAG_SHADOW_SINCE in (mv.tags or {}):  # promoted out of its shadow (by a person or a win)
        client.delete_model_version_tag(cfg.model_name, version, TAG_SHADOW_SINCE)
    record = {
        "previous_champion": current,
        "champion": version,
        "changed": changed,
        "reason": reason,
        "actor": actor,
        "decision": decision.to_dict() if decision else None,
        **_on_day(on_day),
        SERVED_FROM: _served_from(cfg, mv, "promote", on_day, changed),
    }
    key = write_record(cfg, mv, "promote", record)
    event = {"action": "promote", "actor": actor, "previous_champion": current, "record": key}
    _decide(cfg, mv, f"promoted to champion by {actor}", reason, event)
    log.info("%s v%s is champion (was %s): %s", cfg.model_name, version, current, reason)
    return {**record, "record": key}


def rollback(cfg: PipelineConfig, reason: str, actor: str) -> dict[str, Any]:
    """Give ``champion`` back to ``previous_champion``; the demoted version becomes the previous one.

    Runs under the champion lock.

    Raises:
        RegistryError: there is no previous champion to roll back to.
    """
    with champion_lock(cfg):
        return _rollback(cfg, reason, actor)


def _rollback(cfg: PipelineConfig, reason: str, actor: str) -> dict[str, Any]:
    client = mlflow_client(cfg)
    current = aliases(cfg)
    restored, demoted = current.get(PREVIOUS_CHAMPION), current.get(CHAMPION)
    if restored is None:
        raise RegistryError(
            f"{cfg.model_name} has no {PREVIOUS_CHAMPION}: nothing to roll back to "
            f"(champion: {demoted or 'none'})"
        )
    client.set_registered_model_alias(cfg.model_name, CHAMPION, restored)
    if demoted is not None:
        client.set_registered_model_alias(cfg.model_name, PREVIOUS_CHAMPION, demoted)
    restored_mv = get_version(cfg, restored)
    action = f"rollback-from-v{demoted}"
    record = {
        "champion": restored,
        "previous_champion": demoted,
        "reason": reason,
        "actor": actor,
        SERVED_FROM: _served_from(cfg, restored_mv, action, None, True),
    }
    key = write_record(cfg, restored_mv, action, record)
    event = {"action": "rollback", "actor": actor, "champion": restored, "record": key}
    if demoted is not None:
        _decide(cfg, get_version(cfg, demoted), f"rolled back by {actor}", reason, event)
    _decide(cfg, restored_mv, f"restored to champion by {actor}", reason, event)
    log.info("%s rolled back: v%s -> v%s: %s", cfg.model_name, demoted, restored, reason)
    return {**record, "record": key}


def reject(cfg: PipelineConfig, version: str, reason: str, actor: str) -> dict[str, Any]:
    """Record that the promotion of ``version`` was turned down (by a person or the approval
    timeout) and why; aliases stay as they are."""
    with champion_lock(cfg):
        return _reject(cfg, version, reason, actor)


def _reject(
    cfg: PipelineConfig, version: str, reason: str, actor: str, on_day: str | None = None
) -> dict[str, Any]:
    mv = get_version(cfg, str(version))
    record = {"champion": aliases(cfg).get(CHAMPION), "reason": reason, "actor": actor}
    record.update(_on_day(on_day))
    key = write_record(cfg, mv, "rejected", record)
    _decide(
        cfg,
        mv,
        f"promotion rejected by {actor}",
        reason,
        {"action": "rejected", "actor": actor, "record": key},
    )
    return {**record, "record": key}


# -- shadow ---------------------------------------------------------------------------------------


def shadow_challenger(cfg: PipelineConfig) -> dict[str, str] | None:
    """The challenger in shadow: ``{"version", "since", "champion_version"}``, or None.

    Only the version behind the ``challenger`` alias can be in shadow: a newer training moves the
    alias and ends the shadow of the version it left (:func:`set_challenger`).
    """
    mv = version_by_alias(cfg, CHALLENGER)
    tags = (mv.tags or {}) if mv is not None else {}
    if mv is None or TAG_SHADOW_SINCE not in tags:
        return None
    return {
        "version": str(mv.version),
        "since": tags[TAG_SHADOW_SINCE],
        "champion_version": tags.get(TAG_SHADOW_CHAMPION, ""),
    }


def start_shadow(
    cfg: PipelineConfig, version: str, decision: GateDecision, since: str
) -> dict[str, Any]:
    """Keep a challenger that passed the gate in shadow from partition ``since`` (not promoted).

    It keeps the ``challenger`` alias and is scored beside the champion on every new partition
    until ``gate.shadow_partitions`` of them have labels (:mod:`driftloop.monitor.shadow`).
    """
    with champion_lock(cfg):
        client = mlflow_client(cfg)
        mv = get_version(cfg, version)
        _point_challenger(cfg, str(version))
        n = cfg.gate.shadow_partitions
        text = f"in shadow since {since} against champion {_v(decision.champion_version)}"
        tags = {
            TAG_SHADOW: f"{text}; 0/{n} labelled partitions compared",
            TAG_SHADOW_SINCE: since,
            TAG_SHADOW_CHAMPION: decision.champion_version or "",
        }
        for key, value in tags.items():
            client.set_model_version_tag(cfg.model_name, mv.version, key, value)
        reason = f"gate: {decision.reason}; promoted only if it beats the champion on {n} labelled partitions"
        key = write_record(
            cfg,
            mv,
            "shadow",
            {
                "since": since,
                "champion": decision.champion_version,
                "decision": decision.to_dict(),
                "reason": reason,
                "actor": "gate (shadow)",
            },
        )
        _decide(cfg, mv, text, reason, {"action": "shadow", "actor": "gate", "record": key})
    log.info("%s v%s %s", cfg.model_name, version, text)
    return {"version": str(version), "since": since, "record": key}


def record_shadow_partition(
    cfg: PipelineConfig, version: str, comparison: dict[str, Any], progress: str
) -> str:
    """Record one partition compared in shadow (``v<version>-shadow-<day>``)."""
    client = mlflow_client(cfg)
    mv = get_version(cfg, version)
    since = (mv.tags or {}).get(TAG_SHADOW_SINCE, "?")
    client.set_model_version_tag(
        cfg.model_name, mv.version, TAG_SHADOW, f"in shadow since {since}; {progress}"
    )
    body = {"comparison": comparison, **_on_day(comparison["partition"])}
    return write_record(cfg, mv, f"shadow-{comparison['partition']}", body)


def end_shadow(
    cfg: PipelineConfig,
    version: str,
    outcome: str,
    reason: str,
    actor: str,
    on_day: str | None = None,
) -> dict[str, Any]:
    """End a shadow that did not win: the challenger alias is removed and the version tagged.

    ``on_day``: the partition day of the review that decided (the record's ``partition_date``, so
    the monitoring timeline places the decision there rather than on the training day).

    ``outcome`` says how it ended (e.g. ``lost in shadow``, ``shadow timed out``).
    """
    with champion_lock(cfg):
        client = mlflow_client(cfg)
        mv = get_version(cfg, version)
        if aliases(cfg).get(CHALLENGER) == str(version):
            client.delete_registered_model_alias(cfg.model_name, CHALLENGER)
        client.set_model_version_tag(
            cfg.model_name, mv.version, TAG_SHADOW, f"{outcome}: {reason}"[:5000]
        )
        client.delete_model_version_tag(cfg.model_name, mv.version, TAG_SHADOW_SINCE)
        return _reject(cfg, str(version), f"{outcome}: {reason}", actor, on_day)


def record_shadow_win(
    cfg: PipelineConfig, version: str, decision: GateDecision, evidence: str
) -> str:
    """Record that ``version`` won in shadow and waits for a person (``gate.auto_promote`` off).

    It keeps the ``challenger`` alias; the record carries the decision to promote it with and the
    per-partition evidence (``v<version>-shadow-won``).
    """
    client = mlflow_client(cfg)
    mv = get_version(cfg, version)
    client.set_model_version_tag(
        cfg.model_name,
        mv.version,
        TAG_SHADOW,
        f"won in shadow, awaiting approval: {decision.reason}"[:5000],
    )
    body = {"decision": decision.to_dict(), "evidence": evidence, "reason": decision.reason}
    return write_record(cfg, mv, "shadow-won", body)


def promote_from_shadow(
    cfg: PipelineConfig,
    version: str,
    decision: GateDecision,
    reason: str,
    actor: str,
    on_day: str | None = None,
) -> dict[str, Any]:
    """Promote a challenger that won in shadow (against the champion it was measured against);
    ``on_day`` as for :func:`end_shadow`."""
    with champion_lock(cfg):
        record = _promote(cfg, version, reason, actor, decision, on_day)
        mlflow_client(cfg).set_model_version_tag(
            cfg.model_name, version, TAG_SHADOW, f"won in shadow: {reason}"[:5000]
        )
    return record


# -- what a version shows: tags, description, decision.json ---------------------------------------
def _decide(
    cfg: PipelineConfig,
    mv: ModelVersion,
    decision: str,
    reason: str,
    event: dict[str, Any],
    gate: dict[str, Any] | None = None,
) -> None:
    """Record a decision on ``mv``: the two tags a person reads, a description line, and the event
    appended to the run's ``decision.json`` (the gate's full decision replaces the stored one)."""
    client = mlflow_client(cfg)
    client.set_model_version_tag(cfg.model_name, mv.version, TAG_DECISION, decision)
    client.set_model_version_tag(cfg.model_name, mv.version, TAG_DECISION_REASON, reason[:5000])
    _describe(cfg, mv.version, f"{decision[:1].upper()}{decision[1:]}: {reason}")
    body = decision_record(cfg, str(mv.version)) or {
        "model_name": cfg.model_name,
        "version": str(mv.version),
        "gate": None,
        "history": [],
    }
    if gate is not None:
        body["gate"] = gate
    at = datetime.now(UTC).isoformat(timespec="seconds")
    body["history"].append({**event, "decision": decision, "reason": reason, "recorded_at": at})
    client.log_text(run_id_of(mv), json.dumps(body, indent=2, default=str), DECISION_ARTIFACT)


def decision_record(cfg: PipelineConfig, version: str) -> dict[str, Any] | None:
    """The run's ``decision.json`` of ``version``: ``{"gate": <gate decision>, "history": [...]}``
    (each history entry: action, actor, decision, reason, recorded_at); None before the gate."""
    client = mlflow_client(cfg)
    run_id = run_id_of(get_version(cfg, version))
    if DECISION_ARTIFACT not in {a.path for a in client.list_artifacts(run_id)}:
        return None
    body: dict[str, Any] = json.loads(read_run_text(cfg, run_id, DECISION_ARTIFACT))
    return body


# -- audit --------------------------------------------------------------------------------------
def record_key(cfg: PipelineConfig, version: str, action: str) -> str:
    """Storage key of the audit record of ``action`` on ``version``."""
    return f"{DECISIONS_PREFIX}/{cfg.model_name}/v{version}-{action}.json"


def write_record(cfg: PipelineConfig, mv: ModelVersion, action: str, body: dict[str, Any]) -> str:
    """Write an audit record; returns its URI."""
    from driftloop.core.storage import open_store

    run_tags = mlflow_client(cfg).get_run(run_id_of(mv)).data.tags
    record = {
        "model_name": cfg.model_name,
        "version": str(mv.version),
        "run_id": mv.run_id,
        "action": action,
        "partition_date": run_tags.get(TAG_PARTITION_DATE),
        **body,
        # Wall-clock time is extra information only; the partition date identifies the decision.
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    store = open_store(cfg.storage)
    key = record_key(cfg, str(mv.version), action)
    store.write_bytes(key, json.dumps(record, indent=2, sort_keys=True, default=str).encode())
    return store.uri(key)


def read_record(cfg: PipelineConfig, version: str, action: str) -> dict[str, Any] | None:
    """The audit record of ``action`` on ``version`` (see :func:`record_key`), or None."""
    from driftloop.core.storage import open_store

    store = open_store(cfg.storage)
    key = record_key(cfg, version, action)
    return store.read_json(key) if store.exists(key) else None


def read_records(cfg: PipelineConfig) -> list[dict[str, Any]]:
    """All audit records of the pipeline's model, ordered by key."""
    from driftloop.core.storage import open_store

    store = open_store(cfg.storage)
    return [store.read_json(k) for k in store.list(f"{DECISIONS_PREFIX}/{cfg.model_name}/")]


# -- the champion serving on a day ---------------------------------------------------------------
def _served_from(
    cfg: PipelineConfig, mv: ModelVersion, action: str, on_day: str | None, changed: bool
) -> list[str]:
    """The first partition days from which ``mv`` serves as champion through ``action``: the
    earlier ones of a rewritten record, plus the day after this decision when it moves the alias.

    A decision takes effect after the newest day already checked (that day was scored and judged
    with the champion of its time) and after the day it was made for: the version's training
    partition, or ``on_day`` (a shadow review). So the check of the day a retrain was triggered on
    still judges the champion that scored it, in a day-by-day run, a backfill or a rerun.
    """
    from driftloop.core.storage import DRIFT, as_date, open_store

    earlier = (read_record(cfg, str(mv.version), action) or {}).get(SERVED_FROM) or []
    served = set(earlier)
    if changed:
        decided = on_day or mlflow_client(cfg).get_run(run_id_of(mv)).data.tags.get(
            TAG_PARTITION_DATE
        )
        checked = open_store(cfg.storage).partitions(DRIFT)
        after = [as_date(decided)] if decided else []
        after += checked[-1:]
        if after:
            served.add((max(after) + timedelta(days=1)).isoformat())
    return sorted(served)


def champion_on(cfg: PipelineConfig, day: date) -> str | None:
    """The version that was champion on partition ``day``, from the audit records of promotions
    and rollbacks (each lists the days it started serving from), not from today's alias.

    A registry whose aliases were moved without records (none at all) answers with the alias; a
    promotion recorded before ``served_from`` existed serves from the day after its partition date.
    None: no champion yet on ``day``.
    """
    from driftloop.core.storage import as_date

    starts: list[tuple[date, str, str]] = []
    for r in read_records(cfg):
        action = str(r.get("action") or "")
        if action != "promote" and not action.startswith("rollback-from-v"):
            continue
        served = r.get(SERVED_FROM)
        if served is None and action == "promote" and r.get("changed", True):
            served = [(as_date(r["partition_date"]) + timedelta(days=1)).isoformat()]
        for first in served or []:
            starts.append((as_date(first), str(r.get("recorded_at") or ""), str(r["champion"])))
    if not starts:
        return aliases(cfg).get(CHAMPION)
    serving = [s for s in sorted(starts) if s[0] <= day]
    return serving[-1][2] if serving else None


def get_version(cfg: PipelineConfig, version: str) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client(cfg).get_model_version(cfg.model_name, str(version))
    except MlflowException as err:
        raise RegistryError(f"{cfg.model_name} has no version {version!r}: {err.message}") from err


def _on_day(day: str | None) -> dict[str, str]:
    """The partition date of a decision made on another day than the version's training."""
    return {"partition_date": day} if day else {}


def _v(version: str | None) -> str:
    return f"v{version}" if version else "none"


def _describe(cfg: PipelineConfig, version: str, line: str) -> None:
    """Append ``line`` to the version's description (the registry UI's human-readable history)."""
    client = mlflow_client(cfg)
    current = client.get_model_version(cfg.model_name, str(version)).description or ""
    text = f"{current}\n{line}".strip() if line not in current else current
    client.update_model_version(cfg.model_name, str(version), description=text)


__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DECISIONS_PREFIX",
    "PREVIOUS_CHAMPION",
    "SERVED_FROM",
    "RegistryError",
    "StaleDecision",
    "aliases",
    "champion",
    "champion_on",
    "decision_record",
    "end_shadow",
    "evaluate_challenger",
    "gate_and_promote",
    "get_version",
    "load_reference_profile",
    "promote",
    "promote_from_shadow",
    "read_record",
    "read_records",
    "record_key",
    "record_shadow_partition",
    "record_shadow_win",
    "reject",
    "rollback",
    "set_challenger",
    "shadow_challenger",
    "start_shadow",
    "version_by_alias",
    "write_record",
]
