"""The schedule aggregate: slots on channels and the bookings of people into them.

On PostgreSQL two exclusion constraints make the overlap rules hold even if the application's
own checks were bypassed: no two live slots overlap on a channel, and no person holds two active
bookings whose busy ranges (slot plus the event's changeover) overlap.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, String, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlmodel import Field, SQLModel

from takeamoment.db.types import UTCDateTime, new_id, utcnow
from takeamoment.domain.booking_states import ACTIVE_BOOKING_STATUSES, BookingStatus
from takeamoment.domain.slot_states import SlotStatus

__all__ = ["ACTIVE_BOOKING_STATUSES", "Booking", "Slot"]

CHANNEL_OVERLAP_CONSTRAINT = "ex_slot_channel_overlap"
PERSON_OVERLAP_CONSTRAINT = "ex_booking_person_overlap"


class Slot(SQLModel, table=True):
    __table_args__ = (
        Index("ix_slot_event_starts", "event_id", "starts_at"),
        Index("ix_slot_channel_starts", "channel_id", "starts_at"),
        ExcludeConstraint(
            (text("channel_id"), "="),
            (text("tstzrange(starts_at, ends_at)"), "&&"),
            name=CHANNEL_OVERLAP_CONSTRAINT,
            using="gist",
            where=text("status <> 'cancelled'"),
        ).ddl_if(dialect="postgresql"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="event.id", max_length=32)
    channel_id: str = Field(foreign_key="channel.id", max_length=32)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=5000)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    kind: str = Field(default="session", max_length=32)
    stream_url: str | None = Field(default=None, max_length=2000)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    status: SlotStatus = Field(default="scheduled", sa_type=String(16))
    sequence: int = 0
    # The end time for which the host was last told the live slot overran (told once per end).
    overrun_noticed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What happened on air: when the slot went live and went off air (None until it did).
    actual_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    actual_ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The end it held before ending early gave the rest back to its channel; reopen restores it.
    planned_ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Booking(SQLModel, table=True):
    """A person invited to or confirmed in a slot.

    ``starts_at`` and ``busy_until`` copy the slot's time (plus changeover) so the database can
    check the person rule by itself; services keep them in step when a slot moves.
    """

    __table_args__ = (
        Index("ix_booking_person_starts", "person_id", "starts_at"),
        ExcludeConstraint(
            (text("person_id"), "="),
            (text("tstzrange(starts_at, busy_until)"), "&&"),
            name=PERSON_OVERLAP_CONSTRAINT,
            using="gist",
            where=text("status IN ('invited', 'confirmed')"),
        ).ddl_if(dialect="postgresql"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    slot_id: str = Field(foreign_key="slot.id", index=True, max_length=32)
    person_id: str = Field(foreign_key="person.id", max_length=32)
    role: str = Field(max_length=16)
    status: BookingStatus = Field(default="invited", sa_type=String(16))
    starts_at: datetime = Field(sa_type=UTCDateTime)
    busy_until: datetime = Field(sa_type=UTCDateTime)
    # Reminders due before this moment are not owed: they would arrive stale.
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
