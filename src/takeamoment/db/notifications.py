"""Notifications to people: stored rows, numbered per person, each delivered once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from takeamoment.db.types import UTCDateTime, new_id, utcnow


class Notification(SQLModel, table=True):
    """Something a creator or therapist must hear about, e.g. "you're on in 5 minutes".

    Unique per (booking, kind, due time): whoever fires it twice, it exists once.
    """

    __table_args__ = (
        UniqueConstraint("booking_id", "kind", "due_at", name="uq_notification_once"),
        UniqueConstraint("person_id", "seq", name="uq_notification_person_seq"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    person_id: str = Field(foreign_key="person.id", max_length=32)
    # Numbered per person as delivered; None for a missed notice, which is never delivered.
    seq: int | None = None
    # None once the slot was deleted: the payload keeps what the person was told about it.
    booking_id: str | None = Field(default=None, foreign_key="booking.id", max_length=32)
    slot_id: str | None = Field(default=None, foreign_key="slot.id", max_length=32)
    kind: str = Field(max_length=32)
    due_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # Too late to be worth sending (past the grace period): kept for the host, never sent.
    missed: bool = False
