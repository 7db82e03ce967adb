"""Bad input at the door: every kind gets its exact outcome, and nothing is lost.

Each kind is one delivery in ``landing/<DAY>/``: the bad file, plus (unless the kind is about labels)
a valid labels file of the same delivery. ``driftloop ingest --date DAY`` runs through the CLI's
entry point (``driftloop.cli.main.main``, in process: the same code as ``python -m
driftloop.cli.main``, without a second interpreter per kind) and must exit with the kind's code,
print the kind's status, keep the original bytes where the table says, give a reason naming the
problem, and still ingest the valid files of the delivery. The table of docs/reference/bad-input.md is this
table, row for row.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from driftloop.core import errors
from driftloop.core.storage import (
    LABELS,
    QUARANTINE,
    RAW,
    VALIDATED,
    Store,
    open_store,
    parquet_bytes,
)
from driftloop.data import synth

DAY = date(2026, 1, 10)
LABEL_DAY = DAY - timedelta(days=3)  # the demo config's label_delay_days
LANDING = f"landing/{DAY}"
FEATURES = "features.csv"
PARQUET = "features.parquet"
LABELS_FILE = f"labels_{LABEL_DAY}.csv"
LABELS_PARQUET = f"labels_{LABEL_DAY}.parquet"
Q_FEATURES = f"quarantine/date={DAY}"
Q_BAD_NAMES = f"quarantine/labels_bad_name/date={DAY}"
Q_LABELS = f"quarantine/labels/date={LABEL_DAY}"
Q_UNKNOWN = f"quarantine/labels_unknown_ids/date={LABEL_DAY}"
Q_ROWS = f"quarantine/rows/date={DAY}"
GHOSTS = b"ghost-1,1\nghost-2,0\nghost-3,1\n"  # label rows for ids never delivered as events


@dataclass(frozen=True)
class Batch:
    """The clean delivery the kinds are made from: features as delivered (strings), labels."""

    features: pd.DataFrame
    labels: pd.DataFrame


def _csv(df: pd.DataFrame, **kwargs: Any) -> bytes:
    return df.to_csv(
        index=False, lineterminator=kwargs.pop("lineterminator", "\n"), **kwargs
    ).encode()


def _set(df: pd.DataFrame, column: str, value: Any, rows: int = 3) -> pd.DataFrame:
    out = df.copy()
    out[column] = out[column].astype(object)
    out.loc[out.index[:rows], column] = value
    return out


def _malformed(b: Batch) -> bytes:
    lines = _csv(b.features).decode().splitlines()
    lines[5] += ",an,extra,field"
    return ("\n".join(lines) + "\n").encode()


def _duplicate_ids(b: Batch) -> bytes:
    df = b.features.copy()
    df.loc[df.index[1:4], "customer_id"] = df.loc[df.index[0], "customer_id"]
    return _csv(df)


def _shift_days(b: Batch, days: int, rows: int = 3) -> bytes:
    df = b.features.copy()
    ts = pd.to_datetime(df["event_time"].iloc[:rows], format="ISO8601") + timedelta(days=days)
    df.loc[df.index[:rows], "event_time"] = [t.isoformat() for t in ts]
    return _csv(df)


def _just_past_midnight(b: Batch) -> bytes:
    return _csv(_set(b.features, "event_time", f"{DAY + timedelta(days=1)}T00:30:00+00:00"))


def _non_utf8(b: Batch) -> bytes:
    text = _set(b.features, "customer_id", "Cé-1", rows=1).to_csv(index=False, lineterminator="\n")
    return text.encode("latin-1")


def _clean(b: Batch) -> bytes:
    return _csv(b.features)


def _labels(b: Batch) -> bytes:
    return _csv(b.labels)


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _typed(b: Batch) -> pd.DataFrame:
    """The clean features as a producer writing Parquet would type them (the raw table)."""
    from driftloop.core.config import load_config
    from driftloop.data.ingest import parse_features

    return parse_features(load_config(environ={}), _csv(b.features))


def _parquet_wrong_types(b: Batch) -> bytes:
    typed = _typed(b)
    return _parquet(typed.assign(tenure_months=typed["tenure_months"].astype(str)))


def _rows_delivered(name: str, data: bytes) -> int:
    if name.endswith(".parquet"):
        return len(pd.read_parquet(io.BytesIO(data)))
    return len(pd.read_csv(io.BytesIO(data), encoding="utf-8-sig"))


# -- kind-specific assertions (beyond the common ones in the test) ---------------------------------
@dataclass
class Ran:
    cfg: Any
    store: Store
    batch: Batch
    result: dict[str, Any] | None
    stderr: str
    warnings: list[str]  # WARNING log lines of the run


def _validated_equals_clean(ran: Ran) -> None:
    """The delivery is accepted as exactly the clean batch (columns by name, bytes decoded right)."""
    from driftloop.data.ingest import parse_features

    got = ran.store.read_table(VALIDATED, DAY)
    pd.testing.assert_frame_equal(got, parse_features(ran.cfg, _csv(ran.batch.features)))


def _null_count(ran: Ran) -> None:
    reason = json.loads(ran.store.read_bytes(f"{Q_FEATURES}/reason.json"))
    failed = {f["column"]: f for f in reason["failed_expectations"]}
    assert failed["data_usage_gb"]["unexpected_count"] == len(ran.batch.features) // 5


def _counted_out_of_partition(ran: Ran) -> None:
    assert ran.result is not None
    assert ran.result["out_of_partition_rows"] == 3
    [warning] = ran.result["warnings"]
    assert "3 unexpected rows" in warning and "2024-01-" in warning
    assert any("accepted with a warning" in w and "3 unexpected rows" in w for w in ran.warnings)
    assert len(ran.store.read_table(VALIDATED, DAY)) == len(ran.batch.features)


def _unknown_ids_quarantined(ran: Ran) -> None:
    labels = ran.store.read_table(LABELS, LABEL_DAY)
    assert len(labels) == len(ran.batch.labels)
    assert not labels["customer_id"].str.startswith("ghost").any()
    kept = pd.read_csv(io.BytesIO(ran.store.read_bytes(f"{Q_UNKNOWN}/unknown_ids.csv")))
    assert kept["customer_id"].tolist() == ["ghost-1", "ghost-2", "ghost-3"]
    assert ran.result is not None and ran.result["labels_unknown_ids"] == 3


def _unknown_ids_kept(ran: Ran) -> None:
    labels = ran.store.read_table(LABELS, LABEL_DAY)
    assert len(labels) == len(ran.batch.labels) + 3
    assert ran.store.partitions("quarantine/labels_unknown_ids") == []
    assert ran.result is not None
    [outcome] = ran.result["labels"]
    assert outcome["unknown_ids"] == 3 and outcome["unknown_ids_kept"] is True
    assert "kept" in outcome["message"]
    assert any("unknown_label_ids=warn" in w for w in ran.warnings)


def _rows_split(ran: Ran) -> None:
    """Row-level quarantine: the 3 bad rows set apart with their reasons, the rest validated."""
    assert ran.result is not None and ran.result["quarantined_rows"] == 3
    assert len(ran.store.read_table(VALIDATED, DAY)) == len(ran.batch.features) - 3
    bad = pd.read_csv(io.BytesIO(ran.store.read_bytes(f"{Q_ROWS}/rows.csv")))
    assert bad["age"].tolist() == [250, 250, 250]
    assert set(bad["_failed_expectations"]) == {"age: expect_column_values_to_be_between"}
    reason = json.loads(ran.store.read_bytes(f"{Q_ROWS}/reason.json"))
    assert reason["quarantined_rows"] == 3
    assert any("3 of " in w and "quarantined" in w for w in ran.warnings)


def _tolerated(ran: Ran) -> None:
    assert ran.result is not None and ran.result["tolerated_rows"] == 3
    assert ran.result["quarantined_rows"] == 0
    assert "tolerated: age: expect_column_values_to_be_between" in ran.result["message"]


def _hand_edited_suite(suite: dict[str, Any]) -> None:
    for e in suite["expectations"]:
        if e["type"] == "expect_table_row_count_to_be_between":
            e["kwargs"]["min_value"] = 50


def _nothing_written(ran: Ran) -> None:
    for zone in (RAW, VALIDATED, QUARANTINE, LABELS):
        assert ran.store.partitions(zone) == [], zone
    assert ran.result is None  # refused before any result


def _path_stays_inside(ran: Ran) -> None:
    keys = ran.store.list("")
    outside = [
        k for k in keys if "evil" in k and not k.startswith((f"{LANDING}/", f"{Q_BAD_NAMES}/"))
    ]
    assert outside == [], outside
    reason = json.loads(ran.store.read_bytes(f"{Q_BAD_NAMES}/reason.json"))
    assert reason["stored_as"] == {"labels_../../../evil.csv": "labels_.._.._.._evil.csv"}


# -- the table -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """One kind of bad input and its exact outcome."""

    features: Callable[[Batch], bytes] | None  # None: the delivery has no features file
    exit: int
    status: str | None  # the JSON result's status; None: refused with a one-line error
    # delivered file -> folder that must hold its original bytes (and a reason.json)
    kept: dict[str, str] = field(default_factory=dict)
    needles: tuple[str, ...] = ()  # in that reason's summary, or on stderr for a refusal
    stage: str | None = None  # reason.json's stage
    # other files of the delivery (name -> bytes); by default a valid labels file
    others: dict[str, Callable[[Batch], bytes]] = field(
        default_factory=lambda: {LABELS_FILE: _labels}
    )
    labels_ingested: bool = True  # the valid labels file of the delivery reaches labels/
    env: dict[str, str] = field(default_factory=dict)
    regenerate_suite: bool = False  # run `gx-suite` for the effective config first (own GX root)
    edit_suite: Callable[[dict[str, Any]], None] | None = None  # then edit it by hand
    validate_label_day: bool = False  # the label day's events validated first (ids checkable)
    s3: bool = False  # an object store, where a key can hold '/' and '..'
    config: str | None = None  # a config file to pass with --config (its text)
    check: Callable[[Ran], None] | None = None
    features_name: str = FEATURES  # features.csv or features.parquet


ACCEPTED: dict[str, Any] = {"exit": 0, "status": "validated"}
QUARANTINED: dict[str, Any] = {
    "exit": errors.EXIT_QUARANTINED,
    "status": "quarantined",
    "kept": {FEATURES: Q_FEATURES},
}
REFUSED: dict[str, Any] = {
    "exit": errors.EXIT_USAGE,
    "status": None,
    "labels_ingested": False,
    "check": _nothing_written,
}

KINDS: dict[str, Kind] = {
    "malformed CSV": Kind(_malformed, **QUARANTINED, stage="ingest", needles=("malformed CSV",)),
    "wrong delimiter": Kind(
        lambda b: _csv(b.features, sep=";"),
        **QUARANTINED,
        stage="ingest",
        needles=("missing columns",),
    ),
    "missing column": Kind(
        lambda b: _csv(b.features.drop(columns=["contract"])),
        **QUARANTINED,
        stage="ingest",
        needles=("missing columns: ['contract']",),
    ),
    "extra column": Kind(
        lambda b: _csv(b.features.assign(promo_code="X")),
        **QUARANTINED,
        stage="validation",
        needles=("expect_table_columns_to_match_set", "promo_code"),
    ),
    "shuffled columns": Kind(
        lambda b: _csv(b.features[b.features.columns[::-1]]),
        **ACCEPTED,
        check=_validated_equals_clean,
    ),
    "wrong types": Kind(
        lambda b: _csv(_set(b.features, "tenure_months", "twelve")),
        **QUARANTINED,
        stage="ingest",
        needles=("column 'tenure_months': 3 of", "not numeric", "twelve"),
    ),
    "nulls over the limit": Kind(
        lambda b: _csv(_set(b.features, "data_usage_gb", None, rows=len(b.features) // 5)),
        **QUARANTINED,
        stage="validation",
        needles=("data_usage_gb: expect_column_values_to_not_be_null", "mostly=0.95"),
        check=_null_count,
    ),
    "empty file": Kind(
        lambda b: b"", **QUARANTINED, stage="ingest", needles=("the file is empty",)
    ),
    "header only": Kind(
        lambda b: _csv(b.features.head(0)),
        **QUARANTINED,
        stage="validation",
        needles=(
            "expect_table_row_count_to_be_between (min_value=200, max_value=1000000)",
            "observed 0",
        ),
    ),
    "duplicate ids": Kind(
        _duplicate_ids,
        **QUARANTINED,
        stage="validation",
        needles=("customer_id: expect_column_values_to_be_unique: 4 unexpected rows",),
    ),
    "out-of-range values": Kind(
        lambda b: _csv(_set(b.features, "age", 250)),
        **QUARANTINED,
        stage="validation",
        needles=("age: expect_column_values_to_be_between", "3 unexpected rows", "250"),
    ),
    "out-of-range values, bad_rows: quarantine_rows": Kind(
        lambda b: _csv(_set(b.features, "age", 250)),
        **ACCEPTED,
        env={"DRIFTLOOP__VALIDATION__BAD_ROWS": "quarantine_rows"},
        check=_rows_split,
    ),
    "out-of-range values within validation.mostly": Kind(
        lambda b: _csv(_set(b.features, "age", 250)),
        **ACCEPTED,
        env={"DRIFTLOOP__VALIDATION__MOSTLY": "0.98"},
        check=_tolerated,
    ),
    "unknown categories": Kind(
        lambda b: _csv(_set(b.features, "plan", "platinum")),
        **QUARANTINED,
        stage="validation",
        needles=("plan: expect_column_values_to_be_in_set", "3 unexpected rows", "platinum"),
    ),
    "non-UTF-8 encoding": Kind(
        _non_utf8, **QUARANTINED, stage="ingest", needles=("malformed CSV", "UTF8")
    ),
    "UTF-8 BOM": Kind(
        lambda b: b"\xef\xbb\xbf" + _csv(b.features),
        **ACCEPTED,
        check=_validated_equals_clean,
    ),
    "CRLF line endings": Kind(
        lambda b: _csv(b.features, lineterminator="\r\n"),
        **ACCEPTED,
        check=_validated_equals_clean,
    ),
    "very large file (over validation.max_rows)": Kind(
        lambda b: _csv(b.features),
        **QUARANTINED,
        stage="validation",
        needles=("expect_table_row_count_to_be_between (min_value=200, max_value=250)",),
        env={"DRIFTLOOP__VALIDATION__MAX_ROWS": "250"},
        regenerate_suite=True,
    ),
    "out-of-partition timestamps": Kind(
        lambda b: _shift_days(b, -731),
        **QUARANTINED,
        stage="validation",
        needles=(
            "event_time: expect_timestamps_within_partition_day",
            "3 unexpected rows",
            "e.g. ['2024-01-",
            "min_value=2026-01-09T23:00:00+00:00, max_value=2026-01-11T01:00:00+00:00",
            "tolerance_hours=1.0",
        ),
    ),
    "out-of-partition timestamps, out_of_partition: warn": Kind(
        lambda b: _shift_days(b, -731),
        **ACCEPTED,
        env={"DRIFTLOOP__VALIDATION__OUT_OF_PARTITION": "warn"},
        check=_counted_out_of_partition,
    ),
    "timestamps late within the tolerance": Kind(_just_past_midnight, **ACCEPTED),
    "Parquet delivery (features and labels)": Kind(
        lambda b: _parquet(_typed(b)),
        **ACCEPTED,
        features_name=PARQUET,
        others={LABELS_PARQUET: lambda b: _parquet(b.labels)},
        check=_validated_equals_clean,
    ),
    "Parquet with wrong column types": Kind(
        _parquet_wrong_types,
        exit=errors.EXIT_QUARANTINED,
        status="quarantined",
        kept={PARQUET: Q_FEATURES},
        features_name=PARQUET,
        stage="ingest",
        needles=("column 'tenure_months' has Parquet type", "expected integer or floating"),
    ),
    "unreadable Parquet": Kind(
        lambda b: _parquet(_typed(b))[:-100],  # cut short: no footer
        exit=errors.EXIT_QUARANTINED,
        status="quarantined",
        kept={PARQUET: Q_FEATURES},
        features_name=PARQUET,
        stage="ingest",
        needles=("unreadable Parquet file",),
    ),
    "CSV and Parquet in one delivery": Kind(
        lambda b: _parquet(_typed(b)),
        exit=errors.EXIT_QUARANTINED,
        status="quarantined",
        kept={PARQUET: Q_FEATURES, FEATURES: Q_FEATURES},
        features_name=PARQUET,
        others={LABELS_FILE: _labels, FEATURES: _clean},
        stage="ingest",
        needles=("both features.csv and features.parquet", "deliver one format"),
    ),
    "label file name with a path (traversal)": Kind(
        _clean,
        **ACCEPTED,
        others={LABELS_FILE: _labels, "labels_../../../evil.csv": _labels},
        kept={"labels_../../../evil.csv": f"{Q_BAD_NAMES}/labels_.._.._.._evil.csv"},
        needles=("labels file(s) delivered",),
        stage="labels",
        s3=True,
        check=_path_stays_inside,
    ),
    "labels file in a subfolder of the delivery": Kind(
        _clean,
        **ACCEPTED,
        others={LABELS_FILE: _labels, f"late/{LABELS_FILE}": _labels},
        kept={f"late/{LABELS_FILE}": f"{Q_BAD_NAMES}/late_{LABELS_FILE}"},
        needles=("1 labels file(s)",),
        stage="labels",
    ),
    "bad label file names": Kind(
        _clean,
        **ACCEPTED,
        others={
            LABELS_FILE: _labels,
            "labels_2026-13-45.csv": _labels,
            "labels-final.csv": _labels,
        },
        kept={
            "labels_2026-13-45.csv": f"{Q_BAD_NAMES}/labels_2026-13-45.csv",
            "labels-final.csv": f"{Q_BAD_NAMES}/labels-final.csv",
        },
        needles=("2 labels file(s)", "no label date"),
        stage="labels",
    ),
    "bad labels (target not 0/1)": Kind(
        _clean,
        **ACCEPTED,
        others={LABELS_FILE: lambda b: _labels(b).replace(b",0\n", b",2\n", 1)},
        kept={LABELS_FILE: f"{Q_LABELS}/{LABELS_FILE}"},
        needles=("1 targets not in {0, 1}",),
        stage="labels",
        labels_ingested=False,
    ),
    "bad Parquet labels (target as text)": Kind(
        _clean,
        **ACCEPTED,
        others={LABELS_PARQUET: lambda b: _parquet(b.labels.astype({"churned": str}))},
        kept={LABELS_PARQUET: Q_LABELS},
        needles=("column 'churned' has Parquet type",),
        stage="labels",
        labels_ingested=False,
    ),
    "labels for unknown ids": Kind(
        _clean,
        **ACCEPTED,
        others={LABELS_FILE: lambda b: _labels(b) + GHOSTS},
        kept={LABELS_FILE: Q_UNKNOWN},
        needles=("3 of", "never delivered as an event"),
        stage="labels",
        labels_ingested=False,  # checked by _unknown_ids_quarantined: the known rows only
        validate_label_day=True,
        check=_unknown_ids_quarantined,
    ),
    "labels for unknown ids, unknown_label_ids: warn": Kind(
        _clean,
        **ACCEPTED,
        others={LABELS_FILE: lambda b: _labels(b) + GHOSTS},
        labels_ingested=False,  # checked by _unknown_ids_kept: every row
        env={"DRIFTLOOP__VALIDATION__UNKNOWN_LABEL_IDS": "warn"},
        validate_label_day=True,
        check=_unknown_ids_kept,
    ),
    "label-only delivery": Kind(None, exit=errors.EXIT_NOTHING_TO_DO, status="labels_only"),
    "bad config": Kind(
        _clean,
        **REFUSED,
        needles=("validation.out_of_partition", "'quarantine' or 'warn'"),
        config="bad-config",
    ),
    "env override of a validation key": Kind(
        lambda b: _csv(b.features.head(50)),  # under the committed min_rows (200): would fail
        **ACCEPTED,
        env={"DRIFTLOOP__VALIDATION__MIN_ROWS": "10"},
    ),
    "committed suite edited by hand": Kind(
        _clean,
        **REFUSED,
        needles=(
            "expect_table_row_count_to_be_between: min_value: suite 50, config 200",
            "run `driftloop gx-suite`",
        ),
        regenerate_suite=True,
        edit_suite=_hand_edited_suite,
    ),
}


@pytest.fixture(scope="module")
def batch() -> Batch:
    from driftloop.core.config import load_config

    cfg = load_config(environ={})
    features = synth.generate_day(cfg, DAY, synth.Scenario(), seed=3, rows=300).features
    labels = synth.generate_day(cfg, LABEL_DAY, synth.Scenario(), seed=3, rows=300).labels
    return Batch(features, labels)


def _bad_config(tmp_path: Path) -> Path:
    from driftloop.core.config import default_config_path

    text = (
        default_config_path()
        .read_text()
        .replace("  suite: churn_batch\n", "  suite: churn_batch\n  out_of_partition: drop\n")
    )
    assert "out_of_partition: drop" in text
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):
    """An in-process S3 (moto) as the store: its keys can hold what no local file name can."""
    from moto import mock_aws

    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    with mock_aws():
        import boto3

        boto3.client("s3").create_bucket(Bucket="reliability")
        yield


@pytest.mark.parametrize("name", list(KINDS))
def test_bad_input_has_its_exact_outcome_and_loses_nothing(
    name: str,
    batch: Batch,
    cfg_factory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    from driftloop.cli.main import main
    from driftloop.data import validation
    from driftloop.data.ingest import ingest_partition

    kind = KINDS[name]
    overrides = {k.removeprefix("DRIFTLOOP__").lower(): v for k, v in kind.env.items()}
    if kind.s3:
        request.getfixturevalue("s3")
        overrides["storage__root"] = "s3://reliability/data"
    if kind.regenerate_suite:  # the documented way to make a validation override take effect
        overrides["validation__gx_root"] = str(tmp_path / "gx")
    cfg = cfg_factory(**overrides)
    if kind.regenerate_suite:
        assert validation.write_gx_project(cfg)
    if kind.edit_suite:
        suite = json.loads(validation.suite_path(cfg).read_text())
        kind.edit_suite(suite)
        validation.suite_path(cfg).write_text(json.dumps(suite))
    store = open_store(cfg.storage)
    if kind.validate_label_day:
        day_before = synth.generate_day(cfg, LABEL_DAY, synth.Scenario(), seed=3, rows=300)
        store.write_bytes(f"landing/{LABEL_DAY}/{FEATURES}", _csv(day_before.features))
        assert ingest_partition(cfg, LABEL_DAY).status == "validated"

    stale = kind.status == "quarantined"
    if stale:  # partitions of an earlier, clean delivery of the day must not survive a quarantine
        from driftloop.data.ingest import parse_features

        table = {"part-0.parquet": parquet_bytes(parse_features(cfg, _clean(batch)))}
        store.write_partition(RAW, DAY, table)
        store.write_partition(VALIDATED, DAY, table)
    delivered = {n: make(batch) for n, make in kind.others.items()}
    if kind.features is not None:
        delivered[kind.features_name] = kind.features(batch)
    for n, data in delivered.items():
        store.write_bytes(f"{LANDING}/{n}", data)
    args = ["ingest", "--date", DAY.isoformat()]
    if kind.config:
        args = ["--config", str(_bad_config(tmp_path)), *args]
    capsys.readouterr()

    with caplog.at_level("WARNING"):
        code = main(args)

    out, err = capsys.readouterr()
    assert code == kind.exit, err
    assert "Traceback" not in err
    result = json.loads(out) if kind.status else None
    if kind.status:
        assert result is not None and result["status"] == kind.status, out
    else:  # refused: one line naming the problem, nothing on stdout
        assert out == ""
        [line] = [ln for ln in err.splitlines() if ln.startswith("driftloop ")]
        for needle in kind.needles:
            assert needle in line
    # Nothing lost: the delivery is untouched, and every refused file is kept byte for byte.
    for n, data in delivered.items():
        assert store.read_bytes(f"{LANDING}/{n}") == data, n
    for n, folder in kind.kept.items():
        key = folder if folder.endswith(".csv") else f"{folder}/{Path(n).name}"
        assert store.read_bytes(key) == delivered[n], key
        reason = json.loads(store.read_bytes(f"{key.rsplit('/', 1)[0]}/reason.json"))
        assert reason["stage"] == kind.stage
        for needle in kind.needles:
            assert needle in reason["summary"], reason["summary"]
    if kind.status == "quarantined":
        assert not store.partition_exists(VALIDATED, DAY)
        # A file that is no table of the schema leaves no raw partition; a table that fails
        # validation stays in raw/ for inspection, with GX's result beside the quarantined bytes.
        assert store.partition_exists(RAW, DAY) is (kind.stage == "validation")
        if kind.stage == "validation":
            gx = json.loads(store.read_bytes(f"{Q_FEATURES}/validation_result.json"))
            assert gx["success"] is False
    if kind.status == "validated":
        assert store.partitions(QUARANTINE) == []
        assert result is not None
        name = kind.features_name
        assert len(store.read_table(VALIDATED, DAY)) + result["quarantined_rows"] == (
            _rows_delivered(name, delivered[name])
        )
    if kind.labels_ingested:  # the valid labels file of the same delivery still reaches labels/
        assert len(store.read_table(LABELS, LABEL_DAY)) == len(batch.labels)
    if kind.check:
        logged = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        kind.check(Ran(cfg, store, batch, result, err, logged))


def test_a_validation_override_applies_in_the_real_command(cfg, batch: Batch) -> None:
    """The env-override row end to end: a new interpreter, the override only in its environment."""
    import os
    import subprocess
    import sys

    store = open_store(cfg.storage)
    store.write_bytes(f"{LANDING}/{FEATURES}", _csv(batch.features.head(50)))
    run = [sys.executable, "-m", "driftloop.cli.main", "ingest", "--date", DAY.isoformat()]
    outcomes = {}
    for min_rows in ("200", "10"):  # the file's value, then an override below the day's 50 rows
        env = {**os.environ, "DRIFTLOOP__VALIDATION__MIN_ROWS": min_rows}
        proc = subprocess.run(
            run, capture_output=True, text=True, env=env, timeout=180, check=False
        )
        assert "Traceback" not in proc.stderr
        outcomes[min_rows] = (proc.returncode, json.loads(proc.stdout)["status"])
    assert outcomes == {
        "200": (errors.EXIT_QUARANTINED, "quarantined"),
        "10": (0, "validated"),
    }
    assert len(store.read_table(VALIDATED, DAY)) == 50
    assert store.partitions(QUARANTINE) == []


def test_the_documented_table_lists_exactly_these_kinds() -> None:
    """The table of docs/reference/bad-input.md has one row per kind here, with its exit code."""
    page = (Path(__file__).resolve().parents[2] / "docs/reference/bad-input.md").read_text()
    # The page's one table: its consecutive "| " lines.
    table = page.split("\n| ", 1)[1].split("\n\n", 1)[0]
    cells = [[c.strip() for c in ln.split("|")[1:-1]] for ln in ("| " + table).splitlines()]
    header, _rule, *rows = cells
    assert header == ["kind", "outcome", "kept in", "exit"]
    assert [r[0] for r in rows] == list(KINDS)
    assert [r[-1] for r in rows] == [str(k.exit) for k in KINDS.values()]
