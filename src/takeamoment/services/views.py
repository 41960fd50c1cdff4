"""What the service shows of its state: the public shapes, and the private ones opt-in.

The same slot shape goes to the schedule, the change log and (later) the WebSocket, so it is
built here, once. Public shapes list their fields explicitly: a private column added to a table
never reaches a public answer by accident.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import SerializeAsAny
from sqlmodel import SQLModel

from takeamoment import urls
from takeamoment.db.events import Change, Channel, Event
from takeamoment.db.people import Person
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.booking_states import is_active
from takeamoment.domain.slot_states import is_overdue


class ChannelPublic(SQLModel):
    id: str
    slug: str
    name: str
    position: int = 0
    stream_url: str | None = None


class SafetyResource(SQLModel):
    name: str
    phone: str | None = None
    url: str | None = None
    region: str | None = None
    description: str | None = None


class EventPublic(SQLModel):
    id: str
    slug: str
    title: str
    description: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    hashtags: list[str]
    changeover_minutes: int
    reminder_minutes: list[int]
    safety_resources: list[SafetyResource]
    status: str
    channels: list[ChannelPublic]
    last_seq: int
    page_url: str
    calendar_url: str
    webcal_url: str
    created_at: datetime
    updated_at: datetime


class PersonPublic(SQLModel):
    """What anyone may see of a person on the schedule."""

    id: str
    name: str
    handle: str
    role: str


class LicencePrivate(SQLModel):
    number: str
    issuer: str
    jurisdiction: str
    expires_on: date
    verified: bool
    verified_at: datetime | None


class PersonPrivate(PersonPublic):
    """What a host, or the person, sees."""

    email: str | None
    timezone: str | None
    license: LicencePrivate | None
    created_at: datetime


class PersonCreated(PersonPrivate):
    """Shown once, at creation: the secrets are never readable again."""

    token: str
    feed_url: str


class BookingPublic(SQLModel):
    id: str
    slot_id: str
    person_id: str
    role: str
    status: str
    created_at: datetime
    updated_at: datetime


class SlotBooking(BookingPublic):
    """A booking as a host sees it on the slot: any status, with the person."""

    person: PersonPublic


class SlotPublic(SQLModel):
    id: str
    event: str
    channel: str
    channel_name: str
    title: str
    description: str
    kind: str
    tags: list[str]
    starts_at: datetime
    ends_at: datetime
    status: str
    sequence: int
    people: list[PersonPublic]
    updated_at: datetime
    # The slot's own stream link; viewers fall back to its channel's.
    stream_url: str | None = None
    # What happened on air; None until the slot went live (and off air).
    actual_started_at: datetime | None = None
    actual_ended_at: datetime | None = None
    # Scheduled, and its start has passed without it going live ("starting soon").
    overdue: bool = False


class SlotBookingForHost(SQLModel):
    id: str
    person: PersonPublic
    role: str
    status: str


class SlotForHost(SlotPublic):
    """A host also sees who is invited, not only who confirmed."""

    bookings: list[SlotBookingForHost]


class SchedulePublic(SQLModel):
    event: EventPublic
    # Each slot is a SlotForHost (with ``bookings``) for a host, a SlotPublic otherwise. Documented
    # as SlotPublic: a union of the two lists would be a ``oneOf`` that a host's answer matches
    # twice (a SlotForHost is also a valid SlotPublic), so the document would call it invalid.
    slots: Sequence[SerializeAsAny[SlotPublic]]


class SlotMoved(SQLModel):
    """A slot a delay moves: where it goes, and where it was."""

    id: str
    starts_at: datetime
    ends_at: datetime
    previous_starts_at: datetime
    previous_ends_at: datetime


class ReleasedBooking(SQLModel):
    """A booking a forced delay took off its slot, because the person could not follow it."""

    id: str
    slot_id: str
    person_id: str


class DelayResult(SQLModel):
    """The answer to a delay: what moves, what would break, and whether it was applied.

    ``seq`` is the event's seq the answer was made at: send it back with the delay a preview
    showed, so that a schedule changed in between is not overwritten blindly.
    """

    applied: bool
    moved: list[SlotMoved]
    conflicts: list[dict[str, str]]
    released: list[ReleasedBooking]
    seq: int = 0


class AvailabilityWindowView(SQLModel):
    id: str
    starts_at: datetime
    ends_at: datetime


def event_view(event: Event, channels: list[Channel], public_url: str) -> EventPublic:
    page_url = urls.absolute(public_url, urls.event_page(event.slug))
    calendar_url = urls.absolute(public_url, urls.event_calendar(event.slug))
    return EventPublic(
        id=event.id,
        slug=event.slug,
        title=event.title,
        description=event.description,
        timezone=event.timezone,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        hashtags=list(event.hashtags),
        changeover_minutes=event.changeover_minutes,
        reminder_minutes=list(event.reminder_minutes),
        safety_resources=[SafetyResource.model_validate(r) for r in event.safety_resources],
        status=event.status,
        channels=[channel_view(c) for c in channels],
        last_seq=event.last_seq,
        page_url=page_url,
        calendar_url=calendar_url,
        webcal_url=urls.webcal(calendar_url),
        created_at=event.created_at,
        updated_at=event.updated_at,
    )


def channel_view(channel: Channel) -> ChannelPublic:
    return ChannelPublic(
        id=channel.id,
        slug=channel.slug,
        name=channel.name,
        position=channel.position,
        stream_url=channel.stream_url,
    )


def person_public(person: Person) -> PersonPublic:
    return PersonPublic(id=person.id, name=person.name, handle=person.handle, role=person.role)


def person_private(person: Person) -> PersonPrivate:
    licence = None
    if person.license_number and person.license_expires_on:
        licence = LicencePrivate(
            number=person.license_number,
            issuer=person.license_issuer or "",
            jurisdiction=person.license_jurisdiction or "",
            expires_on=person.license_expires_on,
            verified=person.license_verified_at is not None,
            verified_at=person.license_verified_at,
        )
    return PersonPrivate(
        **person_public(person).model_dump(),
        email=person.email,
        timezone=person.timezone,
        license=licence,
        created_at=person.created_at,
    )


def booking_view(booking: Booking) -> BookingPublic:
    return BookingPublic(
        id=booking.id,
        slot_id=booking.slot_id,
        person_id=booking.person_id,
        role=booking.role,
        status=booking.status,
        created_at=booking.created_at,
        updated_at=booking.updated_at,
    )


def slot_view(
    slot: Slot,
    event: Event,
    channel: Channel,
    bookings: list[tuple[Booking, Person]],
    now: datetime | None = None,
) -> SlotPublic:
    """The public slot: confirmed people only; ``overdue`` as of ``now``."""
    return SlotPublic(
        id=slot.id,
        event=event.slug,
        channel=channel.slug,
        channel_name=channel.name,
        title=slot.title,
        description=slot.description,
        kind=slot.kind,
        tags=list(slot.tags),
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        status=slot.status,
        sequence=slot.sequence,
        people=[person_public(p) for b, p in bookings if b.status == "confirmed"],
        updated_at=slot.updated_at,
        stream_url=slot.stream_url,
        actual_started_at=slot.actual_started_at,
        actual_ended_at=slot.actual_ended_at,
        overdue=is_overdue(slot.status, slot.starts_at, now or utcnow()),
    )


def slot_view_for_host(
    slot: Slot,
    event: Event,
    channel: Channel,
    bookings: list[tuple[Booking, Person]],
    now: datetime | None = None,
) -> SlotForHost:
    return SlotForHost(
        **slot_view(slot, event, channel, bookings, now).model_dump(),
        bookings=[
            SlotBookingForHost(id=b.id, person=person_public(p), role=b.role, status=b.status)
            for b, p in bookings
            if is_active(b.status)
        ],
    )


def change_message(change: Change, event_slug: str) -> dict[str, Any]:
    """A change as clients receive it, on the change-log route and on the WebSocket.

    ``event`` is always the event's slug; a payload can never overwrite the envelope.
    """
    return {
        **change.payload,
        "type": change.type,
        "seq": change.seq,
        "event": event_slug,
        "at": change.at.isoformat(),
    }
