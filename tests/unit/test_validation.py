"""The committed GX suite matches the config, and running validation leaves the GX project untouched."""

from __future__ import annotations

import hashlib
import os
from datetime import date

import pytest

from driftloop.core.errors import EXIT_USAGE, exit_code_for
from driftloop.data import synth, validation
from driftloop.data.ingest import parse_features

pytestmark = pytest.mark.unit


def _tree_digest(root) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_committed_suite_is_what_the_config_generates(cfg) -> None:
    assert validation.stale_gx_files(cfg) == []
    kinds = {e["type"] for e in validation.suite_definition(cfg)["expectations"]}
    assert {
        "expect_table_columns_to_match_set",
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
    } <= kinds


def test_validation_reports_failures_and_writes_no_file_in_the_gx_project(cfg) -> None:
    day = date(2026, 1, 3)
    before = _tree_digest(cfg.gx_root())
    df = synth.generate_day(cfg, day, synth.Scenario(), seed=1, rows=400).features
    df.loc[df.index[:3], "plan"] = "platinum"
    df.loc[df.index[3], "age"] = 7
    typed = parse_features(cfg, df.to_csv(index=False).encode())

    outcome = validation.validate_frame(cfg, typed, day)

    assert not outcome.success
    failed = {(f.column, f.expectation): f for f in outcome.failures}
    assert set(failed) == {
        ("plan", "expect_column_values_to_be_in_set"),
        ("age", "expect_column_values_to_be_between"),
    }
    assert failed["plan", "expect_column_values_to_be_in_set"].unexpected_count == 3
    assert "platinum" in outcome.summary
    assert outcome.docs_url and (cfg.data_docs_dir() / "index.html").exists()
    assert _tree_digest(cfg.gx_root()) == before


def test_generated_project_is_stable(cfg, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DRIFTLOOP__VALIDATION__GX_ROOT", str(tmp_path / "gx"))
    from driftloop.core.config import load_config

    own = load_config()
    assert len(validation.write_gx_project(own)) == 2
    assert validation.write_gx_project(own) == []
    unknown = load_config(environ={**os.environ, "DRIFTLOOP__VALIDATION__SUITE": "nope"})
    with pytest.raises(validation.SuiteNotFound, match="driftloop gx-suite"):
        # The committed files are read before any data is touched.
        validation.validate_frame(unknown, None, date(2026, 1, 1))  # type: ignore[arg-type]


def _suite_json(cfg) -> dict:
    import json

    return json.loads(validation.suite_path(cfg).read_text())


def test_a_hand_edited_suite_is_used_but_a_changed_config_value_is_refused(cfg_factory) -> None:
    cfg = cfg_factory()
    suite = _suite_json(cfg)
    # A hand edit of an expectation (not of the recorded inputs) is the reviewer's call: accepted.
    suite["expectations"] = suite["expectations"][1:]
    validation.check_suite_matches_config(cfg, suite)

    changed = cfg_factory(validation__max_rows="5000", dataset__label_delay_days="5")
    with pytest.raises(validation.SuiteOutOfDate) as err:
        validation.check_suite_matches_config(changed, suite)
    message = str(err.value)
    assert "validation.max_rows: suite 1000000, config 5000" in message
    assert "(set by DRIFTLOOP__VALIDATION__MAX_ROWS)" in message
    assert "label_delay_days" not in message  # not an input of the suite
    assert exit_code_for(err.value) == EXIT_USAGE


def test_a_suite_without_recorded_inputs_is_used_with_a_warning(cfg, caplog) -> None:
    suite = _suite_json(cfg)
    del suite["meta"]["config_inputs"]
    with caplog.at_level("WARNING", logger="driftloop.data.validation"):
        validation.check_suite_matches_config(cfg, suite)
    assert "records no config_inputs" in caplog.text


def test_the_partition_window_is_the_utc_day_plus_the_tolerance_on_both_sides(cfg_factory) -> None:
    cfg = cfg_factory(validation__partition_tolerance_hours="2")
    day = date(2026, 1, 10)
    df = synth.generate_day(cfg, day, synth.Scenario(), seed=1, rows=300).features
    edges = {
        "2026-01-09T22:00:00+00:00": True,  # earliest accepted
        "2026-01-09T21:59:59+00:00": False,  # 1 s too early
        "2026-01-11T01:59:59+00:00": True,  # latest accepted
        "2026-01-11T02:00:00+00:00": False,  # the end is exclusive
    }
    df.loc[df.index[: len(edges)], "event_time"] = list(edges)
    typed = parse_features(cfg, df.to_csv(index=False).encode())

    outcome = validation.validate_frame(cfg, typed, day)

    assert not outcome.success and outcome.out_of_partition_rows == 2
    [failure] = outcome.failures
    assert failure.expectation == validation.WINDOW_CHECK and failure.column == "event_time"
    assert sorted(failure.sample) == sorted(t for t, ok in edges.items() if not ok)
    assert failure.kwargs["min_value"] == "2026-01-09T22:00:00+00:00"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"DRIFTLOOP__VALIDATION__MIN_ROWS": "500", "DRIFTLOOP__VALIDATION__MAX_ROWS": "400"},
            "min_rows 500 > max_rows 400",
        ),
        ({"DRIFTLOOP__VALIDATION__UNKNOWN_LABEL_IDS": "drop"}, "validation.unknown_label_ids"),
        (
            {"DRIFTLOOP__VALIDATION__PARTITION_TOLERANCE_HOURS": "-1"},
            "validation.partition_tolerance_hours",
        ),
    ],
)
def test_validation_settings_are_checked_when_the_config_loads(override, message) -> None:
    from driftloop.core.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=message):
        load_config(environ=override)
