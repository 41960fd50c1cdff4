"""Running late: delay a slot and push the later slots of its channel, in one transaction.

What a host gets (``POST /api/slots/{id}/delay``):

- Only a ``scheduled`` or ``live`` slot can be delayed, and a cascade never moves an ended slot
  (409 ``invalid_transition``). A delay is 1 to 1440 minutes, later only: pulling a schedule
  earlier is a PATCH of each slot, where every rule is checked as for any move.
- A moved slot must still end by the event's end: otherwise 400, whatever the flags, since no
  flag can make the event longer (PATCH the event first).
- Without ``cascade`` only the slot moves; running into the next slot of the channel is a 409
  ``channel_overlap`` that ``force`` does not override.
- Every booked person of every moved slot is checked again, with their other moved bookings at
  their new times. If anyone breaks a rule, nothing is applied: 409 listing the conflicts.
- ``dry_run`` answers 200 with what would move and every conflict, and writes nothing.
- ``force`` applies the delay anyway, and keeps "a person is never in two active bookings that
  overlap" true by releasing (status ``conflicted``) each moved booking that the person can no
  longer keep: the show goes on without them. What a person already holds elsewhere is never
  touched; between two moved slots of the same person, the earlier one is kept. The released
  people are told (``schedule.changed`` with ``booking_status: "conflicted"``) and the answer
  lists them in ``released``.

Applied, each moved slot's ``sequence`` grows by one, each gets one ``slot.rescheduled`` change
(consecutive seqs, in time order), and every booked person is told (``schedule.changed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.people import Person
from takeamoment.db.queries import (
    bookings_with_people,
    channel_slots_from,
    get_event_by_id,
    get_slot,
    lock_people,
)
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.booking_rules import PlacedSlot
from takeamoment.domain.cascade import DelayPlan, Move, plan_delay
from takeamoment.domain.errors import (
    Conflict,
    InvalidSchedule,
    InvalidTransition,
    SchedulingConflict,
)
from takeamoment.domain.intervals import Interval
from takeamoment.services.changes import record_change
from takeamoment.services.inputs import DelayRequest
from takeamoment.services.people_rules import ensure_may_take_role, person_check_after_moves
from takeamoment.services.schedule import slot_public
from takeamoment.services.slots import MOVABLE_STATUSES, notify_schedule_changed
from takeamoment.services.views import DelayResult, ReleasedBooking, SlotMoved

# A booking a forced delay took off its slot: not an active status, so it holds no time.
CONFLICTED_BOOKING = "conflicted"


@dataclass
class _PeopleCheck:
    """The booked people of the moved slots, what they would break, and what force releases."""

    bookings: dict[str, list[tuple[Booking, Person]]]
    conflicts: list[Conflict] = field(default_factory=list)
    released: list[Booking] = field(default_factory=list)


async def delay_slot(db: Database, slot_id: str, data: DelayRequest) -> DelayResult:
    """Delay the slot by ``data.minutes``; see the module's docstring for every outcome."""

    async def work(session: AsyncSession) -> DelayResult:
        slot = await get_slot(session, slot_id)
        event = await get_event_by_id(session, slot.event_id, for_update=True)
        await session.refresh(slot)  # read again now that the event's lock is held
        if slot.status not in MOVABLE_STATUSES:
            raise InvalidTransition(f"a {slot.status} slot cannot be delayed", slot_id=slot.id)
        later = await channel_slots_from(session, slot)
        slots = {s.id: s for s in [slot, *later]}
        plan = plan_delay(
            _place(slot),
            [_place(s) for s in later],
            timedelta(minutes=data.minutes),
            cascade=data.cascade,
        )
        _ensure_movable(plan, slots)
        _ensure_inside_event(plan, event)
        people = await _check_people(session, event, plan, slots)
        conflicts = [*plan.channel_conflicts, *people.conflicts]
        applied = not data.dry_run
        if applied and plan.channel_conflicts:
            detail = "nothing was applied: the slot would run into the next one on its channel"
            raise SchedulingConflict(conflicts, detail=f"{detail} (use cascade; force cannot)")
        if applied and conflicts and not data.force:
            raise SchedulingConflict(
                conflicts, detail="nothing was applied (force: true applies it anyway)"
            )
        if applied:
            await _apply(session, event, plan, slots, people)
        return _result(plan, conflicts, people.released if data.force else [], applied)

    return await db.write(work)


def _place(slot: Slot) -> PlacedSlot:
    return PlacedSlot(
        slot_id=slot.id, interval=Interval(starts_at=slot.starts_at, ends_at=slot.ends_at)
    )


def _ensure_movable(plan: DelayPlan, slots: dict[str, Slot]) -> None:
    for move in plan.moves:
        status = slots[move.slot_id].status
        if status not in MOVABLE_STATUSES:
            raise InvalidTransition(
                f"the delay would push slot {move.slot_id}, which is {status} and cannot move",
                slot_id=move.slot_id,
            )


def _ensure_inside_event(plan: DelayPlan, event: Event) -> None:
    late = [move.slot_id for move in plan.moves if move.after.ends_at > event.ends_at]
    if late:
        raise InvalidSchedule(
            f"the delay would push slot(s) {', '.join(late)} past the event's end "
            f"({event.ends_at.isoformat()}); nothing was applied"
        )


async def _check_people(
    session: AsyncSession, event: Event, plan: DelayPlan, slots: dict[str, Slot]
) -> _PeopleCheck:
    """Every booked person of every moved slot, checked at the new times (people locked first)."""
    changeover = timedelta(minutes=event.changeover_minutes)
    placed = {
        move.slot_id: PlacedSlot(slot_id=move.slot_id, interval=move.after, changeover=changeover)
        for move in plan.moves
    }
    check = _PeopleCheck(bookings=await bookings_with_people(session, list(placed)))
    by_person: dict[str, list[tuple[Booking, Person]]] = {}
    for rows in check.bookings.values():
        for booking, person in rows:
            by_person.setdefault(person.id, []).append((booking, person))
    await lock_people(session, by_person)
    for person_id in sorted(by_person):
        rows = by_person[person_id]
        for booking, person in rows:
            new_end = placed[booking.slot_id].interval.ends_at
            ensure_may_take_role(
                person, booking.role, slots[booking.slot_id], event, ends_at=new_end
            )
        found = await person_check_after_moves(
            session, person_id, [placed[booking.slot_id] for booking, _ in rows]
        )
        check.conflicts += found.conflicts
        check.released += [booking for booking, _ in rows if booking.slot_id in found.released]
    return check


async def _apply(
    session: AsyncSession,
    event: Event,
    plan: DelayPlan,
    slots: dict[str, Slot],
    people: _PeopleCheck,
) -> None:
    now = utcnow()
    changeover = timedelta(minutes=event.changeover_minutes)
    for booking in people.released:  # first, so a released booking never clashes as it moves
        booking.status, booking.updated_at = CONFLICTED_BOOKING, now
    await session.flush()
    # PostgreSQL checks its exclusion constraints row by row: moving the latest slot first means
    # each slot moves into time its follower has already left, so no two rows overlap midway.
    for move in reversed(plan.moves):
        slot = slots[move.slot_id]
        slot.starts_at, slot.ends_at = move.after.starts_at, move.after.ends_at
        slot.sequence, slot.updated_at = slot.sequence + 1, now
        for booking, _ in people.bookings[slot.id]:
            booking.starts_at, booking.busy_until = slot.starts_at, slot.ends_at + changeover
        await session.flush()
    for move in plan.moves:
        await _log_and_notify(session, event, slots[move.slot_id], move, people, now)


async def _log_and_notify(
    session: AsyncSession,
    event: Event,
    slot: Slot,
    move: Move,
    people: _PeopleCheck,
    now: datetime,
) -> None:
    view = (await slot_public(session, event, slot)).model_dump(mode="json")
    await record_change(session, event, "slot.rescheduled", {"slot": view})
    released = {booking.id for booking in people.released}
    rows = people.bookings[slot.id]
    kept = [row for row in rows if row[0].id not in released]
    await notify_schedule_changed(session, view, kept, move.before, now)
    for booking, person in rows:
        if booking.id in released:
            why = [
                c.as_dict()
                for c in people.conflicts
                if c.slot_id == slot.id and c.person_id == person.id
            ]
            extra = {"booking_status": CONFLICTED_BOOKING, "conflicts": why}
            await notify_schedule_changed(
                session, view, [(booking, person)], move.before, now, extra
            )


def _result(
    plan: DelayPlan, conflicts: list[Conflict], released: list[Booking], applied: bool
) -> DelayResult:
    return DelayResult(
        applied=applied,
        moved=[
            SlotMoved(
                id=move.slot_id,
                starts_at=move.after.starts_at,
                ends_at=move.after.ends_at,
                previous_starts_at=move.before.starts_at,
                previous_ends_at=move.before.ends_at,
            )
            for move in plan.moves
        ],
        conflicts=[conflict.as_dict() for conflict in conflicts],
        released=[
            ReleasedBooking(id=b.id, slot_id=b.slot_id, person_id=b.person_id) for b in released
        ],
    )
