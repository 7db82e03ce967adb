"""Local storage: atomic partition replacement, idempotent overwrite, partition listing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from driftloop.core.storage import LocalStore, PartitionMissing, parquet_bytes


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "root")


def test_write_partition_replaces_the_whole_partition(local: LocalStore) -> None:
    local.write_partition("raw", "2026-01-02", {"a.bin": b"1", "b.bin": b"2"})
    uri = local.write_partition("raw", "2026-01-02", {"a.bin": b"3"})

    assert uri == f"{local.root}/raw/date=2026-01-02"
    assert local.list("raw/") == ["raw/date=2026-01-02/_SUCCESS", "raw/date=2026-01-02/a.bin"]
    assert local.read_bytes("raw/date=2026-01-02/a.bin") == b"3"
    # No temp or trash folders are left beside the partition.
    assert [p.name for p in (local.path / "raw").iterdir()] == ["date=2026-01-02"]


def test_rewrite_with_same_content_is_byte_identical(local: LocalStore) -> None:
    df = pd.DataFrame({"id": ["a", "b"], "x": [1.0, None]})
    local.write_partition("raw", "2026-01-02", {"part-0.parquet": parquet_bytes(df)})
    first = local.read_bytes("raw/date=2026-01-02/part-0.parquet")
    local.write_partition("raw", "2026-01-02", {"part-0.parquet": parquet_bytes(df.copy())})
    assert local.read_bytes("raw/date=2026-01-02/part-0.parquet") == first
    pd.testing.assert_frame_equal(local.read_table("raw", "2026-01-02"), df)


def test_partitions_lists_only_complete_ones(local: LocalStore) -> None:
    local.write_partition("validated", "2026-01-03", {"p": b""})
    local.write_partition("validated", "2026-01-01", {"p": b""})
    local.write_bytes("validated/date=2026-01-02/p", b"half written, no marker")

    assert local.partitions("validated") == [date(2026, 1, 1), date(2026, 1, 3)]
    assert not local.partition_exists("validated", "2026-01-02")
    with pytest.raises(PartitionMissing):
        local.require_partition("validated", "2026-01-02")


def test_write_bytes_is_atomic_and_delete_partition(local: LocalStore) -> None:
    local.write_bytes("landing/2026-01-01/features.csv", b"x")
    local.write_bytes("landing/2026-01-01/features.csv", b"y")
    assert local.read_bytes("landing/2026-01-01/features.csv") == b"y"
    assert list((local.path / "landing" / "2026-01-01").iterdir()) == [
        local.path / "landing" / "2026-01-01" / "features.csv"
    ]
    local.write_partition("quarantine", "2026-01-01", {"r": b""})
    local.delete_partition("quarantine", "2026-01-01")
    assert local.partitions("quarantine") == []
    with pytest.raises(FileNotFoundError):
        local.read_bytes("nope")


def test_leftovers_of_a_killed_write_are_removed_by_the_next_write(local: LocalStore) -> None:
    import os
    import time

    from driftloop.core.storage import STALE_LEFTOVER_SECONDS

    local.write_partition("raw", "2026-01-02", {"a.bin": b"1"})
    zone = local.path / "raw"
    killed = zone / ".date=2026-01-02.0123abcd.tmp"  # a replace_prefix killed mid-way
    killed.mkdir()
    (killed / "a.bin").write_bytes(b"half")
    trash = zone / ".date=2026-01-02.4567ef.old"  # killed between the two renames
    trash.mkdir()
    file_tmp = local.path / "registry" / ".x.json.89ab.tmp"  # a write_bytes killed mid-way
    file_tmp.parent.mkdir()
    file_tmp.write_bytes(b"{")
    concurrent = zone / ".date=2026-01-02.cdef01.tmp"  # fresh: another writer's, left alone
    concurrent.mkdir()
    old = time.time() - STALE_LEFTOVER_SECONDS - 60
    for p in (killed, trash, file_tmp):
        os.utime(p, (old, old))

    local.write_partition("raw", "2026-01-02", {"a.bin": b"2"})
    local.write_bytes("registry/x.json", b"{}")

    assert not killed.exists() and not trash.exists() and not file_tmp.exists()
    assert concurrent.exists()
    assert local.read_bytes("raw/date=2026-01-02/a.bin") == b"2"
