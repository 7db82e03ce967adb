"""The committed GX suite matches the config, and running validation leaves the GX project untouched."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date

import pytest

from driftloop.core.errors import EXIT_USAGE, exit_code_for
from driftloop.data import synth, validation
from driftloop.data.ingest import parse_features


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
    return json.loads(validation.suite_path(cfg).read_text())


def _typed_day(cfg, day: date, rows: int = 400, seed: int = 1, edit=None):
    df = synth.generate_day(cfg, day, synth.Scenario(), seed=seed, rows=rows).features
    if edit is not None:
        edit(df)
    return parse_features(cfg, df.to_csv(index=False).encode())


def test_a_committed_suite_disagreeing_with_the_config_fails_loudly(cfg_factory, tmp_path) -> None:
    cfg = cfg_factory(validation__gx_root=str(tmp_path / "gx"))
    validation.write_gx_project(cfg)
    suite = _suite_json(cfg)
    # A hand edit: the committed suite would silently win over the config's min_rows (200).
    [count] = [
        e for e in suite["expectations"] if e["type"] == "expect_table_row_count_to_be_between"
    ]
    count["kwargs"]["min_value"] = 50
    suite["expectations"] = [
        e for e in suite["expectations"] if e["type"] != "expect_column_values_to_be_unique"
    ]
    validation.suite_path(cfg).write_text(json.dumps(suite))

    with pytest.raises(validation.SuiteOutOfDate) as err:
        validation.validate_frame(cfg, _typed_day(cfg, date(2026, 1, 3)), date(2026, 1, 3))

    message = str(err.value)
    assert "expect_table_row_count_to_be_between: min_value: suite 50, config 200" in message
    assert "expect_column_values_to_be_unique(customer_id): missing from the suite" in message
    assert "driftloop gx-suite" in message
    assert exit_code_for(err.value) == EXIT_USAGE


def test_an_env_override_of_min_rows_changes_the_outcome(cfg_factory, caplog) -> None:
    day = date(2026, 1, 4)
    # The committed suite (min_rows 200, from the file) is left as it is.
    strict = cfg_factory()
    typed = _typed_day(strict, day, rows=150)
    assert 0 < len(typed) < 200
    outcome = validation.validate_frame(strict, typed, day)
    assert not outcome.success
    assert [f.expectation for f in outcome.failures] == ["expect_table_row_count_to_be_between"]

    lenient = cfg_factory(validation__min_rows="100")
    with caplog.at_level("INFO", logger="driftloop.data.validation"):
        outcome = validation.validate_frame(lenient, typed, day)
    assert outcome.success, outcome.summary
    assert "DRIFTLOOP__VALIDATION__MIN_ROWS" in caplog.text
    assert "min_value: suite 200, config 100" in caplog.text


def test_extra_expectations_from_a_user_file_are_applied(cfg_factory, tmp_path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "expectations:\n"
        "  - type: expect_column_mean_to_be_between\n"
        "    kwargs: {column: age, min_value: 90, max_value: 100}\n"
        "  - type: expect_column_value_lengths_to_be_between\n"
        "    kwargs: {column: plan, min_value: 1, max_value: 20}\n"
    )
    plain = cfg_factory(validation__gx_root=str(tmp_path / "gx"))
    validation.write_gx_project(plain)
    cfg = cfg_factory(validation__extra_expectations=str(extra))
    day = date(2026, 1, 5)
    typed = _typed_day(cfg, day)
    # Not yet in the committed suite: refused, named.
    with pytest.raises(validation.SuiteOutOfDate, match="expect_column_mean_to_be_between"):
        validation.validate_frame(cfg, typed, day)
    validation.write_gx_project(cfg)

    outcome = validation.validate_frame(cfg, typed, day)

    assert not outcome.success
    [failure] = outcome.failures
    assert (failure.expectation, failure.column) == ("expect_column_mean_to_be_between", "age")
    # The derived suite, the two extras and the partition-window check.
    assert outcome.evaluated == len(validation.suite_definition(plain)["expectations"]) + 3

    extra.write_text("[{type: expect_column_values_to_be_in_set, kwargs: {column: plan}}]")
    with pytest.raises(validation.ExtraExpectationsError, match="already derived from the config"):
        validation.suite_definition(cfg)


def test_numeric_categories_in_yaml_are_compared_as_strings(tmp_path, monkeypatch) -> None:
    import yaml

    from driftloop.core.config import load_config, project_root

    data = yaml.safe_load((project_root() / "configs" / "churn.yaml").read_text())
    [plan] = [f for f in data["dataset"]["features"] if f["name"] == "plan"]
    plan["categories"] = [1, 2, 3]
    data["validation"]["gx_root"] = str(tmp_path / "gx")
    data["validation"]["data_docs_dir"] = str(tmp_path / "docs")
    path = tmp_path / "codes.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = load_config(path, environ={})
    assert cfg.dataset.feature("plan").categories == ["1", "2", "3"]
    validation.write_gx_project(cfg)
    day = date(2026, 1, 6)

    def codes(df) -> None:
        df["plan"] = [str(1 + i % 3) for i in range(len(df))]

    assert validation.validate_frame(cfg, _typed_day(cfg, day, edit=codes), day).success

    def a_fourth(df) -> None:
        codes(df)
        df.loc[df.index[0], "plan"] = "4"

    outcome = validation.validate_frame(cfg, _typed_day(cfg, day, edit=a_fourth), day)
    assert [(f.column, f.unexpected_count, f.sample) for f in outcome.failures] == [
        ("plan", 1, ["4"])
    ]


def test_mostly_tolerates_a_few_rows_and_split_bad_rows_names_them(cfg_factory) -> None:
    day = date(2026, 1, 7)

    def outliers(df) -> None:
        df.loc[df.index[:3], "age"] = 7
        df.loc[df.index[2], "plan"] = "platinum"

    strict = cfg_factory()
    typed = _typed_day(strict, day, rows=1000, edit=outliers)
    outcome = validation.validate_frame(strict, typed, day)
    good, bad = validation.split_bad_rows(typed, outcome)
    assert (len(good), len(bad)) == (len(typed) - 3, 3)
    assert bad[validation.REASON_COLUMN].tolist() == [
        "age: expect_column_values_to_be_between",
        "age: expect_column_values_to_be_between",
        "age: expect_column_values_to_be_between; plan: expect_column_values_to_be_in_set",
    ]

    # Per-feature tolerance: age and plan may miss on 1% of rows; this day passes whole.
    tolerant = cfg_factory(validation__mostly="0.99")
    outcome = validation.validate_frame(tolerant, typed, day)
    assert outcome.success, outcome.summary
    assert {(t.column, t.unexpected_count) for t in outcome.tolerated} == {("age", 3), ("plan", 1)}
    assert outcome.tolerated_rows == 4

    # A partition-level failure (duplicate ids) cannot be split.
    typed.loc[typed.index[5], "customer_id"] = typed.loc[typed.index[6], "customer_id"]
    assert validation.split_bad_rows(typed, validation.validate_frame(strict, typed, day)) is None


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


@pytest.mark.parametrize("spill_hashes", [None, 64], ids=["in-memory", "spilled"])
def test_batch_by_batch_validation_of_a_parquet_file_gives_the_whole_frame_verdict(
    cfg, tmp_path, monkeypatch, spill_hashes
) -> None:
    """Counts summed over batches, mostly on the totals, row count and duplicates across batches
    (the id hashes kept in memory, or spilled to bucket files on disk after every batch)."""
    import pyarrow as pa

    if spill_hashes:
        monkeypatch.setattr(validation._WholePartition, "SPILL_HASHES", spill_hashes)
    import pyarrow.parquet as pq

    day = date(2026, 1, 8)

    def damage(df) -> None:
        df.loc[df.index[[3, 150, 350]], "age"] = 7  # in three different batches
        df.loc[df.index[-1], "customer_id"] = df.loc[df.index[0], "customer_id"]  # across batches
        df.loc[df.index[100:110], "data_usage_gb"] = None  # nullable: within max_null_fraction

    typed = _typed_day(cfg, day, rows=420, edit=damage)
    path = tmp_path / "day.parquet"
    pq.write_table(pa.Table.from_pandas(typed, preserve_index=False), path)

    whole = validation.validate_frame(cfg, typed, day)
    batched = validation.validate_parquet(cfg, path, day, batch_rows=100)

    def verdict(o):
        return (
            o.success,
            o.rows,
            o.evaluated,
            sorted((f.column, f.expectation, f.unexpected_count) for f in o.failures),
            sorted((t.column, t.expectation, t.unexpected_count) for t in o.tolerated),
        )

    assert verdict(batched) == verdict(whole)
    assert ("customer_id", "expect_column_values_to_be_unique", 2) in verdict(batched)[3]
    dupe = next(f for f in batched.failures if f.expectation.endswith("unique"))
    assert dupe.sample == [typed.loc[0, "customer_id"]] * 2
    assert batched.rows == len(typed) and batched.docs_url

    small = cfg.validation.min_rows - 1
    pq.write_table(pa.Table.from_pandas(typed.head(small), preserve_index=False), path)
    failures = validation.validate_parquet(cfg, path, day, batch_rows=50).failures
    [count] = [f for f in failures if f.expectation == "expect_table_row_count_to_be_between"]
    assert count.observed == small  # the whole file's rows, not a batch's


def test_streamed_ingest_writes_the_same_raw_table_as_parse_features(cfg, tmp_path) -> None:
    import pandas as pd

    from driftloop.data.ingest import StructuralError, write_raw_parquet

    df = synth.generate_day(cfg, date(2026, 1, 9), synth.Scenario(), seed=4, rows=2000).features
    src = tmp_path / "features.csv"
    src.write_bytes(df.to_csv(index=False).encode())
    out = tmp_path / "raw.parquet"

    rows = write_raw_parquet(cfg, src, out, block_size=16 << 10)  # many small blocks

    assert rows == len(df)
    pd.testing.assert_frame_equal(pd.read_parquet(out), parse_features(cfg, src.read_bytes()))
    df["tenure_months"] = df["tenure_months"].astype(object)
    df.loc[df.index[[5, len(df) - 5]], "tenure_months"] = "twelve"  # first and last block
    src.write_bytes(df.to_csv(index=False).encode())
    with pytest.raises(StructuralError, match=rf"'tenure_months': 2 of {len(df)} values"):
        write_raw_parquet(cfg, src, out, block_size=16 << 10)


def test_spilled_uniqueness_finds_the_duplicates_of_one_sort_and_cleans_up() -> None:
    """Hashes spilled to bucket files give the same duplicates (count and hashes) as one sort in
    memory, across batches and buckets; the bucket files are removed afterwards."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    ids = pd.Series([f"c{v}" for v in rng.integers(0, 40_000, 30_000)], dtype=object)
    ids[rng.integers(0, len(ids), 500)] = None
    memory = validation._WholePartition(["id"], rows_hint=len(ids))
    spilled = validation._WholePartition(["id"], rows_hint=len(ids))
    spilled.SPILL_HASHES = 1_000
    for start in range(0, len(ids), 2_500):
        batch = pd.DataFrame({"id": ids[start : start + 2_500]})
        memory.add(batch)
        spilled.add(batch)
    buckets = spilled._spilled["id"]
    assert len(list(buckets.iterdir())) == 16
    found = spilled.duplicates("id")
    expected = ids.dropna()
    assert found == memory.duplicates("id")
    assert found[0] == int(expected.duplicated(keep=False).sum()) > 0
    spilled.close()
    assert not buckets.exists()
