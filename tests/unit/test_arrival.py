"""Event-driven arrival: which days a queue message names, how the run reads them, the watcher."""

from __future__ import annotations

import json
from typing import Any

import pytest

from driftloop.core.arrival import partitions_in_message
from driftloop.core.partition import InvalidPartition, Partition
from tests.support.context import Event, Run


def s3_notification(*keys: str, event: str = "ObjectCreated:Put") -> dict[str, Any]:
    """The body S3 sends to SQS / SNS for objects created (keys URL-encoded, as S3 does)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": event,
                "s3": {"bucket": {"name": "driftloop"}, "object": {"key": k, "size": 10}},
            }
            for k in keys
        ]
    }


def days(payload: Any) -> list[str]:
    return [str(p) for p in partitions_in_message(payload)]


@pytest.mark.parametrize(
    "body",
    [
        "2026-03-02",
        "landing/2026-03-02/features.csv",
        "s3://driftloop/data/landing/2026-03-02/features.csv",
        # A Parquet delivery signals a landing the same way.
        "s3://driftloop/data/landing/2026-03-02/features.parquet",
        '{"partition": "2026-03-02"}',
        '{"date": "2026-03-02"}',
        '{"key": "data/landing/2026-03-02/features.csv"}',
        json.dumps(s3_notification("data/landing/2026-03-02/features.csv")),
        # Keys in S3 notifications are URL-encoded.
        json.dumps(s3_notification("my+data/landing/2026-03-02/features.csv")),
        # MinIO's Redis target, "access" format: a list of {"Event": [records], "EventTime"}.
        json.dumps(
            [
                {
                    "Event": s3_notification("data/landing/2026-03-02/features.csv")["Records"],
                    "EventTime": "2026-03-02T06:00:00.000Z",
                }
            ]
        ),
    ],
)
def test_every_form_of_a_message_names_its_day(body: str) -> None:
    # As Redis pub/sub hands it to the watcher, and as the SQS trigger does.
    assert days({"type": "message", "pattern": None, "channel": "c", "data": body}) == [
        "2026-03-02"
    ]
    assert days({"message_batch": [{"MessageId": "1", "Body": body}]}) == ["2026-03-02"]


def test_a_notification_of_several_objects_names_each_landed_day_once() -> None:
    body = s3_notification(
        "landing/2026-03-03/features.csv",
        "landing/2026-03-02/labels_2026-02-27.csv",  # not the last file of a delivery
        "landing/2026-03-02/features.csv",
        "landing/2026-03-03/features.csv",
    )
    assert days(json.dumps(body)) == ["2026-03-02", "2026-03-03"]


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(s3_notification("landing/2026-03-02/labels_2026-02-27.csv")),
        json.dumps(
            s3_notification("landing/2026-03-02/features.csv", event="ObjectRemoved:Delete")
        ),
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "driftloop"}),
        "validated/date=2026-03-02/part-0.parquet",
    ],
)
def test_other_objects_name_no_day(body: str) -> None:
    assert days({"type": "message", "channel": "c", "data": body}) == []


@pytest.mark.parametrize("body", ["yesterday", '{"hello": 1}', "2026-13-01", "42"])
def test_a_message_naming_nothing_is_refused_with_the_message(body: str) -> None:
    with pytest.raises(InvalidPartition, match="arrival message"):
        partitions_in_message({"type": "message", "channel": "c", "data": body})


# --- the run's side: events recorded by a watcher or through the REST API --------------------


def test_watcher_and_rest_events_both_name_their_partitions() -> None:
    from driftloop.airflow.partition import event_partitions, triggered_partitions

    watched = {"from_trigger": True, "payload": {"channel": "c", "data": "2026-03-05"}}
    assert event_partitions(watched) == [Partition.of("2026-03-05")]
    taken = {"from_trigger": True, "payload": {"queue": "q", "data": ["2026-03-07", "2026-03-06"]}}
    assert event_partitions(taken) == [Partition.of("2026-03-06"), Partition.of("2026-03-07")]
    # A payload key on an event that no trigger recorded is not parsed as a message.
    assert event_partitions({"payload": "2026-03-05"}) == []
    events = {"landed": [Event(watched), Event({"partition": "2026-03-04"}), Event({})]}
    assert [str(p) for p in triggered_partitions({"triggering_asset_events": events})] == [
        "2026-03-04",
        "2026-03-05",
    ]


def test_landed_partitions_of_a_run() -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from driftloop.airflow.arrival import landed_partitions

    watched = {"from_trigger": True, "payload": {"channel": "c", "data": "2026-03-05"}}
    ctx: dict[str, Any] = {"dag_run": Run(), "triggering_asset_events": {"l": [Event(watched)]}}
    assert landed_partitions(**ctx) == ["2026-03-05"]
    assert landed_partitions(**{**ctx, "dag_run": Run({"date": "2026-01-09"})}) == ["2026-01-09"]
    labels_only = {"channel": "c", "data": "landing/2026-03-05/labels_2026-03-01.csv"}
    ctx["triggering_asset_events"] = {"l": [Event({"from_trigger": True, "payload": labels_only})]}
    with pytest.raises(AirflowSkipException):
        landed_partitions(**ctx)


def test_queue_mode_gives_the_landed_asset_a_watcher_on_the_configured_queue(
    cfg_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftloop.airflow.arrival import landed_asset

    plain = cfg_factory()
    assert plain.arrival.mode == "sensor"
    assert landed_asset(plain).watchers == []
    cfg = cfg_factory(
        arrival__mode="queue", arrival__queue="arrivals", arrival__poll_interval="0.5"
    )
    asset = landed_asset(cfg)
    assert asset.uri == "x-driftloop://churn/landed"
    (watcher,) = asset.watchers
    # The default: a Redis list, read by the project's own trigger (loaded by the triggerer from
    # the installed package).
    assert watcher.trigger.serialize() == (
        "driftloop.airflow.arrival.RedisQueueTrigger",
        {"key": "arrivals", "redis_conn_id": "redis_default", "poll_interval": 0.5, "batch": 100},
    )
    # Any MessageQueueTrigger scheme instead, e.g. the redis provider's pub/sub.
    monkeypatch.delenv("DRIFTLOOP__ARRIVAL__QUEUE")
    pubsub = cfg_factory(arrival__mode="queue", arrival__scheme="redis+pubsub")
    classpath, kwargs = landed_asset(pubsub).watchers[0].trigger.serialize()
    assert classpath == "airflow.providers.redis.triggers.redis_await_message.AwaitMessageTrigger"
    assert kwargs["channels"] == ["driftloop.churn.landed"]
