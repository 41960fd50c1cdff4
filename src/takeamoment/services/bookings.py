"""Bookings: invite a person into a slot, let them accept or decline, let a host remove them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.queries import get_booking, get_event_by_id, get_person, get_slot
from takeamoment.db.slots import ACTIVE_BOOKING_STATUSES, Booking
from takeamoment.db.types import utcnow
from takeamoment.domain.errors import AlreadyExists, InvalidTransition, SchedulingConflict
from takeamoment.services.auth import Principal
from takeamoment.services.changes import record_change
from takeamoment.services.inputs import BookingCreate
from takeamoment.services.notifications import notify
from takeamoment.services.people_rules import ensure_may_take_role, person_conflicts, placed
from takeamoment.services.schedule import slot_public
from takeamoment.services.views import BookingPublic, booking_view, person_public


async def book(db: Database, slot_id: str, data: BookingCreate) -> BookingPublic:
    """Invite a person; every person rule is checked with the person's row locked."""

    async def work(session: AsyncSession) -> BookingPublic:
        slot = await get_slot(session, slot_id)
        # Event first, then person: the lock order every writer follows (see db/queries.py).
        # A shared lock: bookings of different people proceed together, while a slot move or a
        # changeover change (which take it exclusively) waits for them, and they for it.
        event = await get_event_by_id(session, slot.event_id, for_share=True)
        await session.refresh(slot)
        person = await get_person(session, data.person_id, for_update=True)
        if slot.status != "scheduled":
            raise InvalidTransition(f"a {slot.status} slot takes no new bookings", slot_id=slot.id)
        ensure_may_take_role(person, data.role, slot, event)
        existing = select(Booking.id).where(
            Booking.slot_id == slot.id,
            Booking.person_id == person.id,
            col(Booking.status).in_(ACTIVE_BOOKING_STATUSES),
        )
        if (await session.execute(existing)).first():
            raise AlreadyExists(f"person {person.id} is already booked in slot {slot.id}")
        candidate = placed(slot, event)
        conflicts = await person_conflicts(session, person.id, candidate)
        if conflicts:
            raise SchedulingConflict(conflicts)
        booking = Booking(
            slot_id=slot.id,
            person_id=person.id,
            role=data.role,
            starts_at=slot.starts_at,
            busy_until=candidate.busy_until,
        )
        session.add(booking)
        await session.flush()
        view = await slot_public(session, event, slot)
        await notify(
            session,
            person_id=person.id,
            booking_id=booking.id,
            slot=view.model_dump(mode="json"),
            kind="booking.invited",
            due_at=booking.created_at,
            extra={"role": booking.role},
        )
        return booking_view(booking)

    return await db.write(work)


async def _answer(
    db: Database, booking_id: str, principal: Principal, accept: bool
) -> BookingPublic:
    async def work(session: AsyncSession) -> BookingPublic:
        booking = await get_booking(session, booking_id)
        principal.ensure_host_or(booking.person_id)
        slot = await get_slot(session, booking.slot_id)
        event = await get_event_by_id(session, slot.event_id, for_update=True)
        await session.refresh(booking)
        wanted = "confirmed" if accept else "declined"
        if booking.status == wanted:
            return booking_view(booking)  # answering twice is harmless
        if booking.status not in ACTIVE_BOOKING_STATUSES or (
            accept and slot.status in ("ended", "cancelled")
        ):
            raise InvalidTransition(
                f"a {booking.status} booking cannot be {wanted}", slot_id=slot.id
            )
        was_confirmed = booking.status == "confirmed"
        booking.status, booking.updated_at = wanted, utcnow()
        if accept:
            booking.confirmed_at = booking.updated_at
        await session.flush()
        if accept or was_confirmed:
            await _record_booking_change(session, booking, event, accept)
        return booking_view(booking)

    return await db.write(work)


async def accept(db: Database, booking_id: str, principal: Principal) -> BookingPublic:
    return await _answer(db, booking_id, principal, accept=True)


async def decline(db: Database, booking_id: str, principal: Principal) -> BookingPublic:
    return await _answer(db, booking_id, principal, accept=False)


async def remove(db: Database, booking_id: str) -> None:
    """Take a person off a slot; the booking is kept as ``removed`` for the record."""

    async def work(session: AsyncSession) -> None:
        booking = await get_booking(session, booking_id)
        slot = await get_slot(session, booking.slot_id)
        event = await get_event_by_id(session, slot.event_id, for_update=True)
        await session.refresh(booking)
        if booking.status == "removed":
            return
        was_confirmed = booking.status == "confirmed"
        booking.status, booking.updated_at = "removed", utcnow()
        await session.flush()
        if was_confirmed:
            await _record_booking_change(session, booking, event, accepted=False)

    await db.write(work)


async def _record_booking_change(
    session: AsyncSession, booking: Booking, event: Event, accepted: bool
) -> None:
    slot = await get_slot(session, booking.slot_id)
    person = await get_person(session, booking.person_id)
    body = {
        "booking": {
            "id": booking.id,
            "slot_id": booking.slot_id,
            "role": booking.role,
            "status": booking.status,
            "person": person_public(person).model_dump(mode="json"),
        },
        "slot": (await slot_public(session, event, slot)).model_dump(mode="json"),
    }
    await record_change(
        session, event, "booking.confirmed" if accepted else "booking.removed", body
    )
