"""The arrival queue's trigger against the machine's Redis: a burst of messages is not lost."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from driftloop.core.arrival import partitions_in_message
from tests.support.services import REDIS_HOST, REDIS_PORT, require_tcp


def test_the_redis_list_trigger_takes_a_burst_as_one_event_then_waits_for_more() -> None:
    """Against the machine's Redis: messages pushed at once come as one event, in order; a later
    message comes as the next event; nothing is left in the list."""
    import redis

    from driftloop.airflow.arrival import RedisQueueTrigger

    require_tcp(REDIS_HOST, REDIS_PORT, "Redis")
    key = f"driftloop.test.{uuid.uuid4().hex[:8]}"
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    client.rpush(key, "2026-03-02", "landing/2026-03-03/features.csv")
    trigger = RedisQueueTrigger(key, poll_interval=0.05)
    trigger._connect = lambda: client  # type: ignore[method-assign]  # no Airflow connection here

    async def two_events() -> list[dict[str, Any]]:
        out = []
        async for event in trigger.run():
            out.append(event.payload)
            if len(out) == 1:
                client.rpush(key, '{"partition": "2026-03-04"}')
            else:
                return out
        return out

    try:
        events = asyncio.run(asyncio.wait_for(two_events(), 10))
        assert client.llen(key) == 0
    finally:
        client.delete(key)
    assert events == [
        {"queue": key, "data": ["2026-03-02", "landing/2026-03-03/features.csv"]},
        {"queue": key, "data": ['{"partition": "2026-03-04"}']},
    ]
    assert [[str(p) for p in partitions_in_message(e)] for e in events] == [
        ["2026-03-02", "2026-03-03"],
        ["2026-03-04"],
    ]
