"""JSON-safe values: what reports and results are cleaned with before they are written."""

from __future__ import annotations

import math
from typing import Any


def jsonable(obj: Any) -> Any:
    """``obj`` with NaN and infinities replaced by None, through dicts, lists and tuples.

    ``json.dumps`` would write them as ``NaN``/``Infinity``, which is not JSON (browsers and most
    parsers refuse it); a tuple becomes a list, as JSON would make it anyway.
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    return obj


__all__ = ["jsonable"]
