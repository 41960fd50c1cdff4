"""Running a slot on air: go live, end, cancel — one transaction each, logged in the change log.

Every change of status bumps the slot's ``sequence`` (calendars see a new version) and writes one
change (``slot.live``, ``slot.ended``, ``slot.cancelled``) with the slot's public view.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.engine import Database
from takeamoment.db.queries import (
    bookings_with_people,
    get_event_by_id,
    get_slot,
    live_slot_ids,
    lock_people,
)
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.errors import SchedulingConflict
from takeamoment.domain.slot_states import SlotCommand, SlotStatus, apply, find_channel_busy
from takeamoment.services.changes import record_change
from takeamoment.services.notifications import notify
from takeamoment.services.schedule import slot_public
from takeamoment.services.views import SlotPublic

CHANGE_TYPES: Mapping[SlotStatus, str] = {
    "live": "slot.live",
    "ended": "slot.ended",
    "cancelled": "slot.cancelled",
}

# A booking of a cancelled slot: kept for the record, no longer holding the person's time (it is
# not an active status, so neither the rules nor PostgreSQL's exclusion constraint count it).
CANCELLED_BOOKING = "cancelled"


async def go_live(db: Database, slot_id: str) -> SlotPublic:
    """Put a scheduled slot on air; 409 ``channel_busy`` while another slot of its channel is."""
    return await _change_status(db, slot_id, "go_live")


async def end(db: Database, slot_id: str) -> SlotPublic:
    """Take a live slot off air; it stays in the schedule as ``ended``."""
    return await _change_status(db, slot_id, "end")


async def cancel(db: Database, slot_id: str) -> SlotPublic:
    """Cancel a scheduled slot: it stays in the schedule as ``cancelled``, its channel time is
    free again, and every booked person is released and told (``slot.cancelled``)."""
    return await _change_status(db, slot_id, "cancel")


async def _change_status(db: Database, slot_id: str, command: SlotCommand) -> SlotPublic:
    async def work(session: AsyncSession) -> SlotPublic:
        slot = await get_slot(session, slot_id)
        event = await get_event_by_id(session, slot.event_id, for_update=True)
        await session.refresh(slot)  # read again now that the event's lock is held
        status = apply(slot.status, command, slot_id=slot.id)
        if status == "live":
            # Every status change of the event's slots holds the event's lock: this stays true.
            busy = find_channel_busy(slot.id, await live_slot_ids(session, slot.channel_id))
            if busy:
                raise SchedulingConflict(busy)
        now = utcnow()
        released = await _release_bookings(session, slot, now) if status == "cancelled" else []
        slot.status, slot.sequence, slot.updated_at = status, slot.sequence + 1, now
        await session.flush()
        view = await slot_public(session, event, slot)
        view_json = view.model_dump(mode="json")
        await record_change(session, event, CHANGE_TYPES[status], {"slot": view_json})
        for booking in released:
            await notify(
                session,
                person_id=booking.person_id,
                booking_id=booking.id,
                slot=view_json,
                kind="slot.cancelled",
                due_at=now,
                extra={"role": booking.role},
            )
        return view

    return await db.write(work)


async def _release_bookings(session: AsyncSession, slot: Slot, now: datetime) -> list[Booking]:
    """Mark the slot's active bookings cancelled, the people locked first (they will be told)."""
    rows = (await bookings_with_people(session, [slot.id]))[slot.id]
    await lock_people(session, (person.id for _, person in rows))
    for booking, _ in rows:
        booking.status, booking.updated_at = CANCELLED_BOOKING, now
    return sorted((booking for booking, _ in rows), key=lambda booking: booking.person_id)
