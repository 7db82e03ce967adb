"""The champion serving on a day comes from the registry's records, not from today's alias."""

from __future__ import annotations

from datetime import date

from driftloop.core.storage import DRIFT
from driftloop.model import registry
from tests.support.registry import register_version


def _day(n: int) -> date:
    return date(2026, 1, n)


def _checked(store, *days: int) -> None:
    """Drift reports exist for ``days`` (what the newest checked day is read from)."""
    for n in days:
        store.write_partition(DRIFT, _day(n), {"report.json": b"{}"})


def test_a_version_serves_from_the_day_after_it_was_decided(cfg, store) -> None:
    """v1 (trained on day 5) serves from day 6; v2 (day 10) from day 11; days before: none."""
    v1, v2 = register_version(cfg, "2026-01-05"), register_version(cfg, "2026-01-10")
    _checked(store, 1, 2, 3, 4, 5)
    registry.promote(cfg, v1, "first model", "pytest")
    _checked(store, 6, 7, 8, 9, 10)
    registry.promote(cfg, v2, "retrain", "pytest")

    assert registry.champion_on(cfg, _day(5)) is None
    assert [registry.champion_on(cfg, _day(n)) for n in (6, 10, 11, 20)] == [v1, v1, v2, v2]
    assert registry.read_record(cfg, v2, "promote")["served_from"] == ["2026-01-11"]


def test_a_manual_action_serves_after_the_newest_checked_day(cfg, store) -> None:
    """A rollback and a re-promotion take effect after the newest day checked when they happen;
    earlier days keep the champion they had, and a version promoted twice keeps both starts."""
    v1, v2 = register_version(cfg, "2026-01-05"), register_version(cfg, "2026-01-10")
    _checked(store, 5)
    registry.promote(cfg, v1, "first model", "pytest")
    _checked(store, 10)
    registry.promote(cfg, v2, "retrain", "pytest")
    _checked(store, 14)
    registry.rollback(cfg, "v2 misbehaves", "pytest")
    _checked(store, 18)
    registry.promote(cfg, v2, "fixed upstream", "pytest")

    served = [registry.champion_on(cfg, _day(n)) for n in (6, 11, 14, 15, 18, 19)]
    assert served == [v1, v2, v2, v1, v1, v2]
    assert registry.read_record(cfg, v2, "promote")["served_from"] == ["2026-01-11", "2026-01-19"]
    assert registry.aliases(cfg)[registry.CHAMPION] == v2


def test_a_registry_without_records_answers_with_the_alias(cfg) -> None:
    """Aliases moved outside driftloop (no promotion record at all): today's champion."""
    from driftloop.tracking.mlflow import mlflow_client

    v1 = register_version(cfg, "2026-01-05")
    mlflow_client(cfg).set_registered_model_alias(cfg.model_name, registry.CHAMPION, v1)
    assert registry.champion_on(cfg, _day(1)) == v1
