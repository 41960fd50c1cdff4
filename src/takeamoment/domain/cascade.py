"""Running late: how a delay moves a slot and pushes the later slots of its channel.

The delayed slot moves by the whole delay. Each later slot moves only as far as it must to start
when the one before it now ends: gaps absorb the delay, back to back stays allowed, and no slot
ever moves earlier. Whether a booked person can follow is decided per person, by
``check_person_after_moves``, with the person's other moved bookings at their new times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from takeamoment.domain.booking_rules import (
    PlacedSlot,
    find_availability_conflicts,
    find_channel_conflicts,
    find_person_conflicts,
)
from takeamoment.domain.errors import Conflict, InvalidSchedule
from takeamoment.domain.intervals import Interval


@dataclass(frozen=True, slots=True, kw_only=True)
class Move:
    """One slot's place in time before and after the delay."""

    slot_id: str
    before: Interval
    after: Interval

    @property
    def shift(self) -> timedelta:
        return self.after.starts_at - self.before.starts_at


@dataclass(frozen=True, slots=True, kw_only=True)
class DelayPlan:
    """The slots a delay moves, in time order with the delayed slot first.

    Slots that keep their times are left out. ``channel_conflicts`` is only ever filled without
    cascade, when the delayed slot alone would run into the next slot of its channel.
    """

    moves: tuple[Move, ...]
    channel_conflicts: tuple[Conflict, ...] = ()


def plan_delay(
    delayed: PlacedSlot,
    later: Iterable[PlacedSlot],
    delay: timedelta,
    *,
    cascade: bool = True,
) -> DelayPlan:
    """Move ``delayed`` by ``delay`` and, with ``cascade``, push the ``later`` slots just enough.

    ``later`` are the other slots of the channel that start after the delayed one, in any order.
    A later slot moves by ``max(0, end of the slot before it, moved - its start)``.
    """
    if delay <= timedelta(0):
        raise InvalidSchedule("a delay must be a positive duration")
    first = Move(
        slot_id=delayed.slot_id, before=delayed.interval, after=delayed.interval.shifted(delay)
    )
    followers = sorted(
        (slot for slot in later if slot.slot_id != delayed.slot_id),
        key=lambda slot: (slot.interval.starts_at, slot.slot_id),
    )
    if not cascade:
        moved = PlacedSlot(slot_id=delayed.slot_id, interval=first.after)
        return DelayPlan(
            moves=(first,), channel_conflicts=tuple(find_channel_conflicts(moved, followers))
        )
    moves = [first]
    previous_ends_at = first.after.ends_at
    for slot in followers:
        push = max(timedelta(0), previous_ends_at - slot.interval.starts_at)
        after = slot.interval.shifted(push)
        if push:
            moves.append(Move(slot_id=slot.slot_id, before=slot.interval, after=after))
        previous_ends_at = after.ends_at
    return DelayPlan(moves=tuple(moves))


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonCheck:
    """What the moves mean for one person: every rule they would break, and what force releases.

    ``released`` holds the slot ids of the person's moved bookings that must give way so that
    every rule holds again; it is empty exactly when ``conflicts`` is.
    """

    conflicts: tuple[Conflict, ...]
    released: frozenset[str]


def check_person_after_moves(
    person_id: str,
    moved: Iterable[PlacedSlot],
    staying: Iterable[PlacedSlot],
    windows: Iterable[Interval],
) -> PersonCheck:
    """Check the person's bookings in moved slots, at their new times.

    Each is checked against the person's availability, the bookings that stay where they are, and
    the person's moved bookings that come earlier, so a clash between two moved slots is reported
    once, on the later slot. To settle the clashes, the earlier booking wins and anything the
    person already holds elsewhere is never touched: a moved booking is released when it breaks a
    rule against what stays, against an earlier moved booking that is kept, or of availability.
    """
    ordered = sorted(moved, key=lambda slot: (slot.interval.starts_at, slot.slot_id))
    moved_ids = {slot.slot_id for slot in ordered}
    fixed = [slot for slot in staying if slot.slot_id not in moved_ids]
    window_list = list(windows)
    conflicts: list[Conflict] = []
    kept: list[PlacedSlot] = []
    released: set[str] = set()
    for index, candidate in enumerate(ordered):
        outside = find_availability_conflicts(person_id, candidate, window_list)
        clashes = find_person_conflicts(person_id, candidate, [*fixed, *ordered[:index]])
        conflicts += clashes + outside
        # Only worth a second look when something clashed: against fewer bookings, fewer clash.
        if outside or (clashes and find_person_conflicts(person_id, candidate, [*fixed, *kept])):
            released.add(candidate.slot_id)
        else:
            kept.append(candidate)
    return PersonCheck(conflicts=tuple(conflicts), released=frozenset(released))
