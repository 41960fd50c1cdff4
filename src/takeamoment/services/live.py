"""Running a slot on air: go live, end, cancel, and undo (reopen, restore) — one transaction each.

Every change of status bumps the slot's ``sequence`` (calendars see a new version) and writes one
change (``slot.live``, ``slot.ended``, ``slot.cancelled``; a reopen is ``slot.live`` with
``reopened: true``, a restore ``slot.updated`` with ``restored: true``) with the slot's public
view. Going live and going off air record what happened (``actual_started_at``,
``actual_ended_at``). Whenever a channel changes, whoever is now on there is told ``go_live``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.people import Person
from takeamoment.db.queries import (
    bookings_with_people,
    channel_slots_from,
    get_event_by_id,
    get_slot,
    live_slots,
    lock_people,
)
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.booking_states import apply_booking, status_after_restore
from takeamoment.domain.errors import SchedulingConflict
from takeamoment.domain.intervals import Interval
from takeamoment.domain.slot_states import (
    SlotCommand,
    apply,
    check_not_too_early,
    check_reopen,
    end_after_reopen,
    end_kept_after_air,
    find_channel_busy,
)
from takeamoment.services.changes import record_change
from takeamoment.services.follows import FOLLOWED_COMMANDS, queue_follow_notices
from takeamoment.services.notifications import notify
from takeamoment.services.people_rules import ensure_may_take_role, person_conflicts, placed
from takeamoment.services.prompts import prompt_after_change
from takeamoment.services.schedule import slot_name, slot_public
from takeamoment.services.slots import ensure_fits
from takeamoment.services.views import SlotPublic

CHANGE_TYPES: Mapping[SlotCommand, str] = {
    "go_live": "slot.live",
    "end": "slot.ended",
    "cancel": "slot.cancelled",
    "reopen": "slot.live",
    "restore": "slot.updated",
}
# What the change says besides the slot, so a client can tell an undo from the first time.
CHANGE_FLAGS: Mapping[SlotCommand, dict[str, Any]] = {
    "reopen": {"reopened": True},
    "restore": {"restored": True},
}

# A booking of a cancelled slot: kept for the record, no longer holding the person's time (it is
# not an active status, so neither the rules nor PostgreSQL's exclusion constraint count it).


@dataclass
class _Step:
    """One command's work on a locked slot: who to tell afterwards, and what."""

    event: Event
    slot: Slot
    now: datetime
    early: bool = False
    told: list[tuple[Booking, str, dict[str, Any]]] = field(default_factory=list)


async def go_live(db: Database, slot_id: str, *, early: bool = False) -> SlotPublic:
    """Put a scheduled slot on air: 409 ``channel_busy`` while another slot of its channel is,
    409 ``too_early`` more than 60 minutes before its start unless ``early``."""
    return await _run(db, slot_id, "go_live", early=early)


async def end(db: Database, slot_id: str) -> SlotPublic:
    """Take a live slot off air; it stays in the schedule as ``ended``. Ending early gives the
    rest of its time back to the channel, so later slots can be pulled forward into it."""
    return await _run(db, slot_id, "end")


async def cancel(db: Database, slot_id: str) -> SlotPublic:
    """Cancel a scheduled slot: it stays in the schedule as ``cancelled``, its channel time is
    free again, and every booked person is released and told (``slot.cancelled``)."""
    return await _run(db, slot_id, "cancel")


async def reopen(db: Database, slot_id: str) -> SlotPublic:
    """Put an ended slot back on air, within 15 minutes of its end and while its channel is free.

    It gets back the end it had before ending early, as far as its channel and people allow.
    """
    return await _run(db, slot_id, "reopen")


async def restore(db: Database, slot_id: str) -> SlotPublic:
    """Bring a cancelled slot back as scheduled, with the bookings its cancellation released.

    Every rule is checked again (the channel, the event's window, each person); if any would
    break, nothing changes (409 listing them, 422 for a person who may no longer take the role).
    """
    return await _run(db, slot_id, "restore")


async def _run(
    db: Database, slot_id: str, command: SlotCommand, *, early: bool = False
) -> SlotPublic:
    async def work(session: AsyncSession) -> SlotPublic:
        slot = await get_slot(session, slot_id)
        event = await get_event_by_id(session, slot.event_id, for_update=True)
        await session.refresh(slot)  # read again now that the event's lock is held
        step = _Step(event=event, slot=slot, now=utcnow(), early=early)
        status = apply(slot.status, command, slot_id=slot.id, label=slot_name(slot, event))
        await _STEPS[command](session, step)
        slot.status, slot.sequence, slot.updated_at = status, slot.sequence + 1, step.now
        await session.flush()
        view = await slot_public(session, event, slot)
        view_json = view.model_dump(mode="json")
        body = {"slot": view_json, **CHANGE_FLAGS.get(command, {})}
        change = CHANGE_TYPES[command]
        await record_change(session, event, change, body)
        if command in FOLLOWED_COMMANDS:  # the host's own go-live or cancel, not an undo
            await queue_follow_notices(session, event, slot, view_json, change)
        told = [booking.person_id for booking, _, _ in step.told]
        await prompt_after_change(session, event, [slot.channel_id], step.now, also_lock=told)
        for booking, kind, extra in step.told:
            await notify(
                session,
                person_id=booking.person_id,
                booking_id=booking.id,
                slot=view_json,
                kind=kind,
                due_at=step.now,
                extra={"role": booking.role, **extra},
            )
        return view

    return await db.write(work)


async def _ensure_channel_free(session: AsyncSession, step: _Step) -> None:
    on_air = await live_slots(session, step.slot.channel_id)
    labels = {other.id: slot_name(other, step.event) for other in on_air}
    busy = find_channel_busy(step.slot.id, labels, labels)
    if busy:
        raise SchedulingConflict(busy, detail="the channel is busy")


async def _go_live(session: AsyncSession, step: _Step) -> None:
    slot = step.slot
    label = slot_name(slot, step.event)
    check_not_too_early(slot.starts_at, step.now, early=step.early, slot_id=slot.id, label=label)
    # Every status change of the event's slots holds the event's lock: this stays true.
    await _ensure_channel_free(session, step)
    slot.actual_started_at, slot.actual_ended_at = step.now, None


async def _end(session: AsyncSession, step: _Step) -> None:
    slot = step.slot
    slot.actual_ended_at = step.now
    kept = end_kept_after_air(slot.starts_at, slot.ends_at, step.now)
    if kept != slot.ends_at:
        slot.planned_ends_at = slot.ends_at
        await _set_end(session, step, kept)


async def _cancel(session: AsyncSession, step: _Step) -> None:
    rows = (await bookings_with_people(session, [step.slot.id]))[step.slot.id]
    await lock_people(session, (person.id for _, person in rows))
    for booking, _ in sorted(rows, key=lambda row: row[0].person_id):
        booking.status = apply_booking(booking.status, "cancel_slot", slot_id=step.slot.id)
        booking.updated_at = step.now
        step.told.append((booking, "slot.cancelled", {}))


async def _reopen(session: AsyncSession, step: _Step) -> None:
    slot, event = step.slot, step.event
    label = slot_name(slot, event)
    check_reopen(slot.actual_ended_at, step.now, zone=event.timezone, slot_id=slot.id, label=label)
    await _ensure_channel_free(session, step)
    following = await channel_slots_from(session, slot)
    next_start = min((s.starts_at for s in following if s.starts_at >= slot.ends_at), default=None)
    wanted = min(end_after_reopen(slot.ends_at, slot.planned_ends_at, next_start), event.ends_at)
    if wanted > slot.ends_at and await _people_fit(session, step, wanted):
        await _set_end(session, step, wanted)
    slot.actual_ended_at, slot.planned_ends_at = None, None


async def _people_fit(session: AsyncSession, step: _Step, ends_at: datetime) -> bool:
    """Whether every booked person can stay until ``ends_at`` (a reopen gives back only that)."""
    rows = (await bookings_with_people(session, [step.slot.id]))[step.slot.id]
    await lock_people(session, (person.id for _, person in rows))
    candidate = placed(step.slot, step.event, ends_at=ends_at)
    for _, person in rows:
        if await person_conflicts(
            session, person.id, candidate, person_name=person.name, zone=step.event.timezone
        ):
            return False
    return True


async def _set_end(session: AsyncSession, step: _Step, ends_at: datetime) -> None:
    """Give the slot a new end; its people's busy time follows (plus the changeover)."""
    step.slot.ends_at = ends_at
    changeover = timedelta(minutes=step.event.changeover_minutes)
    for booking, _ in (await bookings_with_people(session, [step.slot.id]))[step.slot.id]:
        booking.busy_until = ends_at + changeover


async def _restore(session: AsyncSession, step: _Step) -> None:
    slot, event = step.slot, step.event
    with session.no_autoflush:  # rules first: PostgreSQL's constraints would answer without ids
        await ensure_fits(session, event, slot)
        rows = (await bookings_with_people(session, [slot.id], ("cancelled",)))[slot.id]
        await lock_people(session, (person.id for _, person in rows))
        await _ensure_people_fit(session, step, rows)
    changeover = timedelta(minutes=event.changeover_minutes)
    for booking, _ in sorted(rows, key=lambda row: row[0].person_id):
        booking.status = status_after_restore(booking.confirmed_at is not None)
        booking.starts_at, booking.busy_until = slot.starts_at, slot.ends_at + changeover
        booking.updated_at = step.now
        step.told.append((booking, "schedule.changed", _restored_times(slot, booking)))


async def _ensure_people_fit(
    session: AsyncSession, step: _Step, rows: list[tuple[Booking, Person]]
) -> None:
    candidate = placed(step.slot, step.event)
    conflicts = []
    for booking, person in rows:
        ensure_may_take_role(person, booking.role, step.slot, step.event)
        conflicts += await person_conflicts(
            session, person.id, candidate, person_name=person.name, zone=step.event.timezone
        )
    if conflicts:
        raise SchedulingConflict(conflicts, detail="nothing was restored")


def _restored_times(slot: Slot, booking: Booking) -> dict[str, Any]:
    interval = Interval.of(slot)
    return {
        "restored": True,
        "booking_status": booking.status,
        "previous_starts_at": interval.starts_at.isoformat(),
        "previous_ends_at": interval.ends_at.isoformat(),
    }


_STEPS: Mapping[SlotCommand, Callable[[AsyncSession, _Step], Awaitable[None]]] = {
    "go_live": _go_live,
    "end": _end,
    "cancel": _cancel,
    "reopen": _reopen,
    "restore": _restore,
}
