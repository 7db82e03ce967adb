"""Stand-ins for the parts of an Airflow task context that partition resolution reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    """An asset event: only its ``extra`` is read."""

    extra: dict[str, Any]


@dataclass
class Run:
    """A DAG run: only its ``conf`` is read."""

    conf: dict[str, Any] = field(default_factory=dict)
