"""Viewers' follows ("notify me"): a browser's push subscription and what it follows, and the
outbox of pushes owed to them.

A follow names no person: only the push endpoint and its keys, and one of a slot, a channel or
the whole event (``target``: ``slot:<id>``, ``channel:<id>`` or ``event``). A followed slot
going live or being cancelled writes one ``FollowNotice`` (the words, once) and one
``FollowDelivery`` per follower, in the same transaction; the delivery worker sends them after
commit with the same claim, lease and retry protocol as ``Delivery`` (``db/delivery.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from takeamoment.db.types import UTCDateTime, new_id, utcnow

EVENT_TARGET = "event"


class Follow(SQLModel, table=True):
    """One browser following one slot, channel or event; gone with what it follows."""

    __table_args__ = (
        # One follow per (browser, thing): following again answers with the same follow. By the
        # endpoint's hash: an endpoint may be longer than a btree index entry may be.
        UniqueConstraint("event_id", "target", "endpoint_hash", name="uq_follow_once"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="event.id", ondelete="CASCADE", max_length=32)
    target: str = Field(max_length=48)
    slot_id: str | None = Field(
        default=None, foreign_key="slot.id", ondelete="CASCADE", index=True, max_length=32
    )
    channel_id: str | None = Field(
        default=None, foreign_key="channel.id", ondelete="CASCADE", index=True, max_length=32
    )
    endpoint: str = Field(sa_type=Text)
    endpoint_hash: str = Field(max_length=64)  # SHA-256, hex
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FollowNotice(SQLModel, table=True):
    """What followers of a slot are told when it goes live or is cancelled (without the
    per-follower unfollow link, added when sending)."""

    __tablename__ = "follow_notice"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    slot_id: str | None = Field(
        default=None, foreign_key="slot.id", ondelete="SET NULL", max_length=32
    )
    kind: str = Field(max_length=32)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FollowDelivery(SQLModel, table=True):
    """One notice to one follower: ``pending`` → ``sending`` (leased) → ``sent``, ``failed``
    (``next_attempt_at`` is the next try) or ``gave_up``, as ``Delivery``."""

    __tablename__ = "follow_delivery"
    __table_args__ = (
        UniqueConstraint("notice_id", "follow_id", name="uq_follow_delivery_once"),
        Index("ix_follow_delivery_due", "state", "next_attempt_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    notice_id: str = Field(foreign_key="follow_notice.id", ondelete="CASCADE", max_length=32)
    follow_id: str = Field(foreign_key="follow.id", ondelete="CASCADE", index=True, max_length=32)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
