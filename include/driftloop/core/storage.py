"""Storage of partitions on a local folder or S3 (boto3), with atomic, idempotent partition writes.

Layout under the storage root (one partition = one logical day)::

    landing/<date>/features.csv|.parquet, labels_<label date>.csv|.parquet   as delivered
    raw/date=<date>/              typed parquet, immutable
    validated/date=<date>/        passed GX
    quarantine/date=<date>/       original bytes + reason.json (+ GX result)
    labels/date=<date>/           validated labels of the events of <date> (marker: delivery days)
    predictions/date=<date>/      scores of the champion
    monitoring/drift/date=<date>/ drift report
    monitoring/scoring/date=<date>/  the score DAG had no champion to score <date> with

A partition is complete when its ``_SUCCESS`` marker exists; writers put it last, readers require it,
and a rewrite replaces the partition whole (reruns and backfills are idempotent).
"""

from __future__ import annotations

import builtins
import contextlib
import glob
import io
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.core.errors import EXIT_NOTHING_TO_DO, DriftloopError
from driftloop.core.partition import PART_FILE, SUCCESS, Partition, PartitionLike, Zone, key

# What a partition file is written from: its bytes, or a local file streamed into place.
Content = bytes | Path

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from driftloop.core.config import Storage as StorageConfig

log = logging.getLogger(__name__)

# The zones by their short names (``storage.VALIDATED`` is ``Zone.VALIDATED``).
LANDING = Zone.LANDING
RAW = Zone.RAW
VALIDATED = Zone.VALIDATED
QUARANTINE = Zone.QUARANTINE
LABELS = Zone.LABELS
PREDICTIONS = Zone.PREDICTIONS
SHADOW_PREDICTIONS = Zone.SHADOW_PREDICTIONS
DRIFT = Zone.DRIFT
SCORING = Zone.SCORING


class PartitionMissing(DriftloopError, FileNotFoundError):
    """A partition a step needs does not exist (or is incomplete)."""

    exit_code = EXIT_NOTHING_TO_DO


def as_date(value: PartitionLike) -> date:
    """The day ``value`` names (see :meth:`Partition.of`: no truncation of other strings)."""
    return Partition.of(value).day


def partition_prefix(zone: Zone | str, day: PartitionLike) -> str:
    return key(zone, day)


def landing_prefix(day: PartitionLike) -> str:
    return key(Zone.LANDING, day)


# The features file of a delivery, by format: one of them, never both (see the docs: Your own data, "Landing format").
LANDING_FEATURES: dict[str, str] = {"csv": "features.csv", "parquet": "features.parquet"}
LANDING_FORMATS: tuple[str, ...] = tuple(LANDING_FEATURES)


def landing_features_keys(day: PartitionLike) -> list[str]:
    """The keys whose arrival signals that ``day`` has landed (the features file, any format)."""
    prefix = landing_prefix(day)
    return [f"{prefix}/{name}" for name in LANDING_FEATURES.values()]


class Store(ABC):
    """Keys are '/'-separated paths relative to the storage root."""

    root: str

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None:
        """Write one object atomically (readers never see half of it)."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """All keys under ``prefix`` (recursive), sorted."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None: ...

    @abstractmethod
    def replace_prefix(self, prefix: str, files: Mapping[str, Content]) -> None:
        """Make ``prefix`` hold exactly ``files`` (names relative to it), as atomically as the backend allows.

        A value is the bytes of the file, or a local ``Path`` whose content is streamed (bounded
        memory, for large partitions)."""

    @contextlib.contextmanager
    def local_file(self, key: str) -> Iterator[Path]:
        """A local path to read ``key`` from (a temp download on object stores)."""
        with tempfile.TemporaryDirectory(prefix="driftloop-") as tmp:
            p = Path(tmp) / Path(key).name
            p.write_bytes(self.read_bytes(key))
            yield p

    def uri(self, key: str = "") -> str:
        return f"{self.root.rstrip('/')}/{key}" if key else self.root

    @staticmethod
    def key(zone: Zone | str, partition: PartitionLike, name: str = "") -> str:
        """The key of a partition (or of the file ``name`` in it): :func:`partition.key`."""
        return key(zone, partition, name)

    # -- partitions ---------------------------------------------------------------------------
    def write_partition(
        self,
        zone: Zone | str,
        day: PartitionLike,
        files: Mapping[str, Content],
        stats: Mapping[str, Any] | None = None,
    ) -> str:
        """Replace the partition with ``files`` plus a ``_SUCCESS`` marker; returns its URI.

        The marker is a small JSON manifest: the file names, plus ``stats`` (e.g. the row count),
        which readers such as the monitoring view take from it without opening the data.
        """
        prefix = partition_prefix(zone, day)
        manifest = json.dumps({**(stats or {}), "files": sorted(files)}, sort_keys=True).encode()
        self.replace_prefix(prefix, {**files, SUCCESS: manifest})
        log.debug("wrote %s (%d files)", self.uri(prefix), len(files))
        return self.uri(prefix)

    def partition_exists(self, zone: Zone | str, day: PartitionLike) -> bool:
        return self.exists(f"{partition_prefix(zone, day)}/{SUCCESS}")

    def require_partition(self, zone: Zone | str, day: PartitionLike) -> str:
        prefix = partition_prefix(zone, day)
        if not self.exists(f"{prefix}/{SUCCESS}"):
            raise PartitionMissing(f"partition {self.uri(prefix)} does not exist or is incomplete")
        return prefix

    def partitions(self, zone: Zone | str) -> builtins.list[date]:
        """Dates of the complete partitions of ``zone``, ascending."""
        out = set()
        for name in self.list(f"{zone}/"):
            head, _, tail = name[len(zone) + 1 :].partition("/")
            if tail == SUCCESS and head.startswith("date="):
                out.add(Partition.from_key(head).day)
        return sorted(out)

    def delete_partition(self, zone: Zone | str, day: PartitionLike) -> None:
        self.delete_prefix(partition_prefix(zone, day))

    # -- tables ---------------------------------------------------------------------------------
    def read_table(
        self, zone: Zone | str, day: PartitionLike, name: str = PART_FILE
    ) -> pd.DataFrame:
        import pandas as pd

        prefix = self.require_partition(zone, day)
        return pd.read_parquet(io.BytesIO(self.read_bytes(f"{prefix}/{name}")))

    def read_json(self, key: str) -> Any:
        return json.loads(self.read_bytes(key))

    def iter_batches(
        self,
        zone: Zone | str,
        days: builtins.list[date],
        columns: builtins.list[str] | None = None,
        batch_rows: int = 65_536,
    ) -> Iterator[pa.RecordBatch]:
        """Stream the ``part-0.parquet`` of each day's partition in record batches (bounded memory)."""
        import pyarrow.parquet as pq

        for day in days:
            with self.local_file(f"{self.require_partition(zone, day)}/{PART_FILE}") as path:
                pf = pq.ParquetFile(path, pre_buffer=False)
                yield from pf.iter_batches(batch_rows, columns=columns)


# A hidden ``.<name>.<uuid>.tmp`` / ``.old`` beside a key older than this is what a killed write left
# behind, not the work of a concurrent writer: the next write of the same key removes it.
STALE_LEFTOVER_SECONDS = 3600


def _sweep_leftovers(final: Path) -> None:
    """Remove stale temp/trash siblings of ``final`` (best effort: never fails a write)."""
    now = time.time()
    for p in final.parent.glob(f".{glob.escape(final.name)}.*"):
        try:
            if (
                p.suffix not in (".tmp", ".old")
                or now - p.lstat().st_mtime < STALE_LEFTOVER_SECONDS
            ):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            log.info("removed %s, left by an interrupted write", p)
        except OSError as err:
            log.warning("could not remove the leftover %s: %s", p, err)


class LocalStore(Store):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        root_s = str(root)
        self.path = Path(root_s.removeprefix("file://")).resolve()
        self.root = str(self.path)

    def _p(self, key: str) -> Path:
        return self.path / key

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._p(key).read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.uri(key)} does not exist") from None

    def write_bytes(self, key: str, data: bytes) -> None:
        p = self._p(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        _sweep_leftovers(p)
        tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, p)

    def exists(self, key: str) -> bool:
        return self._p(key).exists()

    def list(self, prefix: str) -> list[str]:
        base = self._p(prefix)
        # A prefix may be a folder ("raw/") or the start of names ("landing/2026-01-0").
        folder = base if prefix.endswith("/") or base.is_dir() else base.parent
        if not folder.is_dir():
            return []
        keys = []
        for p in folder.rglob("*"):
            if p.is_file() and not p.name.startswith("."):
                key = p.relative_to(self.path).as_posix()
                if key.startswith(prefix.rstrip("/")) and not any(
                    part.startswith(".") for part in Path(key).parts
                ):
                    keys.append(key)
        return sorted(keys)

    def delete_prefix(self, prefix: str) -> None:
        p = self._p(prefix)
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()

    def replace_prefix(self, prefix: str, files: Mapping[str, Content]) -> None:
        # Build the new folder beside the old one, then swap with renames: a reader sees either the
        # old partition or the new one, never a mix.
        final = self._p(prefix)
        final.parent.mkdir(parents=True, exist_ok=True)
        _sweep_leftovers(final)
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        tmp.mkdir()
        try:
            for name, data in files.items():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                if isinstance(data, Path):
                    shutil.copyfile(data, tmp / name)
                else:
                    (tmp / name).write_bytes(data)
            trash = None
            if final.exists():
                trash = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
                os.replace(final, trash)
            os.replace(tmp, final)
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    @contextlib.contextmanager
    def local_file(self, key: str) -> Iterator[Path]:
        p = self._p(key)
        if not p.exists():
            raise FileNotFoundError(f"{self.uri(key)} does not exist")
        yield p


class S3Store(Store):
    """S3 (or MinIO / a local S3 stand-in via ``endpoint_url``) through boto3."""

    def __init__(self, root: str, endpoint_url: str | None = None) -> None:
        import boto3

        self.root = root.rstrip("/")
        bucket, _, prefix = root.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or None
        )

    def _k(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._k(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(f"{self.uri(key)} does not exist") from None

    def write_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data)  # PUT is atomic

    @contextlib.contextmanager
    def local_file(self, key: str) -> Iterator[Path]:
        # Downloaded to disk in parts: a large landing file never sits in memory whole.
        if not self.exists(key):
            raise FileNotFoundError(f"{self.uri(key)} does not exist")
        with tempfile.TemporaryDirectory(prefix="driftloop-") as tmp:
            p = Path(tmp) / Path(key).name
            self.client.download_file(self.bucket, self._k(key), str(p))
            yield p

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._k(key))
            return True
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def list(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        cut = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._k(prefix)):
            keys.extend(obj["Key"][cut:] for obj in page.get("Contents", []))
        return sorted(keys)

    def delete_prefix(self, prefix: str) -> None:
        keys = self.list(prefix.rstrip("/") + "/") or ([prefix] if self.exists(prefix) else [])
        for i in range(0, len(keys), 1000):
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._k(k)} for k in keys[i : i + 1000]]},
            )

    def replace_prefix(self, prefix: str, files: Mapping[str, Content]) -> None:
        # S3 has no rename: drop the marker first (readers then see "incomplete"), put the new
        # objects, remove leftovers of an older version, and put the marker last.
        base = prefix.rstrip("/")
        marker = f"{base}/{SUCCESS}"
        self.client.delete_object(Bucket=self.bucket, Key=self._k(marker))
        for name, data in files.items():
            if name == SUCCESS:
                continue
            if isinstance(data, Path):  # multipart upload, streamed from the file
                self.client.upload_file(str(data), self.bucket, self._k(f"{base}/{name}"))
            else:
                self.write_bytes(f"{base}/{name}", data)
        wanted = {f"{base}/{n}" for n in files}
        stale = [k for k in self.list(base + "/") if k not in wanted]
        for i in range(0, len(stale), 1000):
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._k(k)} for k in stale[i : i + 1000]]},
            )
        marker_data = files.get(SUCCESS)
        if isinstance(marker_data, bytes):  # write_partition's manifest: always bytes
            self.write_bytes(marker, marker_data)


def open_store(storage: StorageConfig | str) -> Store:
    """The store for a config's ``storage`` section (or a root string)."""
    if isinstance(storage, str):
        root, endpoint = storage, None
    else:
        root, endpoint = storage.root, storage.s3_endpoint_url
    if root.startswith("s3://"):
        return S3Store(root, endpoint)
    return LocalStore(root)


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """Deterministic parquet bytes: identical frames give identical bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_statistics=True)
    return buf.getvalue()
