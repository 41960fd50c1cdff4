"""Reminders and go-live notices: what is owed (read from the database) and delivering one.

Delivery is idempotent: a notice is a row unique per (booking, kind, due time), so a job that
fires twice (a retry, a restart, a second process) still tells the person once. Notices due at
the same instant are delivered together (``deliver_notices``): one transaction records them all
and one commit hands them to the real-time bus, so a busy minute's reminders do not queue behind
one transaction each.

"You're on" follows the channel (``domain.prompts``): the job at a slot's start sends ``go_live``
when the channel is free and ``standby`` (with the expected start) while it is busy. After a
standby, ``go_live`` is written by the change that frees the channel or takes the slot live; the
job is armed again only if the channel turns out free without one (a safety net). Reminders are
owed only until the slot goes live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Channel, Event
from takeamoment.db.people import Person
from takeamoment.db.queries import (
    bookings_with_people,
    chunked,
    get_event_by_id,
    lock_events,
)
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.prompts import ChannelSlot, prompt_at
from takeamoment.domain.reminders import DueNotice, notices_owed, verdict
from takeamoment.domain.slot_states import OPEN_SLOT_STATUSES
from takeamoment.services.changes import record_change
from takeamoment.services.notifications import NoticeDraft, notify_many, recorded_keys
from takeamoment.services.prompts import channel_slot, channels_at, prompt_draft
from takeamoment.services.schedule import slot_public
from takeamoment.services.views import slot_view


@dataclass(frozen=True, slots=True)
class NoticeKey:
    """Which notice of which booking: what a scheduler job carries to ``deliver_notices``."""

    booking_id: str
    kind: str
    minutes_before: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OwedNotice:
    booking_id: str
    slot_id: str
    notice: DueNotice
    # Owed now whatever its due time says: "you're on" for a slot already on air.
    now: bool = False

    def run_at(self, now: datetime) -> datetime:
        """When the job should fire: at the due time, or at once when late or owed now."""
        return now if self.now else max(self.notice.due_at, now)

    @property
    def key(self) -> NoticeKey:
        return NoticeKey(self.booking_id, self.notice.kind, self.notice.minutes_before)


async def owed_notices(db: Database, not_before: datetime) -> list[OwedNotice]:
    """Every notice of a confirmed booking due from ``not_before`` on, not yet recorded.

    A ``go_live`` whose people were put on standby is owed only once the channel is free for
    them (the change that frees it normally tells them at once).
    """
    now = utcnow()
    async with db.read() as session:
        # Slots and events as rows (a few hundred), the bookings as plain columns (up to tens of
        # thousands): loading each booking as an entity made re-arming 20,000 take seconds.
        armable = (col(Slot.status).in_(OPEN_SLOT_STATUSES), col(Slot.starts_at) >= not_before)
        of_slots = select(Slot, Event).join(Event, col(Event.id) == Slot.event_id).where(*armable)
        slots = {slot.id: (slot, event) for slot, event in (await session.execute(of_slots)).all()}
        in_slots = col(Booking.slot_id).in_(select(Slot.id).where(*armable))
        query = select(Booking.id, Booking.slot_id, Booking.confirmed_at, Booking.updated_at).where(
            Booking.status == "confirmed", in_slots
        )
        rows = [r for r in (await session.execute(query)).all() if r.slot_id in slots]
        done = await recorded_keys(session, {r.id for r in rows})
        started = sorted({slot.channel_id for slot, _ in slots.values() if slot.starts_at <= now})
        channels = await channels_at(session, started, now)
    owed = []
    for booking_id, slot_id, confirmed_at, updated_at in rows:
        slot, event = slots[slot_id]
        for notice in _owed("confirmed", confirmed_at or updated_at, slot, event):
            if notice.due_at < not_before or (booking_id, notice.kind, notice.due_at) in done:
                continue
            standby = (booking_id, "standby", notice.due_at) in done
            if notice.kind == "go_live" and standby and not _free(slot, channels, now):
                continue  # waiting for the channel: not the clock's to send
            at_once = notice.kind == "go_live" and slot.status == "live"
            owed.append(
                OwedNotice(booking_id=booking_id, slot_id=slot_id, notice=notice, now=at_once)
            )
    return owed


def _owed(booking_status: str, confirmed_at: datetime, slot: Slot, event: Event) -> list[DueNotice]:
    """A booking's notices as ``domain.reminders.notices_owed`` decides them."""
    return notices_owed(
        booking_status=booking_status,
        slot_status=slot.status,
        slot_starts_at=slot.starts_at,
        reminder_minutes=event.reminder_minutes,
        confirmed_at=confirmed_at,
    )


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


async def deliver_notices(
    db: Database, keys: Sequence[NoticeKey], grace: timedelta
) -> dict[NoticeKey, str]:
    """Send the notices still owed, late within ``grace``; past it, record them as missed.

    One transaction for all of them: the events are locked (in id order), their slots and
    bookings read as they are now, and every notice stored by one ``notify_many``, so a burst
    due at one instant costs a few statements and one commit, not a transaction each. A
    ``go_live`` at the start of a slot whose channel is busy becomes ``standby``. Answers, per
    key, what happened: "sent", "standby", "missed", or "not owed" (cancelled, moved, not yet
    due, already told).
    """

    async def work(session: AsyncSession) -> dict[NoticeKey, str]:
        return await _Burst(session, grace).deliver(list(dict.fromkeys(keys)))

    return await db.write(work)


@dataclass(frozen=True, slots=True)
class _Due:
    key: NoticeKey
    booking: Booking
    slot: Slot
    event: Event
    notice: DueNotice


class _Burst:
    """The notices of one delivery, decided on one consistent read of what they depend on."""

    def __init__(self, session: AsyncSession, grace: timedelta) -> None:
        self.session = session
        self.grace = grace
        self.now = utcnow()
        self.recorded: set[tuple[str, str, datetime]] = set()
        self.drafts: list[tuple[NoticeKey, NoticeDraft, str]] = []

    async def deliver(self, keys: list[NoticeKey]) -> dict[NoticeKey, str]:
        outcomes = dict.fromkeys(keys, "not owed")
        due = await self._due(keys)
        if not due:
            return outcomes
        self.recorded = await recorded_keys(self.session, {d.booking.id for d in due})
        views = await _views(self.session, [(d.event, d.slot) for d in due])
        live_soon = sorted({d.slot.channel_id for d in due if d.key.kind == "go_live"})
        channels = await channels_at(self.session, live_soon, self.now)
        for item in due:
            view = views[item.slot.id]
            if item.key.kind == "go_live":
                await self._prompt(item, view, channels[item.slot.channel_id])
            else:
                await self._send(item, view, item.notice)
        stored = await notify_many(self.session, [draft for _, draft, _ in self.drafts])
        for (key, _, outcome), notification in zip(self.drafts, stored, strict=True):
            outcomes[key] = outcome if notification is not None else "not owed"
        return outcomes

    async def _due(self, keys: list[NoticeKey]) -> list[_Due]:
        """The keys still owed and due now, read after their events are locked."""
        booking_ids = sorted({key.booking_id for key in keys})
        event_ids: set[str] = set()
        for ids in chunked(booking_ids):
            of_slots = (
                select(Slot.event_id)
                .join(Booking, col(Booking.slot_id) == Slot.id)
                .where(col(Booking.id).in_(ids))
            )
            event_ids |= set((await self.session.execute(of_slots.distinct())).scalars())
        events = await lock_events(self.session, event_ids)
        found: dict[str, tuple[Booking, Slot]] = {}
        for ids in chunked(booking_ids):
            query = (
                select(Booking, Slot)
                .join(Slot, col(Slot.id) == Booking.slot_id)
                .where(col(Booking.id).in_(ids))
                .execution_options(populate_existing=True)
            )
            found |= {b.id: (b, s) for b, s in (await self.session.execute(query)).all()}
        due = []
        for key in keys:
            booking, slot = found.get(key.booking_id, (None, None))
            if booking is None or slot is None or slot.event_id not in events:
                continue
            event = events[slot.event_id]
            confirmed_at = booking.confirmed_at or booking.updated_at
            owed = [
                n
                for n in _owed(booking.status, confirmed_at, slot, event)
                if n.kind == key.kind and n.minutes_before == key.minutes_before
            ]
            on_air = key.kind == "go_live" and slot.status == "live"
            if owed and (self.now >= owed[0].due_at or on_air):
                due.append(_Due(key, booking, slot, event, owed[0]))
        return due

    async def _prompt(self, item: _Due, view: dict[str, Any], channel: list[ChannelSlot]) -> None:
        """At (or after) the start: ``go_live`` if the channel is free for the slot, or standby."""
        slot, booking = item.slot, item.booking
        prompt = prompt_at(channel_slot(slot), channel, self.now)
        if prompt is None:
            return
        if prompt.kind == "standby":
            self.drafts.append((item.key, prompt_draft(slot, booking, view, prompt), "standby"))
            return
        # Taken live by the host, or freed after a standby: now is the moment, whatever the clock.
        waited = slot.status == "live" or (booking.id, "standby", slot.starts_at) in self.recorded
        if not waited and verdict(slot.starts_at, self.now, self.grace) == "missed":
            await self._send(item, view, DueNotice(kind="go_live", due_at=slot.starts_at))
            return
        self.drafts.append((item.key, prompt_draft(slot, booking, view, prompt), "sent"))

    async def _send(self, item: _Due, view: dict[str, Any], notice: DueNotice) -> None:
        """A clock-driven notice, late within ``grace``; past it recorded missed (host told)."""
        outcome = verdict(notice.due_at, self.now, self.grace)
        extra = {"minutes_before": notice.minutes_before} if notice.minutes_before else {}
        missed = outcome == "missed"
        booking = item.booking
        if missed and (booking.id, notice.kind, notice.due_at) not in self.recorded:
            await record_change(
                self.session,
                item.event,
                "notice.missed",
                {"slot": view, "booking_id": booking.id, "kind": notice.kind, **extra},
            )
        draft = NoticeDraft(
            person_id=booking.person_id,
            booking_id=booking.id,
            slot=view,
            kind=notice.kind,
            due_at=notice.due_at,
            extra=extra,
            missed=missed,
        )
        self.drafts.append((item.key, draft, "missed" if missed else "sent"))


async def _views(
    session: AsyncSession, slots: Sequence[tuple[Event, Slot]]
) -> dict[str, dict[str, Any]]:
    """The public view of each slot (as ``slot_public``), read in one pass for all of them."""
    events = {event.id: event for event, _ in slots}
    by_id = {slot.id: slot for _, slot in slots}
    # Only the slots' channels: an event of thousands of channels would be read whole per batch.
    channels: dict[str, Channel] = {}
    for ids in chunked(sorted({slot.channel_id for slot in by_id.values()})):
        query = select(Channel).where(col(Channel.id).in_(ids))
        channels |= {c.id: c for c in (await session.execute(query)).scalars()}
    people: dict[str, list[tuple[Booking, Person]]] = {}
    for ids in chunked(sorted(by_id)):
        people |= await bookings_with_people(session, ids)
    return {
        slot.id: slot_view(
            slot, events[slot.event_id], channels[slot.channel_id], people[slot.id]
        ).model_dump(mode="json")
        for slot in by_id.values()
    }


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
