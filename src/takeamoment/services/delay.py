"""Running late or early: move a slot and the later slots of its channel, in one transaction.

What a host gets (``POST /api/slots/{id}/delay``):

- Only a ``scheduled`` or ``live`` slot can be delayed, and a cascade never moves an ended slot
  (409 ``invalid_transition``). A live slot's start never moves: delaying it extends its end.
- ``minutes`` from 1 to 1440 pushes later; from -1 to -1440 pulls forward, to win back time
  after a session ended early: no slot starts before now (rounded up to the minute) nor before
  the end of the slot ahead of it, and the cascade pulls every later slot of the channel with it.
- A moved slot must still lie in the event: otherwise 400, whatever the flags, since no flag can
  make the event longer (PATCH the event first).
- Without ``cascade`` only the slot moves; running into the next slot of the channel (or a
  cascade running into a live slot) is a 409 ``channel_overlap`` that ``force`` does not override.
- Every booked person of every moved slot is checked again, with their other moved bookings at
  their new times. If anyone breaks a rule, nothing is applied: 409 listing the conflicts.
- ``dry_run`` answers 200 with what would move and every conflict, and writes nothing; its
  ``seq`` is the event's seq it was made at. An apply that sends that ``seq`` back is refused
  (409 ``stale_preview``, carrying the new preview) if the event has changed since.
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
    previous_slot_end,
)
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.booking_rules import PlacedSlot
from takeamoment.domain.booking_states import apply_booking
from takeamoment.domain.cascade import DelayPlan, Move, plan_delay
from takeamoment.domain.errors import (
    Conflict,
    InvalidSchedule,
    InvalidTransition,
    SchedulingConflict,
    StalePreview,
)
from takeamoment.domain.intervals import Interval
from takeamoment.domain.labels import moment_label
from takeamoment.domain.slot_states import OPEN_SLOT_STATUSES
from takeamoment.services.changes import record_change
from takeamoment.services.inputs import DelayRequest
from takeamoment.services.people_rules import ensure_may_take_role, person_check_after_moves
from takeamoment.services.prompts import prompt_after_change
from takeamoment.services.schedule import slot_name, slot_public
from takeamoment.services.slots import notify_schedule_changed
from takeamoment.services.views import DelayResult, ReleasedBooking, SlotMoved


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
        if slot.status not in OPEN_SLOT_STATUSES:
            raise InvalidTransition(
                f"{slot_name(slot, event)} {_STATE_WORDS.get(slot.status, slot.status)}, "
                "so it cannot be delayed",
                slot_id=slot.id,
            )
        later = await channel_slots_from(session, slot)
        slots = {s.id: s for s in [slot, *later]}
        plan = plan_delay(
            _place(slot, event),
            [_place(s, event) for s in later],
            timedelta(minutes=data.minutes),
            cascade=data.cascade,
            live=[s.id for s in slots.values() if s.status == "live"],
            not_before=_next_minute(utcnow()),
            previous_ends_at=await previous_slot_end(session, slot) if data.minutes < 0 else None,
        )
        _ensure_movable(plan, slots, event)
        _ensure_inside_event(plan, slots, event)
        people = await _check_people(session, event, plan, slots)
        conflicts = [*plan.channel_conflicts, *people.conflicts]
        applied = not data.dry_run
        if applied and data.seq is not None and data.seq != event.last_seq:
            preview = _result(plan, conflicts, people.released if data.force else [], False)
            preview.seq = event.last_seq
            raise StalePreview(
                f"the schedule changed since the preview (seq {data.seq}, now {event.last_seq}); "
                "nothing was applied: check the new preview and apply it again",
                seq=event.last_seq,
                preview=preview.model_dump(mode="json"),
            )
        if applied and plan.channel_conflicts:
            detail = "nothing was applied: the move would run into another slot of its channel"
            raise SchedulingConflict(conflicts, detail=f"{detail} (force cannot override this)")
        if applied and conflicts and not data.force:
            raise SchedulingConflict(
                conflicts, detail="nothing was applied (force: true applies it anyway)"
            )
        if applied and plan.moves:
            await _apply(session, event, plan, slots, people)
        result = _result(plan, conflicts, people.released if data.force else [], applied)
        result.seq = event.last_seq
        return result

    return await db.write(work)


_STATE_WORDS = {"ended": "has ended", "cancelled": "is cancelled"}


def _next_minute(moment: datetime) -> datetime:
    """The moment rounded up to a whole minute: a slot pulled against "now" starts on a minute."""
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


def _place(slot: Slot, event: Event) -> PlacedSlot:
    return PlacedSlot(
        slot_id=slot.id,
        interval=Interval.of(slot),
        label=slot_name(slot, event),
    )


def _ensure_movable(plan: DelayPlan, slots: dict[str, Slot], event: Event) -> None:
    for move in plan.moves:
        slot = slots[move.slot_id]
        if slot.status not in OPEN_SLOT_STATUSES:
            raise InvalidTransition(
                f"the delay would move {slot_name(slot, event)}, which "
                f"{_STATE_WORDS.get(slot.status, slot.status)} and cannot move",
                slot_id=move.slot_id,
            )


def _ensure_inside_event(plan: DelayPlan, slots: dict[str, Slot], event: Event) -> None:
    window = Interval.of(event)
    outside = [
        slot_name(slots[move.slot_id], event)
        for move in plan.moves
        if not window.contains(move.after)
    ]
    if outside:
        raise InvalidSchedule(
            f"the delay would move {', '.join(outside)} outside the event "
            f"({moment_label(event.starts_at, event.timezone)} to "
            f"{moment_label(event.ends_at, event.timezone)}); nothing was applied"
        )


async def _check_people(
    session: AsyncSession, event: Event, plan: DelayPlan, slots: dict[str, Slot]
) -> _PeopleCheck:
    """Every booked person of every moved slot, checked at the new times (people locked first)."""
    changeover = timedelta(minutes=event.changeover_minutes)
    placed = {
        move.slot_id: PlacedSlot(
            slot_id=move.slot_id,
            interval=move.after,
            changeover=changeover,
            label=slot_name(slots[move.slot_id], event, move.after),
        )
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
            session,
            person_id,
            [placed[booking.slot_id] for booking, _ in rows],
            person_name=rows[0][1].name,
            zone=event.timezone,
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
        booking.status = apply_booking(booking.status, "release", slot_id=booking.slot_id)
        booking.updated_at = now
    await session.flush()
    # PostgreSQL checks its exclusion constraints row by row: each slot must move into time the
    # slot it moves towards has already left, so no two rows overlap midway. A push moves the
    # latest slot first; a pull (every move earlier, or a live slot's end coming in) the earliest.
    pulling = all(move.after.ends_at <= move.before.ends_at for move in plan.moves)
    for move in plan.moves if pulling else reversed(plan.moves):
        slot = slots[move.slot_id]
        slot.starts_at, slot.ends_at = move.after.starts_at, move.after.ends_at
        slot.sequence, slot.updated_at = slot.sequence + 1, now
        for booking, _ in people.bookings[slot.id]:
            booking.starts_at, booking.busy_until = slot.starts_at, slot.ends_at + changeover
        await session.flush()
    channels = {slots[move.slot_id].channel_id for move in plan.moves}
    people_told = [person.id for rows in people.bookings.values() for _, person in rows]
    await prompt_after_change(session, event, channels, now, also_lock=people_told)
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
            extra = {"booking_status": booking.status, "conflicts": why}
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
