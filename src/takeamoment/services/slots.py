"""Slots on a channel: create and change them without ever overlapping or double-booking."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.people import Person
from takeamoment.db.queries import (
    bookings_with_people,
    channel_slots_between,
    get_channel,
    get_event,
    get_event_by_id,
    get_slot,
)
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.booking_rules import PlacedSlot, check_inside_event, find_channel_conflicts
from takeamoment.domain.errors import (
    InvalidSchedule,
    InvalidTransition,
    NotFound,
    SchedulingConflict,
)
from takeamoment.domain.intervals import Interval
from takeamoment.domain.slot_states import check_edit
from takeamoment.services.auth import Principal
from takeamoment.services.changes import record_change
from takeamoment.services.inputs import SlotCreate, SlotUpdate
from takeamoment.services.notifications import notify
from takeamoment.services.people_rules import recheck_slot_people
from takeamoment.services.prompts import prompt_after_change
from takeamoment.services.removal import remove_slots
from takeamoment.services.schedule import slot_name, slot_public
from takeamoment.services.views import (
    SlotBooking,
    SlotMoved,
    SlotPublic,
    booking_view,
    person_public,
    slot_view,
    slot_view_for_host,
)
from takeamoment.services.visibility import check_visible, sees_drafts

# Slots whose times may still change: a live slot may be extended, a finished one is history.


async def ensure_fits(session: AsyncSession, event: Event, slot: Slot) -> None:
    """Raise unless the slot lies in the event and leaves its channel free of overlaps."""
    interval = Interval.of(slot)
    problem = check_inside_event(interval, Interval.of(event))
    if problem:
        raise InvalidSchedule(problem)
    neighbours = await channel_slots_between(session, slot.channel_id, slot.starts_at, slot.ends_at)
    conflicts = find_channel_conflicts(
        PlacedSlot(slot_id=slot.id, interval=interval, label=slot_name(slot, event)),
        [
            PlacedSlot(
                slot_id=n.id,
                interval=Interval.of(n),
                label=slot_name(n, event),
            )
            for n in neighbours
        ],
    )
    if conflicts:
        raise SchedulingConflict(conflicts)


async def create_slot(db: Database, slug: str, data: SlotCreate) -> SlotPublic:
    async def work(session: AsyncSession) -> SlotPublic:
        event = await get_event(session, slug, for_update=True)
        channel = await get_channel(session, event.id, data.channel)
        slot = Slot(
            event_id=event.id,
            channel_id=channel.id,
            title=data.title,
            description=data.description or "",
            tags=data.tags or [],
            kind=data.kind or "session",
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            stream_url=data.stream_url,
        )
        await ensure_fits(session, event, slot)
        session.add(slot)
        await session.flush()
        view = await slot_public(session, event, slot)
        await record_change(session, event, "slot.created", {"slot": view.model_dump(mode="json")})
        return view

    return await db.write(work)


async def update_slot(db: Database, slot_id: str, data: SlotUpdate) -> SlotPublic:
    """Change a slot; a move re-checks the channel and every booked person and bumps sequence."""
    fields = data.model_dump(exclude_unset=True, exclude_none=True)
    channel_key = fields.pop("channel", None)
    if "stream_url" in data.model_fields_set:  # null removes the link
        fields["stream_url"] = data.stream_url

    async def work(session: AsyncSession) -> SlotPublic:
        slot = await get_slot(session, slot_id)
        event = await get_event_by_id(session, slot.event_id, for_update=True)
        await session.refresh(slot)  # read again now that the event's lock is held
        if channel_key is not None:
            fields["channel_id"] = (await get_channel(session, event.id, channel_key)).id
        changed = {name: value for name, value in fields.items() if getattr(slot, name) != value}
        if not changed:  # nothing to log, and calendars must keep their ETag
            return await slot_public(session, event, slot)
        # Another lane is a move like another time: the same rules, the same notices.
        moved = bool({"starts_at", "ends_at", "channel_id"} & changed.keys())
        previous = Interval.of(slot)
        previous_channel = slot.channel_id
        check_edit(
            slot.status,
            moves_start="starts_at" in changed,
            moves_end="ends_at" in changed,
            moves_channel="channel_id" in changed,
            slot_id=slot.id,
            label=slot_name(slot, event),
        )
        for name, value in changed.items():
            setattr(slot, name, value)
        if moved:
            # Pydantic checked the pair only when both came in the body.
            if slot.ends_at <= slot.starts_at:
                raise InvalidSchedule("ends_at must be after starts_at")
            # The rules are checked before the new times reach the database: an autoflush would
            # let PostgreSQL's exclusion constraint answer first, without the ids of the conflict.
            with session.no_autoflush:
                await ensure_fits(session, event, slot)
                await recheck_slot_people(session, slot, event)
            slot.sequence += 1
        slot.updated_at = utcnow()
        await session.flush()
        view = await slot_public(session, event, slot)
        view_json = view.model_dump(mode="json")
        change_type = "slot.rescheduled" if moved else "slot.updated"
        await record_change(session, event, change_type, {"slot": view_json})
        if moved:  # the people were locked by the recheck
            rows = (await bookings_with_people(session, [slot.id]))[slot.id]
            await prompt_after_change(
                session,
                event,
                sorted({previous_channel, slot.channel_id}),
                slot.updated_at,
                also_lock=[p.id for _, p in rows],
            )
            await notify_schedule_changed(session, view_json, rows, previous, slot.updated_at)
        return view

    return await db.write(work)


async def notify_schedule_changed(
    session: AsyncSession,
    slot_view: dict[str, Any],
    rows: Iterable[tuple[Booking, Person]],
    previous: Interval,
    at: datetime,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Tell each person booked in a moved slot where it went (``schedule.changed``).

    The caller holds the people's locks (``lock_people``, in id order) and passes the slot's public
    view after the move; ``extra`` adds to what every one of them hears.
    """
    times = SlotMoved(
        id=slot_view["id"],
        starts_at=slot_view["starts_at"],
        ends_at=slot_view["ends_at"],
        previous_starts_at=previous.starts_at,
        previous_ends_at=previous.ends_at,
    ).model_dump(mode="json", exclude={"id"})
    for booking, _ in sorted(rows, key=lambda row: row[0].person_id):
        await notify(
            session,
            person_id=booking.person_id,
            booking_id=booking.id,
            slot=slot_view,
            kind="schedule.changed",
            due_at=at,
            extra={**times, **(extra or {})},
        )


async def get_slot_view(db: Database, slot_id: str, principal: Principal | None) -> SlotPublic:
    """One slot: anyone may read it in a published event, hosts in a draft too (with bookings)."""
    async with db.read() as session:
        slot = await get_slot(session, slot_id)
        event = await get_event_by_id(session, slot.event_id)
        is_host = sees_drafts(principal)
        check_visible(event, drafts=is_host, hidden=NotFound("slot", slot_id))
        channel = await get_channel(session, event.id, slot.channel_id)
        rows = (await bookings_with_people(session, [slot.id]))[slot.id]
        if is_host:
            return slot_view_for_host(slot, event, channel, rows)
        return slot_view(slot, event, channel, rows)


async def delete_slot(db: Database, slot_id: str) -> None:
    """Delete a scheduled slot; its booked people are told ``booking.removed``."""

    async def work(session: AsyncSession) -> None:
        slot = await get_slot(session, slot_id)
        event = await get_event_by_id(session, slot.event_id, for_update=True)
        await session.refresh(slot)
        if slot.status != "scheduled":
            raise InvalidTransition(
                f"only a scheduled slot can be deleted; {slot.title!r} is {slot.status}"
                " (cancel it instead)",
                slot_id=slot.id,
            )
        view = (await slot_public(session, event, slot)).model_dump(mode="json")
        await remove_slots(session, event, [slot])
        await record_change(session, event, "slot.deleted", {"slot_id": slot.id, "deleted": view})

    await db.write(work)


async def slot_bookings(db: Database, slot_id: str) -> list[SlotBooking]:
    """Every booking of the slot in any status, oldest first, with its person."""
    async with db.read() as session:
        await get_slot(session, slot_id)
        query = (
            select(Booking, Person)
            .join(Person, col(Person.id) == Booking.person_id)
            .where(Booking.slot_id == slot_id)
            .order_by(col(Booking.created_at), col(Booking.id))
        )
        return [
            SlotBooking(**booking_view(booking).model_dump(), person=person_public(person))
            for booking, person in (await session.execute(query)).all()
        ]
