"""Arrival messages: which landed partitions a message on the arrival queue names.

A producer (or the object store itself) says "a partition has landed" with one message. Accepted
bodies, so that the usual producers need no adapter:

- an S3 object-created notification (``{"Records": [{"s3": {"object": {"key": ...}}}]}``), as S3
  sends it to SQS or SNS (keys URL-encoded), or as MinIO's Redis notification target pushes it to a
  list in its ``access`` format (``[{"Event": [<records>], "EventTime": ...}]``);
- an object key or URI ending in ``landing/<YYYY-MM-DD>/features.csv`` or ``features.parquet`` (any
  prefix or bucket);
- a JSON object with ``partition``, ``date`` or ``key``;
- a bare ISO date.

Only the features file signals a landing (producers write it last); other keys of the landing zone
(a labels file, a bucket notification test event) name no partition. Anything else is refused with
the message quoted, so a malformed producer shows up as a failed run rather than as silence.

Queue triggers wrap the body: a Redis list as ``{"queue", "data": [messages]}``, Redis pub/sub as
``{"type", "channel", "data"}``, SQS as ``{"message_batch": [{"Body": ...}]}``; all are unwrapped
here.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_plus

from driftloop.core.partition import InvalidPartition, Partition
from driftloop.core.storage import LANDING_FEATURES

__all__ = ["partitions_in_message"]

_FEATURES = "|".join(re.escape(name) for name in LANDING_FEATURES.values())
_LANDED_KEY = re.compile(r"(?:^|/)landing/(\d{4}-\d{2}-\d{2})/(?:" + _FEATURES + r")$")


def _from_key(key: str) -> list[Partition]:
    m = _LANDED_KEY.search(unquote_plus(key.strip()))
    return [Partition.of(m.group(1))] if m else []


def _from_text(text: str) -> list[Partition]:
    text = text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict | list):
        return _from_body(body)
    if "/" in text:
        return _from_key(text)
    return [Partition.of(text)]


def _from_body(body: Any) -> list[Partition]:
    if isinstance(body, str):
        return _from_text(body)
    if isinstance(body, list):
        return [p for item in body for p in _from_body(item)]
    if not isinstance(body, dict):
        raise InvalidPartition(f"not an arrival message: {body!r}")
    if "data" in body and ("queue" in body or "channel" in body):  # Redis list or pub/sub
        return _from_body(body["data"])
    if "message_batch" in body:  # SQS trigger
        return [p for m in body["message_batch"] for p in _from_body(m.get("Body", ""))]
    # An S3 event notification; MinIO's Redis target ("access" format) lists them under "Event".
    records = body.get("Records", body.get("Event"))
    if isinstance(records, list):
        return [
            p
            for r in records
            if str(r.get("eventName", "ObjectCreated")).startswith("ObjectCreated")
            for p in _from_key(str(r.get("s3", {}).get("object", {}).get("key", "")))
        ]
    if body.get("Event") == "s3:TestEvent":  # sent once when a bucket notification is set up
        return []
    for name in ("partition", "date"):
        if body.get(name):
            return [Partition.of(str(body[name]))]
    if body.get("key"):
        return _from_key(str(body["key"]))
    raise InvalidPartition(f"an arrival message names no partition: {json.dumps(body)[:300]}")


def partitions_in_message(payload: Any) -> list[Partition]:
    """The landed partitions ``payload`` names, sorted and without repeats (maybe none)."""
    try:
        return sorted(set(_from_body(payload)))
    except InvalidPartition as err:
        raise InvalidPartition(f"{err} (in arrival message {str(payload)[:300]!r})") from None
