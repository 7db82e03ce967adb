"""Durations as people write them in config files: ``7d``, ``12h``, ``30m``, ``45s`` or seconds."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhms]?)\s*$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}


def parse_duration(text: str) -> timedelta | str:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"45s"`` or ``"90"`` (seconds) as a timedelta.

    Anything else is returned unchanged for pydantic to parse (ISO 8601 ``P7D``) or reject.
    """
    m = _DURATION.match(text)
    if not m:
        return text
    return timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2)])


def format_duration(value: timedelta) -> str:
    """A timedelta in the largest whole unit of :func:`parse_duration` (``7d``, ``90m``, ``5s``)."""
    seconds = value.total_seconds()
    for unit in "dhm":
        if seconds >= _UNIT_SECONDS[unit] and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{int(seconds // _UNIT_SECONDS[unit])}{unit}"
    return f"{seconds:g}s"
