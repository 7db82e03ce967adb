"""The Partition type: built from every form a day arrives in, refused when it names no day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from driftloop.core.errors import EXIT_USAGE, exit_code_for
from driftloop.core.partition import PART_FILE, InvalidPartition, Partition, Zone, key

DAY = date(2026, 1, 5)


@pytest.mark.parametrize(
    "value",
    [
        DAY,
        "2026-01-05",
        " 2026-01-05 ",
        "2026-01-05T00:00:00+00:00",  # an Airflow logical date
        "2026-01-05T23:59:59Z",
        datetime(2026, 1, 5, 12, tzinfo=UTC),
        Partition(DAY),
    ],
)
def test_every_form_of_a_day_gives_the_same_partition(value) -> None:
    assert Partition.of(value) == Partition(DAY)
    assert str(Partition.of(value)) == "2026-01-05"


def test_a_datetime_keeps_the_day_of_its_own_timezone() -> None:
    late = datetime(2026, 1, 5, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert Partition.of(late).day == DAY  # not 2026-01-06 (its UTC day)


@pytest.mark.parametrize("value", ["2026-01-05xyz", "", "yesterday", "2026-13-01", 20260105, None])
def test_anything_else_is_refused_not_truncated(value) -> None:
    with pytest.raises(InvalidPartition) as err:
        Partition.of(value)
    assert repr(value) in str(err.value)
    assert exit_code_for(err.value) == EXIT_USAGE


def test_keys_are_built_in_one_place() -> None:
    p = Partition(DAY)
    assert key(Zone.VALIDATED, p) == "validated/date=2026-01-05"
    assert key(Zone.PREDICTIONS, p, PART_FILE) == "predictions/date=2026-01-05/part-0.parquet"
    assert (
        key(Zone.DRIFT, "2026-01-05", "report.json")
        == "monitoring/drift/date=2026-01-05/report.json"
    )
    assert key(Zone.LANDING, DAY) == "landing/2026-01-05"  # the producers' layout
    with pytest.raises(ValueError):
        key("nowhere", p)


def test_a_key_or_uri_names_its_partition() -> None:
    uri = "s3://bucket/prefix/validated/date=2026-01-05/part-0.parquet"
    assert Partition.from_key(uri) == Partition(DAY)
    assert Partition.from_key("labels/date=2026-01-05") == Partition(DAY)
    with pytest.raises(InvalidPartition):
        Partition.from_key("validated/2026-01-05/part-0.parquet")


def test_partitions_order_and_shift() -> None:
    p = Partition(DAY)
    assert p.shift(1) > p and p.shift(-1).day == date(2026, 1, 4)
    assert sorted([p.shift(2), p, p.shift(1)]) == [p, p.shift(1), p.shift(2)]
