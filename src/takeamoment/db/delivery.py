"""Delivery beyond the socket: the outbox of (notice, channel) rows, push subscriptions, and
one-time access links.

A delivery row is written in the notice's own transaction and sent after commit by a worker
(``takeamoment.delivery``); its ``state`` and ``next_attempt_at`` are the whole protocol between
the two, so any process may pick it up.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from takeamoment.db.types import UTCDateTime, new_id, utcnow


class Delivery(SQLModel, table=True):
    """One notice on one channel (``push`` or ``email``).

    ``pending`` → claimed as ``sending`` (``next_attempt_at`` is then the claim's lease end) →
    ``sent``, ``failed`` (``next_attempt_at`` is the next try) or ``gave_up``. A ``sending`` row
    whose lease has run out was claimed by a process that died or hung: it is claimed again.
    """

    __table_args__ = (
        UniqueConstraint("notification_id", "channel", name="uq_delivery_once"),
        Index("ix_delivery_due", "state", "next_attempt_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    notification_id: str = Field(foreign_key="notification.id", max_length=32)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=32)
    channel: str = Field(max_length=16)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Push: the subscriptions already served, so a retry never sends to them twice.
    done: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PushSubscription(SQLModel, table=True):
    """A browser's ``PushSubscription``: where to POST, and the keys to encrypt for it."""

    __tablename__ = "push_subscription"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=32)
    endpoint: str = Field(sa_type=Text, unique=True)
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AccessLink(SQLModel, table=True):
    """A one-time sign-in link for a creator or therapist, kept only as the SHA-256 of its token."""

    __tablename__ = "access_link"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=32)
    token_hash: str = Field(unique=True, max_length=64)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
