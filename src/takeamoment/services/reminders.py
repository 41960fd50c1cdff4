"""Reminders and go-live notices: what is owed (read from the database) and delivering one.

Delivery is idempotent: a notice is a row unique per (booking, kind, due time), so a job that
fires twice (a retry, a restart, a second process) still tells the person once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.notifications import Notification
from takeamoment.db.queries import get_event_by_id
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.reminders import DueNotice, notices_for, verdict
from takeamoment.services.changes import record_change
from takeamoment.services.notifications import notify
from takeamoment.services.schedule import slot_public

ARMABLE_SLOT_STATUSES = ("scheduled", "live")


@dataclass(frozen=True, slots=True, kw_only=True)
class OwedNotice:
    booking_id: str
    notice: DueNotice

    @property
    def job_id(self) -> str:
        """Stable per booking and notice, so moving a slot re-times the same job."""
        return f"notice:{self.booking_id}:{self.notice.kind}:{self.notice.minutes_before or 0}"


async def owed_notices(db: Database, not_before: datetime) -> list[OwedNotice]:
    """Every notice of a confirmed booking due from ``not_before`` on, not yet recorded."""
    async with db.read() as session:
        query = (
            select(Booking, Slot, Event)
            .join(Slot, col(Slot.id) == Booking.slot_id)
            .join(Event, col(Event.id) == Slot.event_id)
            .where(
                Booking.status == "confirmed",
                col(Slot.status).in_(ARMABLE_SLOT_STATUSES),
                col(Slot.starts_at) >= not_before,
            )
        )
        rows = (await session.execute(query)).all()
        done_query = select(Notification.booking_id, Notification.kind, Notification.due_at).where(
            col(Notification.booking_id).in_([booking.id for booking, _, _ in rows])
        )
        done = {tuple(r) for r in (await session.execute(done_query)).all()} if rows else set()
    owed = []
    for booking, slot, event in rows:
        confirmed_at = booking.confirmed_at or booking.updated_at
        for notice in notices_for(slot.starts_at, event.reminder_minutes, confirmed_at):
            if notice.due_at >= not_before and (booking.id, notice.kind, notice.due_at) not in done:
                owed.append(OwedNotice(booking_id=booking.id, notice=notice))
    return owed


async def live_slot_ends(db: Database) -> dict[str, datetime]:
    """Live slots whose overrun has not been told yet, with their end times."""
    async with db.read() as session:
        query = select(Slot).where(Slot.status == "live")
        return {
            slot.id: slot.ends_at
            for slot in (await session.execute(query)).scalars()
            if slot.overrun_noticed_at != slot.ends_at
        }


async def deliver_notice(
    db: Database, booking_id: str, kind: str, minutes_before: int | None, grace: timedelta
) -> str:
    """Send the notice if still owed, late within ``grace``; past it, record it as missed.

    Answers what happened: "sent", "missed", or "not owed" (cancelled, moved, not yet due).
    """

    async def work(session: AsyncSession) -> str:
        booking = await session.get(Booking, booking_id)
        slot = await session.get(Slot, booking.slot_id) if booking else None
        if booking is None or slot is None or booking.status != "confirmed":
            return "not owed"
        event = await get_event_by_id(session, slot.event_id, for_update=True)
        confirmed_at = booking.confirmed_at or booking.updated_at
        owed = [
            n
            for n in notices_for(slot.starts_at, event.reminder_minutes, confirmed_at)
            if n.kind == kind and n.minutes_before == minutes_before
        ]
        if slot.status not in ARMABLE_SLOT_STATUSES or not owed:
            return "not owed"
        notice = owed[0]
        outcome = verdict(notice.due_at, utcnow(), grace)
        if outcome == "wait":
            return "not owed"
        view = (await slot_public(session, event, slot)).model_dump(mode="json")
        extra = {"minutes_before": minutes_before} if minutes_before else {}
        missed = outcome == "missed"
        if missed and not await _recorded(session, booking_id, kind, notice.due_at):
            await record_change(
                session,
                event,
                "notice.missed",
                {"slot": view, "booking_id": booking_id, "kind": kind, **extra},
            )
        stored = await notify(
            session,
            person_id=booking.person_id,
            booking_id=booking_id,
            slot=view,
            kind=kind,
            due_at=notice.due_at,
            extra=extra,
            missed=missed,
        )
        return "not owed" if stored is None else outcome

    return await db.write(work)


async def _recorded(session: AsyncSession, booking_id: str, kind: str, due_at: datetime) -> bool:
    query = select(Notification.id).where(
        Notification.booking_id == booking_id,
        Notification.kind == kind,
        Notification.due_at == due_at,
    )
    return (await session.execute(query)).first() is not None


async def notice_overrun(db: Database, slot_id: str) -> bool:
    """Tell the event's stream, once per end time, that a live slot runs past its end."""

    async def work(session: AsyncSession) -> bool:
        slot = await session.get(Slot, slot_id)
        if slot is None:
            return False
        event = await get_event_by_id(session, slot.event_id, for_update=True)
        await session.refresh(slot)
        if slot.status != "live" or utcnow() < slot.ends_at:
            return False
        if slot.overrun_noticed_at == slot.ends_at:
            return False
        slot.overrun_noticed_at = slot.ends_at
        view = (await slot_public(session, event, slot)).model_dump(mode="json")
        await record_change(session, event, "slot.overrun", {"slot": view})
        return True

    return await db.write(work)
