"""Bookings: invite a person into a slot, let them accept or decline, let a host remove them.

Everyone affected is told: the person hears ``booking.removed`` when the host takes them off (or
their slot is deleted: ``tell_booking_removed``), and the host's change log has every answer —
``booking.confirmed``, and ``booking.declined``, whose public payload names the person only when
they had confirmed (the public sees confirmed people only).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.queries import get_booking, get_event_by_id, get_person, get_slot
from takeamoment.db.slots import ACTIVE_BOOKING_STATUSES, Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.booking_states import apply_booking, is_active
from takeamoment.domain.errors import AlreadyExists, InvalidTransition, SchedulingConflict
from takeamoment.services.auth import Principal
from takeamoment.services.changes import record_change
from takeamoment.services.inputs import BookingCreate
from takeamoment.services.notifications import notify
from takeamoment.services.people_rules import ensure_may_take_role, person_conflicts, placed
from takeamoment.services.prompts import prompt_after_change
from takeamoment.services.schedule import slot_name, slot_public
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
            raise InvalidTransition(
                f"{slot_name(slot, event)} is {slot.status}, so it takes no new bookings",
                slot_id=slot.id,
            )
        ensure_may_take_role(person, data.role, slot, event)
        existing = select(Booking.id).where(
            Booking.slot_id == slot.id,
            Booking.person_id == person.id,
            col(Booking.status).in_(ACTIVE_BOOKING_STATUSES),
        )
        if (await session.execute(existing)).first():
            raise AlreadyExists(f"{person.name} is already booked in {slot_name(slot, event)}")
        candidate = placed(slot, event)
        conflicts = await person_conflicts(
            session, person.id, candidate, person_name=person.name, zone=event.timezone
        )
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
        person = await get_person(session, booking.person_id)
        where = slot_name(slot, event)
        wanted = apply_booking(
            booking.status,
            "accept" if accept else "decline",
            slot_id=slot.id,
            who=person.name,
            slot_label=where,
        )
        if booking.status == wanted:
            return booking_view(booking)  # answering twice is harmless
        if accept and slot.status in ("ended", "cancelled"):
            raise InvalidTransition(
                f"{where} is {slot.status}, so {person.name}'s booking cannot be confirmed",
                slot_id=slot.id,
            )
        was_confirmed = booking.status == "confirmed"
        booking.status, booking.updated_at = wanted, utcnow()
        if accept:
            booking.confirmed_at = booking.updated_at
        await session.flush()
        await _record_booking_change(
            session,
            booking,
            event,
            "booking.confirmed" if accept else "booking.declined",
            named=accept or was_confirmed,
        )
        if accept:  # confirmed into a slot that is on air, or whose channel waits for it: on now
            await prompt_after_change(session, event, [slot.channel_id], booking.updated_at)
        return booking_view(booking)

    return await db.write(work)


async def accept(db: Database, booking_id: str, principal: Principal) -> BookingPublic:
    return await _answer(db, booking_id, principal, accept=True)


async def decline(db: Database, booking_id: str, principal: Principal) -> BookingPublic:
    return await _answer(db, booking_id, principal, accept=False)


async def remove(db: Database, booking_id: str) -> None:
    """Take a person off a slot; the booking is kept as ``removed`` and the person is told."""

    async def work(session: AsyncSession) -> None:
        booking = await get_booking(session, booking_id)
        slot = await get_slot(session, booking.slot_id)
        event = await get_event_by_id(session, slot.event_id, for_update=True)
        await session.refresh(booking)
        if booking.status == "removed":
            return
        was_confirmed, was_active = booking.status == "confirmed", is_active(booking.status)
        booking.status = apply_booking(booking.status, "remove", slot_id=slot.id)
        booking.updated_at = utcnow()
        await session.flush()
        if was_confirmed:
            await _record_booking_change(session, booking, event, "booking.removed", named=True)
        if was_active:
            await tell_booking_removed(session, event, slot, booking, reason="removed")

    await db.write(work)


async def tell_booking_removed(
    session: AsyncSession, event: Event, slot: Slot, booking: Booking, *, reason: str
) -> None:
    """Tell the person (``booking.removed``) that they are no longer on the slot.

    For every way a booking ends on the host's side: removed by the host (``reason``
    "removed"), or the slot deleted ("slot_deleted"). The caller has changed the booking and holds
    the event's lock; this locks the person.
    """
    view = (await slot_public(session, event, slot)).model_dump(mode="json")
    await notify(
        session,
        person_id=booking.person_id,
        booking_id=booking.id,
        slot=view,
        kind="booking.removed",
        due_at=booking.updated_at,
        extra={"role": booking.role, "booking_status": booking.status, "reason": reason},
    )


async def _record_booking_change(
    session: AsyncSession, booking: Booking, event: Event, change_type: str, *, named: bool
) -> None:
    """Log an answer or removal; ``named`` only when the public saw the person confirmed."""
    slot = await get_slot(session, booking.slot_id)
    shown: dict[str, object] = {
        "id": booking.id,
        "slot_id": booking.slot_id,
        "role": booking.role,
        "status": booking.status,
    }
    if named:
        person = await get_person(session, booking.person_id)
        shown["person"] = person_public(person).model_dump(mode="json")
    body = {
        "booking": shown,
        "slot": (await slot_public(session, event, slot)).model_dump(mode="json"),
    }
    await record_change(session, event, change_type, body)
