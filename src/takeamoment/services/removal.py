"""Deleting slots for good (a scheduled slot, or every slot of a draft event being deleted).

A deleted slot leaves no row behind, but its people keep their notifications: those lose their
slot and booking ids (the payload still says what they were told), and everyone with an active
booking is told ``booking.removed``. The caller holds the event's lock.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from takeamoment.db.events import Event
from takeamoment.db.notifications import Notification
from takeamoment.db.queries import bookings_with_people, lock_people
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.services.notifications import notify
from takeamoment.services.schedule import slot_public


async def remove_slots(session: AsyncSession, event: Event, slots: Sequence[Slot]) -> None:
    """Delete the slots and all their bookings; tell each actively booked person."""
    if not slots:
        return
    slot_ids = [slot.id for slot in slots]
    active = await bookings_with_people(session, slot_ids)
    await lock_people(session, (person.id for rows in active.values() for _, person in rows))
    now = utcnow()
    for slot in slots:
        view = (await slot_public(session, event, slot)).model_dump(mode="json")
        for booking, _ in sorted(active[slot.id], key=lambda row: row[0].person_id):
            await notify(
                session,
                person_id=booking.person_id,
                booking_id=booking.id,
                slot=view,
                kind="booking.removed",
                due_at=now,
                extra={"role": booking.role, "reason": "the slot was deleted"},
            )
    await session.flush()
    await session.execute(
        update(Notification)
        .where(col(Notification.slot_id).in_(slot_ids))
        .values(slot_id=None, booking_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(Booking).where(col(Booking.slot_id).in_(slot_ids)))
    await session.execute(delete(Slot).where(col(Slot.id).in_(slot_ids)))
