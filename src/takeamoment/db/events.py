"""The event aggregate: an event, its channels and its change log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from takeamoment.db.types import UTCDateTime, new_id, utcnow


class Event(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    slug: str = Field(unique=True, max_length=64)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=5000)
    timezone: str = Field(max_length=64)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    hashtags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    changeover_minutes: int = 5
    reminder_minutes: list[int] = Field(
        default_factory=lambda: [15, 5], sa_column=Column(JSON, nullable=False)
    )
    safety_resources: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    status: str = Field(default="draft", max_length=16)
    # The seq of the latest change; bumping it is also what serialises writes to one event.
    last_seq: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Channel(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("event_id", "slug", name="uq_channel_event_slug"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="event.id", index=True, max_length=32)
    slug: str = Field(max_length=64)
    name: str = Field(max_length=200)
    # Channels are shown by position (0 first), then by creation.
    position: int = 0
    stream_url: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Change(SQLModel, table=True):
    """One change of an event's schedule, numbered by ``seq`` without gaps per event."""

    # The unique constraint's index also serves reads of an event's changes by seq.
    __table_args__ = (UniqueConstraint("event_id", "seq", name="uq_change_event_seq"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="event.id", max_length=32)
    seq: int
    type: str = Field(max_length=32)
    at: datetime = Field(sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
