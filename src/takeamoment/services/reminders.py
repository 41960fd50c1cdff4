"""Reminders and go-live notices: what is owed (read from the database) and delivering one.

Delivery is idempotent: a notice is a row unique per (booking, kind, due time), so a job that
fires twice (a retry, a restart, a second process) still tells the person once.

"You're on" follows the channel (``domain.prompts``): the job at a slot's start sends ``go_live``
when the channel is free and ``standby`` (with the expected start) while it is busy. After a
standby, ``go_live`` is written by the change that frees the channel or takes the slot live; the
job is armed again only if the channel turns out free without one (a safety net). Reminders are
owed only until the slot goes live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.notifications import Notification
from takeamoment.db.queries import get_event_by_id
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.prompts import ChannelSlot, prompt_at
from takeamoment.domain.reminders import DueNotice, notices_for, verdict
from takeamoment.services.changes import record_change
from takeamoment.services.notifications import notify
from takeamoment.services.prompts import channel_slot, channels_at, notify_prompt
from takeamoment.services.schedule import slot_public

ARMABLE_SLOT_STATUSES = ("scheduled", "live")


@dataclass(frozen=True, slots=True, kw_only=True)
class OwedNotice:
    booking_id: str
    notice: DueNotice
    # Owed now whatever its due time says: "you're on" for a slot already on air.
    now: bool = False

    def run_at(self, now: datetime) -> datetime:
        """When the job should fire: at the due time, or at once when late or owed now."""
        return now if self.now else max(self.notice.due_at, now)

    @property
    def job_id(self) -> str:
        """Stable per booking and notice, so moving a slot re-times the same job."""
        return f"notice:{self.booking_id}:{self.notice.kind}:{self.notice.minutes_before or 0}"


async def owed_notices(db: Database, not_before: datetime) -> list[OwedNotice]:
    """Every notice of a confirmed booking due from ``not_before`` on, not yet recorded.

    A ``go_live`` whose people were put on standby is owed only once the channel is free for
    them (the change that frees it normally tells them at once).
    """
    now = utcnow()
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
        started = sorted({slot.channel_id for _, slot, _ in rows if slot.starts_at <= now})
        channels = await channels_at(session, started, now)
    owed = []
    for booking, slot, event in rows:
        for notice in _owed(booking, slot, event):
            if notice.due_at < not_before or (booking.id, notice.kind, notice.due_at) in done:
                continue
            standby = (booking.id, "standby", notice.due_at) in done
            if notice.kind == "go_live" and standby and not _free(slot, channels, now):
                continue  # waiting for the channel: not the clock's to send
            at_once = notice.kind == "go_live" and slot.status == "live"
            owed.append(OwedNotice(booking_id=booking.id, notice=notice, now=at_once))
    return owed


def _owed(booking: Booking, slot: Slot, event: Event) -> list[DueNotice]:
    """The booking's notices; once the slot is live only "you're on" is still worth saying."""
    confirmed_at = booking.confirmed_at or booking.updated_at
    notices = notices_for(slot.starts_at, event.reminder_minutes, confirmed_at)
    return [n for n in notices if slot.status != "live" or n.kind == "go_live"]


def _free(slot: Slot, channels: dict[str, list[ChannelSlot]], now: datetime) -> bool:
    prompt = prompt_at(channel_slot(slot), channels.get(slot.channel_id, []), now)
    return prompt is not None and prompt.kind == "go_live"


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

    A ``go_live`` at the start of a slot whose channel is busy becomes ``standby``. Answers what
    happened: "sent", "standby", "missed", or "not owed" (cancelled, moved, not yet due, sent).
    """

    async def work(session: AsyncSession) -> str:
        booking = await session.get(Booking, booking_id)
        slot = await session.get(Slot, booking.slot_id) if booking else None
        if booking is None or slot is None or booking.status != "confirmed":
            return "not owed"
        event = await get_event_by_id(session, slot.event_id, for_update=True)
        await session.refresh(slot)
        owed = [
            n
            for n in _owed(booking, slot, event)
            if n.kind == kind and n.minutes_before == minutes_before
        ]
        if slot.status not in ARMABLE_SLOT_STATUSES or not owed:
            return "not owed"
        notice, now = owed[0], utcnow()
        if now < notice.due_at and not (kind == "go_live" and slot.status == "live"):
            return "not owed"
        view = (await slot_public(session, event, slot)).model_dump(mode="json")
        if kind == "go_live":
            return await _prompt(session, slot, booking, view, now, grace)
        return await _send(session, event, booking, view, notice, now, grace)

    return await db.write(work)


async def _prompt(
    session: AsyncSession,
    slot: Slot,
    booking: Booking,
    view: dict[str, Any],
    now: datetime,
    grace: timedelta,
) -> str:
    """At (or after) the start: ``go_live`` if the channel is free for the slot, else standby."""
    channel = (await channels_at(session, [slot.channel_id], now))[slot.channel_id]
    prompt = prompt_at(channel_slot(slot), channel, now)
    if prompt is None:
        return "not owed"
    if prompt.kind == "standby":
        told = await notify_prompt(session, slot, booking, view, prompt)
        return "standby" if told else "not owed"
    # Taken live by the host, or freed after a standby: now is the moment, whatever the clock.
    waited = slot.status == "live" or await _recorded(
        session, booking.id, "standby", slot.starts_at
    )
    if not waited and verdict(slot.starts_at, now, grace) == "missed":
        notice = DueNotice(kind="go_live", due_at=slot.starts_at)
        event = await get_event_by_id(session, slot.event_id)
        return await _send(session, event, booking, view, notice, now, grace)
    told = await notify_prompt(session, slot, booking, view, prompt)
    return "sent" if told else "not owed"


async def _send(
    session: AsyncSession,
    event: Event,
    booking: Booking,
    view: dict[str, Any],
    notice: DueNotice,
    now: datetime,
    grace: timedelta,
) -> str:
    """Send a clock-driven notice late within ``grace``, or record it missed (and tell the host)."""
    outcome = verdict(notice.due_at, now, grace)
    extra = {"minutes_before": notice.minutes_before} if notice.minutes_before else {}
    missed = outcome == "missed"
    if missed and not await _recorded(session, booking.id, notice.kind, notice.due_at):
        await record_change(
            session,
            event,
            "notice.missed",
            {"slot": view, "booking_id": booking.id, "kind": notice.kind, **extra},
        )
    stored = await notify(
        session,
        person_id=booking.person_id,
        booking_id=booking.id,
        slot=view,
        kind=notice.kind,
        due_at=notice.due_at,
        extra=extra,
        missed=missed,
    )
    return "not owed" if stored is None else outcome


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
