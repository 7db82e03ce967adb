"""The arrival queue's trigger against the machine's Redis: a burst of messages is not lost."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import pytest

from driftloop.core.arrival import partitions_in_message
from tests.conftest import require_tcp

pytestmark = pytest.mark.service

REDIS_HOST = os.environ.get("DRIFTLOOP_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("DRIFTLOOP_TEST_REDIS_PORT", "6379"))


def test_the_redis_list_trigger_yields_every_message_in_order() -> None:
    """Against the machine's Redis: several messages pushed at once are all delivered, in order."""
    import redis

    from driftloop.airflow.arrival import RedisQueueTrigger

    require_tcp(REDIS_HOST, REDIS_PORT, "Redis")
    key = f"driftloop.test.{uuid.uuid4().hex[:8]}"
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    client.rpush(key, "2026-03-02", "landing/2026-03-03/features.csv")
    trigger = RedisQueueTrigger(key, poll_interval=0.05)
    trigger._connect = lambda: client  # type: ignore[method-assign]  # no Airflow connection here

    async def first(n: int) -> list[dict[str, Any]]:
        out = []
        async for event in trigger.run():
            out.append(event.payload)
            if len(out) == n:
                return out
        return out

    try:
        events = asyncio.run(asyncio.wait_for(first(2), 10))
    finally:
        client.delete(key)
    assert events == [
        {"queue": key, "data": "2026-03-02"},
        {"queue": key, "data": "landing/2026-03-03/features.csv"},
    ]
    assert [[str(p) for p in partitions_in_message(e)] for e in events] == [
        ["2026-03-02"],
        ["2026-03-03"],
    ]
