"""The committed GX suite matches the config, and running validation leaves the GX project untouched."""

from __future__ import annotations

import hashlib
import os
from datetime import date

import pytest

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
