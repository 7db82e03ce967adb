"""The ``alerts:`` section of a pipeline config: channels, who gets which event, quiet rules.

Kept apart from :mod:`driftloop.core.config` (which only embeds it) because it changes for its own
reasons. Secrets never appear here: an email channel names an Airflow SMTP connection, a chat
channel an Airflow Apprise connection or an environment variable holding the webhook URL.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from driftloop.core.durations import parse_duration

__all__ = ["Alerts", "EmailChannel", "EventKind", "Route", "WebhookChannel"]


class EventKind(StrEnum):
    """What an alert is about; routes and quiet rules are set per kind."""

    DRIFT = "drift"  # a drift episode started or ended
    ESTIMATED_DROP = "estimated_drop"  # an estimated drop episode (before labels)
    PERFORMANCE_DECAY = "performance_decay"  # a measured decay episode (labels)
    RETRAIN = "retrain"  # training triggered, or suppressed with its reason
    GATE = "gate"  # a challenger promoted or rejected by the gate
    APPROVAL = "approval"  # a promotion waits for a person
    SHADOW = "shadow"  # a shadow challenger's verdict
    PROMOTION = "promotion"  # a manual promotion or rollback (who, why)
    QUARANTINE = "quarantine"  # a day's data was quarantined
    LATE_DATA = "late_data"  # a day did not land by its deadline
    TASK_FAILED = "task_failed"  # a task failed after its retries


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmailChannel(_Strict):
    """Email through an Airflow SMTP connection (host, port, login/password, ``from_email``)."""

    type: Literal["email"] = Field(description="email")
    conn_id: str = Field("smtp_default", description="the Airflow SMTP connection id")
    to: list[str] = Field(min_length=1, description="recipients' addresses")


class WebhookChannel(_Strict):
    """A chat or HTTP webhook, sent with Apprise: Slack (``https://hooks.slack.com/...`` or
    ``slack://``), Microsoft Teams (the workflow URL or ``msteams://``), Mattermost/Rocket.Chat and
    other Slack-compatible services, or generic JSON (``json://host/path``, ``jsons://`` for TLS)."""

    type: Literal["webhook"] = Field(description="webhook")
    conn_id: str | None = Field(
        None,
        description="an Airflow Apprise connection whose extra ``config`` holds the URL(s)",
    )
    url_env: str | None = Field(
        None,
        description="or: the environment variable holding the Apprise URL (a secret: the URL "
        "carries the token)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> WebhookChannel:
        if (self.conn_id is None) == (self.url_env is None):
            raise ValueError("a webhook channel needs exactly one of conn_id or url_env")
        return self


Channel = Annotated[EmailChannel | WebhookChannel, Field(discriminator="type")]


class Route(_Strict):
    """Who gets what: these channels receive these event kinds."""

    channels: list[str] = Field(min_length=1, description="channel names (keys of channels)")
    kinds: list[EventKind] = Field(
        default_factory=lambda: list(EventKind), description="event kinds (default: all)"
    )


class Alerts(_Strict):
    """Alerts to the people who must act; off unless ``enabled`` and at least one route."""

    enabled: bool = Field(False, description="send alerts at all")
    channels: dict[str, Channel] = Field(
        default_factory=dict, description="named channels: email or webhook"
    )
    routes: list[Route] = Field(
        default_factory=list, description="which kinds go to which channels"
    )
    repeat_after: timedelta | None = Field(
        timedelta(days=7),
        description="remind of an episode that is still open and unchanged after this long "
        "(e.g. 7d, 12h); null: only its start, its changes and its end",
    )
    digest: list[EventKind] = Field(
        default_factory=list,
        description="kinds collected into one daily digest message per channel (sent by the next "
        "day's drift check) instead of one message each",
    )
    base_url: str | None = Field(
        None,
        description="the Airflow UI's address used in links (default: Airflow's [api] base_url)",
    )
    send_attempts: int = Field(3, ge=1, le=10, description="attempts per channel and message")
    send_timeout: float = Field(10.0, gt=0, description="seconds per attempt")

    @field_validator("repeat_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _known_channels(self) -> Alerts:
        for route in self.routes:
            unknown = sorted(set(route.channels) - set(self.channels))
            if unknown:
                raise ValueError(f"alerts.routes: unknown channel(s) {', '.join(unknown)}")
        return self

    def channels_for(self, kind: EventKind | str) -> list[str]:
        """Names of the channels that receive ``kind`` (in route order, each once)."""
        out: list[str] = []
        for route in self.routes:
            if kind in route.kinds:
                out += [c for c in route.channels if c not in out]
        return out

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.routes)
