"""Checking the person rules against the database: the bridge from stored bookings to ``domain``.

Callers lock the people first (``lock_people``), so what is read here cannot change before commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.events import Event
from takeamoment.db.people import Person
from takeamoment.db.queries import (
    availability_of,
    bookings_with_people,
    event_slots,
    lock_people,
    person_bookings_between,
    person_upcoming_bookings,
)
from takeamoment.db.slots import Slot
from takeamoment.domain.booking_rules import (
    Licence,
    PlacedSlot,
    find_availability_conflicts,
    find_person_conflicts,
    licence_problem,
)
from takeamoment.domain.cascade import PersonCheck, check_person_after_moves
from takeamoment.domain.errors import Conflict, NotBookable, SchedulingConflict
from takeamoment.domain.intervals import Interval
from takeamoment.domain.labels import slot_label

# Changeovers are at most a day (inputs refuse more), so this margin finds every booking in reach.
REACH = timedelta(days=1)


def placed(slot: Slot, event: Event, *, ends_at: datetime | None = None) -> PlacedSlot:
    """The slot as the rules see it (``ends_at``: at an end it is about to get)."""
    end = ends_at or slot.ends_at
    return PlacedSlot(
        slot_id=slot.id,
        interval=Interval(starts_at=slot.starts_at, ends_at=end),
        changeover=timedelta(minutes=event.changeover_minutes),
        label=slot_label(slot.title, slot.starts_at, end, event.timezone),
    )


async def _booked_around(
    session: AsyncSession,
    person_id: str,
    starts_at: datetime,
    busy_until: datetime,
    changeover_by_event: Mapping[str, timedelta],
    zone: str = "UTC",
) -> list[PlacedSlot]:
    """The person's active bookings within reach of ``[starts_at, busy_until]``, placed.

    Their labels give times in ``zone``: the zone of the event the message is about.
    """
    rows = await person_bookings_between(session, person_id, starts_at - REACH, busy_until + REACH)
    return [
        PlacedSlot(
            slot_id=slot.id,
            interval=Interval.of(slot),
            changeover=changeover_by_event.get(slot.event_id, booking.busy_until - slot.ends_at),
            label=slot_label(slot.title, slot.starts_at, slot.ends_at, zone),
        )
        for booking, slot in rows
    ]


async def _windows(session: AsyncSession, person_id: str) -> list[Interval]:
    return [Interval.of(w) for w in await availability_of(session, person_id)]


async def person_conflicts(
    session: AsyncSession,
    person_id: str,
    candidate: PlacedSlot,
    changeover_by_event: Mapping[str, timedelta] | None = None,
    *,
    person_name: str | None = None,
    zone: str = "UTC",
) -> list[Conflict]:
    """Every person rule the candidate would break for this person, given their other bookings.

    ``person_name`` and ``zone`` (the event's) are for the messages.
    """
    booked = await _booked_around(
        session,
        person_id,
        candidate.interval.starts_at,
        candidate.busy_until,
        changeover_by_event or {},
        zone,
    )
    windows = await _windows(session, person_id)
    return find_person_conflicts(
        person_id, candidate, booked, person_name=person_name
    ) + find_availability_conflicts(person_id, candidate, windows, person_name=person_name)


async def person_check_after_moves(
    session: AsyncSession,
    person_id: str,
    moved: list[PlacedSlot],
    *,
    person_name: str | None = None,
    zone: str = "UTC",
) -> PersonCheck:
    """The person rules for the person's bookings in ``moved`` slots, placed at their new times.

    Their other bookings are read as stored; ``domain.cascade`` decides who clashes with whom.
    """
    staying = await _booked_around(
        session,
        person_id,
        min(slot.interval.starts_at for slot in moved),
        max(slot.busy_until for slot in moved),
        {},
        zone,
    )
    windows = await _windows(session, person_id)
    return check_person_after_moves(person_id, moved, staying, windows, person_name=person_name)


async def ensure_bookings_inside_availability(session: AsyncSession, person: Person) -> None:
    """Raise SchedulingConflict for each upcoming booking the person's windows no longer hold.

    Replacing availability is a change to a rule's input, so like a moved slot it is re-checked:
    a window may not shrink away from a booking the person already has. Messages give times in
    the person's own zone, when they have one.
    """
    person_id, zone = person.id, person.timezone or "UTC"
    windows = await _windows(session, person_id)
    conflicts = [
        conflict
        for slot in await person_upcoming_bookings(session, person_id)
        for conflict in find_availability_conflicts(
            person_id,
            PlacedSlot(
                slot_id=slot.id,
                interval=Interval.of(slot),
                label=slot_label(slot.title, slot.starts_at, slot.ends_at, zone),
            ),
            windows,
            person_name=person.name,
        )
    ]
    if conflicts:
        raise SchedulingConflict(conflicts)


def ensure_may_take_role(
    person: Person, role: str, slot: Slot, event: Event, *, ends_at: datetime | None = None
) -> None:
    """Raise NotBookable unless the person may appear in this slot in this role.

    ``ends_at`` is the slot's end when checking a time the slot is about to move to.
    """
    if role != person.role:
        raise NotBookable(f"{person.name} is a {person.role}, not a {role}")
    if role != "therapist":
        return
    licence = None
    if person.license_number and person.license_expires_on:
        licence = Licence(
            number=person.license_number,
            issuer=person.license_issuer or "",
            jurisdiction=person.license_jurisdiction or "",
            expires_on=person.license_expires_on,
            verified=person.license_verified_at is not None,
        )
    # The licence must hold for the whole slot, so the last day it touches is the one checked.
    slot_last_day = (ends_at or slot.ends_at).astimezone(ZoneInfo(event.timezone)).date()
    problem = licence_problem(licence, slot_last_day)
    if problem:
        where = slot_label(slot.title, slot.starts_at, ends_at or slot.ends_at, event.timezone)
        raise NotBookable(f"{person.name} cannot answer as a therapist in {where}: {problem}")


async def recheck_slot_people(session: AsyncSession, slot: Slot, event: Event) -> None:
    """After a slot moved: check every booked person again and move their busy time with it."""
    bookings = (await bookings_with_people(session, [slot.id]))[slot.id]
    await lock_people(session, (person.id for _, person in bookings))
    candidate = placed(slot, event)
    conflicts: list[Conflict] = []
    for booking, person in bookings:
        ensure_may_take_role(person, booking.role, slot, event)
        conflicts += await person_conflicts(
            session, person.id, candidate, person_name=person.name, zone=event.timezone
        )
    if conflicts:
        raise SchedulingConflict(conflicts)
    for booking, _ in bookings:
        booking.starts_at, booking.busy_until = slot.starts_at, candidate.busy_until


async def recheck_event_bookings(session: AsyncSession, event: Event) -> None:
    """After the event's changeover changed: every booking's busy time, checked and updated."""
    changeover = timedelta(minutes=event.changeover_minutes)
    slots = {s.id: s for s in await event_slots(session, event.id) if s.status != "cancelled"}
    by_slot = await bookings_with_people(session, list(slots))
    await lock_people(session, (p.id for rows in by_slot.values() for _, p in rows))
    conflicts: list[Conflict] = []
    for slot_id, rows in by_slot.items():
        candidate = placed(slots[slot_id], event)
        for _, person in rows:
            conflicts += await person_conflicts(
                session,
                person.id,
                candidate,
                changeover_by_event={event.id: changeover},
                person_name=person.name,
                zone=event.timezone,
            )
    if conflicts:
        raise SchedulingConflict(conflicts)
    for slot_id, rows in by_slot.items():
        for booking, _ in rows:
            booking.busy_until = slots[slot_id].ends_at + changeover
