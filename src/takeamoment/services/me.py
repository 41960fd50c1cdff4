"""What a creator or therapist sees and sets about themselves: their bookings, their channels."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, func, select

from takeamoment.db.delivery import PushSubscription
from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.queries import (
    get_booking,
    get_channels,
    get_event_by_id,
    get_person,
    get_slot,
)
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.errors import Forbidden
from takeamoment.services.inputs import Flag, RequestBody
from takeamoment.services.notice_words import local_span
from takeamoment.services.schedule import slot_public
from takeamoment.services.views import (
    EventPublic,
    PersonPrivate,
    SlotPublic,
    event_view,
    person_private,
)


class Preferences(SQLModel):
    """The channels beyond the stream: on or off, and how many browsers take push."""

    email: bool
    push: bool
    push_subscriptions: int


class PreferencesUpdate(RequestBody):
    email: Flag | None = None
    push: Flag | None = None


class MyBooking(SQLModel):
    id: str
    status: str
    role: str
    slot: SlotPublic
    event: EventPublic


class Me(SQLModel):
    person: PersonPrivate
    preferences: Preferences
    bookings: list[MyBooking]


def _own(person_id: str | None) -> str:
    if person_id is None:
        raise Forbidden("this is for creators and therapists (a host has no bookings)")
    return person_id


async def _preferences(session: AsyncSession, person_id: str) -> Preferences:
    person = await get_person(session, person_id)
    count = select(func.count()).where(PushSubscription.person_id == person_id)
    return Preferences(
        email=person.email_enabled,
        push=person.push_enabled,
        push_subscriptions=(await session.execute(count)).scalar_one(),
    )


async def get_me(db: Database, person_id: str | None, public_url: str) -> Me:
    """The person and every booking they have or had, by the slot's start."""
    person_id = _own(person_id)
    async with db.read() as session:
        person = await get_person(session, person_id)
        query = (
            select(Booking, Slot, Event)
            .join(Slot, col(Slot.id) == Booking.slot_id)
            .join(Event, col(Event.id) == Slot.event_id)
            .where(Booking.person_id == person_id)
            .order_by(col(Slot.starts_at), col(Booking.created_at))
        )
        bookings = []
        events: dict[str, EventPublic] = {}
        for booking, slot, event in (await session.execute(query)).all():
            if event.id not in events:
                channels = await get_channels(session, event.id)
                events[event.id] = event_view(event, channels, public_url)
            bookings.append(
                MyBooking(
                    id=booking.id,
                    status=booking.status,
                    role=booking.role,
                    slot=await slot_public(session, event, slot),
                    event=events[event.id],
                )
            )
        return Me(
            person=person_private(person),
            preferences=await _preferences(session, person_id),
            bookings=bookings,
        )


async def set_preferences(
    db: Database, person_id: str | None, data: PreferencesUpdate
) -> Preferences:
    """Turn email or push on or off; what is not named stays as it is."""
    person_id = _own(person_id)

    async def work(session: AsyncSession) -> Preferences:
        person = await get_person(session, person_id, for_update=True)
        if data.email is not None:
            person.email_enabled = data.email
        if data.push is not None:
            person.push_enabled = data.push
        person.updated_at = utcnow()
        await session.flush()
        return await _preferences(session, person_id)

    return await db.write(work)


async def turn_email_off(db: Database, person_id: str) -> None:
    """The one-click unsubscribe of the emails' ``List-Unsubscribe``."""

    async def work(session: AsyncSession) -> None:
        person = await get_person(session, person_id, for_update=True)
        if person.email_enabled:
            person.email_enabled, person.updated_at = False, utcnow()

    await db.write(work)


class AnswerContext(SQLModel):
    """What a one-click answer page shows and needs: whose booking, of which slot, when."""

    booking_id: str
    person_id: str
    role: str
    status: str
    slot_title: str
    channel_name: str
    when: str


async def answer_context(db: Database, booking_id: str) -> AnswerContext:
    """The booking an emailed Accept/Decline link names, described in its person's time zone."""
    async with db.read() as session:
        booking = await get_booking(session, booking_id)
        slot = await get_slot(session, booking.slot_id)
        event = await get_event_by_id(session, slot.event_id)
        person = await get_person(session, booking.person_id)
        view = await slot_public(session, event, slot)
    zone = person.timezone or event.timezone
    return AnswerContext(
        booking_id=booking.id,
        person_id=person.id,
        role=person.role,
        status=booking.status,
        slot_title=slot.title,
        channel_name=view.channel_name,
        when=local_span(slot.starts_at.isoformat(), slot.ends_at.isoformat(), zone),
    )
