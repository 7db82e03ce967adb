"""The S3 backend of the storage layer against a real S3 endpoint (moto's server)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from driftloop.core.storage import PartitionMissing, S3Store, open_store, parquet_bytes


def test_partition_write_is_complete_and_replaces_old_version(s3_endpoint: str) -> None:
    store = open_store("s3://driftloop/data")
    assert isinstance(store, S3Store)
    day = date(2026, 1, 5)
    store.write_partition("raw", day, {"a.parquet": b"old", "stale.bin": b"x"})
    store.write_partition("raw", day, {"a.parquet": b"new"})

    assert store.partition_exists("raw", day)
    assert store.read_bytes("raw/date=2026-01-05/a.parquet") == b"new"
    # The rewrite leaves exactly the new files: nothing of the older version survives.
    assert store.list("raw/date=2026-01-05/") == [
        "raw/date=2026-01-05/_SUCCESS",
        "raw/date=2026-01-05/a.parquet",
    ]
    assert store.partitions("raw") == [day]
    assert store.uri("raw") == "s3://driftloop/data/raw"


def test_table_round_trip_and_missing_partition(s3_endpoint: str) -> None:
    store = open_store("s3://driftloop/prefix/deeper")
    df = pd.DataFrame({"id": ["a", "b"], "x": [1.5, None]})
    store.write_partition("validated", "2026-02-01", {"part-0.parquet": parquet_bytes(df)})
    pd.testing.assert_frame_equal(store.read_table("validated", "2026-02-01"), df)
    with store.local_file("validated/date=2026-02-01/part-0.parquet") as p:
        assert p.read_bytes() == parquet_bytes(df)
    with pytest.raises(
        PartitionMissing, match="s3://driftloop/prefix/deeper/validated/date=2026-02-02"
    ):
        store.read_table("validated", "2026-02-02")
    store.delete_partition("validated", "2026-02-01")
    assert store.partitions("validated") == []


def test_incomplete_partition_is_invisible(s3_endpoint: str) -> None:
    store = open_store("s3://driftloop/data")
    store.write_bytes("raw/date=2026-03-01/part-0.parquet", b"half-written, no marker")
    assert not store.partition_exists("raw", "2026-03-01")
    assert store.partitions("raw") == []
