"""Partitions (one logical day) and storage zones: the only place partition keys are built.

A :class:`Partition` is built once where a day enters the program (a CLI argument, an Airflow run's
context, an asset event, a storage key) and travels typed from there; nothing cuts dates out of
strings. :func:`key` is how every module names a partition (or a file in it) in the store::

    key(Zone.VALIDATED, p)                -> "validated/date=2026-01-05"
    key(Zone.PREDICTIONS, p, PART_FILE)   -> "predictions/date=2026-01-05/part-0.parquet"
    key(Zone.LANDING, p)                  -> "landing/2026-01-05"   (the producers' layout)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TypeAlias

from driftloop.core.errors import EXIT_USAGE, DriftloopError

__all__ = [
    "PART_FILE",
    "SUCCESS",
    "InvalidPartition",
    "Partition",
    "PartitionLike",
    "Zone",
    "key",
]

PART_FILE = "part-0.parquet"  # the one data file of a table partition
SUCCESS = "_SUCCESS"  # written last; a partition without it does not exist


class Zone(StrEnum):
    """Top-level areas of the storage root (values are their key prefixes)."""

    LANDING = "landing"
    RAW = "raw"
    VALIDATED = "validated"
    QUARANTINE = "quarantine"
    # Quarantine of labels files (per label day), of label rows with ids never delivered (per label
    # day) and of labels files whose name has no valid date (per delivery day).
    LABELS_QUARANTINE = "quarantine/labels"
    LABELS_UNKNOWN_IDS = "quarantine/labels_unknown_ids"
    LABELS_BAD_NAME = "quarantine/labels_bad_name"
    # Rows of a validated partition set apart by row-level quarantine (validation.bad_rows).
    QUARANTINE_ROWS = "quarantine/rows"
    LABELS = "labels"
    PREDICTIONS = "predictions"
    DRIFT = "monitoring/drift"
    SCORING = "monitoring/scoring"
    # The champion's performance estimated per day before labels (driftloop.monitor.estimates).
    ESTIMATES = "monitoring/estimates"


class InvalidPartition(DriftloopError, ValueError):
    """A value that does not name a day (the message quotes it)."""

    exit_code = EXIT_USAGE


_IN_KEY = re.compile(r"(?:^|/)date=(\d{4}-\d{2}-\d{2})(?:/|$)")


@dataclass(frozen=True, order=True)
class Partition:
    """One logical day of data. ``str(p)`` is its ISO date."""

    day: date

    def __post_init__(self) -> None:
        if isinstance(self.day, datetime):  # a datetime is a date too: keep only its day
            object.__setattr__(self, "day", self.day.date())
        elif not isinstance(self.day, date):
            raise InvalidPartition(f"not a date: {self.day!r}")

    @classmethod
    def of(cls, value: PartitionLike) -> Partition:
        """From a Partition, a date, a datetime, or an ISO date / datetime string.

        A datetime (an Airflow logical date, an asset event's timestamp) names the day it falls on,
        in its own timezone; any other string is refused rather than truncated.
        """
        if isinstance(value, Partition):
            return value
        if isinstance(value, datetime):
            return cls(value.date())
        if isinstance(value, date):
            return cls(value)
        if isinstance(value, str):
            text = value.strip()
            try:
                return cls(date.fromisoformat(text))
            except ValueError:
                pass
            try:
                return cls(datetime.fromisoformat(text.replace("Z", "+00:00")).date())
            except ValueError:
                raise InvalidPartition(
                    f"not an ISO date (YYYY-MM-DD) or date-time: {value!r}"
                ) from None
        raise InvalidPartition(f"not a date: {value!r}")

    @classmethod
    def from_key(cls, text: str) -> Partition:
        """The partition a storage key or URI names (``.../date=YYYY-MM-DD/...``)."""
        m = _IN_KEY.search(text)
        if not m:
            raise InvalidPartition(f"no date=YYYY-MM-DD segment in {text!r}")
        return cls(date.fromisoformat(m.group(1)))

    def shift(self, days: int) -> Partition:
        return Partition(self.day + timedelta(days=days))

    def isoformat(self) -> str:
        return self.day.isoformat()

    def __str__(self) -> str:
        return self.day.isoformat()


PartitionLike: TypeAlias = Partition | date | str


def key(zone: Zone | str, partition: PartitionLike, name: str = "") -> str:
    """The key of ``partition`` in ``zone`` (or of the file ``name`` inside it)."""
    day = Partition.of(partition)
    zone = Zone(zone)
    prefix = f"{zone.value}/{day}" if zone is Zone.LANDING else f"{zone.value}/date={day}"
    return f"{prefix}/{name}" if name else prefix
