"""The event as one JSON document: what ``GET /api/events/{slug}/export`` gives and
``POST /api/events/import`` takes (``services/importing.py`` checks and creates it).

The document holds the event's fields at the top, then ``channels`` in their order, ``people``
(everyone with an invited or confirmed booking, referred to by ``handle`` from the bookings) and
``slots`` by start, each with its ``bookings``. Times are written in the event's own zone with
their offset, so people can read and edit the file.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.people import AvailabilityWindow, Person
from takeamoment.db.queries import get_channels, get_event
from takeamoment.db.slots import ACTIVE_BOOKING_STATUSES, Booking, Slot
from takeamoment.services.inputs import (
    Email,
    EventCreate,
    LongText,
    PersonRole,
    RequestBody,
    Slug,
    StoredUrl,
    Tag,
    Text200,
    TimeZoneName,
    UtcDatetime,
)

FORMAT: Literal["takeamoment.event/1"] = "takeamoment.event/1"
Handle = Annotated[str, Field(pattern=r"^@?[A-Za-z0-9_.]{1,63}$")]


class _Part(RequestBody):
    """A part of the document: an unknown field is a problem, not something to drop."""

    model_config = {**RequestBody.model_config, "extra": "forbid"}


class DocEvent(EventCreate):
    model_config = {**RequestBody.model_config, "extra": "forbid"}

    format: Literal["takeamoment.event/1"] = FORMAT


class DocChannel(_Part):
    slug: Slug
    name: Text200
    stream_url: StoredUrl | None = None


class DocLicence(_Part):
    number: Annotated[str, Field(min_length=1, max_length=100)]
    issuer: Text200
    jurisdiction: Annotated[str, Field(min_length=1, max_length=100)]
    expires_on: date
    verified: bool = False


class DocWindow(_Part):
    starts_at: UtcDatetime
    ends_at: UtcDatetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> DocWindow:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def _without_at(value: str) -> str:
    return value.removeprefix("@")


class DocPerson(_Part):
    """A person the bookings name; one whose handle already exists is used as it is."""

    handle: Handle
    name: Text200
    role: PersonRole
    email: Email | None = None
    timezone: TimeZoneName | None = None
    license: DocLicence | None = None
    availability: Annotated[list[DocWindow], Field(max_length=100)] = []

    _handle = field_validator("handle")(_without_at)


class DocBooking(_Part):
    person: Handle
    role: PersonRole | None = None  # the person's own role when left out
    status: Literal["invited", "confirmed"] = "invited"

    _person = field_validator("person")(_without_at)


class DocSlot(_Part):
    channel: Annotated[str, Field(min_length=1, max_length=64)]
    title: Text200
    description: LongText = ""
    kind: Annotated[str, Field(min_length=1, max_length=32)] = "session"
    tags: Annotated[list[Tag], Field(max_length=20)] = []
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    stream_url: StoredUrl | None = None
    # Imported slots are scheduled, whatever they were; a cancelled one stays cancelled.
    status: Literal["scheduled", "live", "ended", "cancelled"] = "scheduled"
    bookings: Annotated[list[DocBooking], Field(max_length=50)] = []

    @model_validator(mode="after")
    def _ends_after_start(self) -> DocSlot:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


LISTS = ("channels", "people", "slots")


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat()


def _event_fields(event: Event, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "slug": event.slug,
        "title": event.title,
        "description": event.description,
        "timezone": event.timezone,
        "starts_at": _local(event.starts_at, zone),
        "ends_at": _local(event.ends_at, zone),
        "hashtags": list(event.hashtags),
        "changeover_minutes": event.changeover_minutes,
        "reminder_minutes": list(event.reminder_minutes),
        "safety_resources": [dict(r) for r in event.safety_resources],
    }


async def _person_entry(
    session: AsyncSession, person: Person, event: Event, zone: ZoneInfo
) -> dict[str, Any]:
    entry: dict[str, Any] = {"handle": person.handle, "name": person.name, "role": person.role}
    if person.email:
        entry["email"] = person.email
    if person.timezone:
        entry["timezone"] = person.timezone
    if person.license_number and person.license_expires_on:
        entry["license"] = {
            "number": person.license_number,
            "issuer": person.license_issuer or "",
            "jurisdiction": person.license_jurisdiction or "",
            "expires_on": person.license_expires_on.isoformat(),
            "verified": person.license_verified_at is not None,
        }
    query = (
        select(AvailabilityWindow)
        .where(
            AvailabilityWindow.person_id == person.id,
            col(AvailabilityWindow.starts_at) < event.ends_at,
            col(AvailabilityWindow.ends_at) > event.starts_at,
        )
        .order_by(col(AvailabilityWindow.starts_at))
    )
    windows = (await session.execute(query)).scalars()
    entry["availability"] = [
        {"starts_at": _local(w.starts_at, zone), "ends_at": _local(w.ends_at, zone)}
        for w in windows
    ]
    return entry


async def export_event(db: Database, slug: str) -> dict[str, Any]:
    """The whole event as one document (see the module doc); hosts only: it has private fields."""
    async with db.read() as session:
        event = await get_event(session, slug)
        zone = ZoneInfo(event.timezone)
        channels = await get_channels(session, event.id)
        order = {channel.id: index for index, channel in enumerate(channels)}
        slugs = {channel.id: channel.slug for channel in channels}
        slots = list(
            (await session.execute(select(Slot).where(Slot.event_id == event.id))).scalars()
        )
        slots.sort(key=lambda s: (s.starts_at, order[s.channel_id], s.title, s.ends_at))
        rows = (
            await session.execute(
                select(Booking, Person)
                .join(Person, col(Person.id) == Booking.person_id)
                .where(
                    col(Booking.slot_id).in_([s.id for s in slots]),
                    col(Booking.status).in_(ACTIVE_BOOKING_STATUSES),
                )
            )
        ).all()
        by_slot: dict[str, list[tuple[Booking, Person]]] = {}
        for booking, person in rows:
            by_slot.setdefault(booking.slot_id, []).append((booking, person))
        people = {person.id: person for _, person in rows}
        document = _event_fields(event, zone)
        document["channels"] = [
            {"slug": c.slug, "name": c.name, "stream_url": c.stream_url} for c in channels
        ]
        document["people"] = [
            await _person_entry(session, person, event, zone)
            for person in sorted(people.values(), key=lambda p: p.handle.lower())
        ]
    document["slots"] = [
        {
            "channel": slugs[slot.channel_id],
            "title": slot.title,
            "description": slot.description,
            "kind": slot.kind,
            "tags": list(slot.tags),
            "starts_at": _local(slot.starts_at, zone),
            "ends_at": _local(slot.ends_at, zone),
            "stream_url": slot.stream_url,
            "status": slot.status,
            "bookings": [
                {"person": person.handle, "role": booking.role, "status": booking.status}
                for booking, person in sorted(
                    by_slot.get(slot.id, []), key=lambda row: row[1].handle.lower()
                )
            ],
        }
        for slot in slots
    ]
    return document
