"""Running late, or early: how a delay moves a slot and the later slots of its channel.

A positive delay pushes: the delayed slot moves by the whole delay, and each later slot moves
only as far as it must to start when the one before it now ends (gaps absorb the delay, back to
back stays allowed, no slot moves earlier).

A negative delay pulls forward, to win back time after a session ended early: the delayed slot
moves earlier by up to the delay and, with cascade, so does every later slot, keeping the gaps
between them. No slot moves to start before ``not_before`` (now), nor before the end of the slot
ahead of it; no slot moves later.

A live slot is on air: its start is what happened and never moves. Delaying it extends (or, pulled
forward, shortens) its end, and the cascade carries on from there; a push that would run into a
live later slot is a channel conflict. Whether a booked person can follow is decided per person,
by ``check_person_after_moves``, with the person's other moved bookings at their new times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from takeamoment.domain.booking_rules import (
    PlacedSlot,
    find_availability_conflicts,
    find_channel_conflicts,
    find_person_conflicts,
)
from takeamoment.domain.errors import Conflict, InvalidSchedule
from takeamoment.domain.intervals import Interval

# A live slot pulled forward still lasts this long past its scheduled start.
SHORTEST_LIVE = timedelta(minutes=1)


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
    """The slots a delay moves, in time order with the delayed slot first (when it moves).

    Slots that keep their times are left out. ``channel_conflicts`` is only ever filled by a push:
    without cascade when the delayed slot alone would run into the next slot of its channel, or
    when the cascade would have to move a live slot.
    """

    moves: tuple[Move, ...]
    channel_conflicts: tuple[Conflict, ...] = ()


def plan_delay(
    delayed: PlacedSlot,
    later: Iterable[PlacedSlot],
    delay: timedelta,
    *,
    cascade: bool = True,
    live: Iterable[str] = (),
    not_before: datetime | None = None,
    previous_ends_at: datetime | None = None,
) -> DelayPlan:
    """Move ``delayed`` by ``delay`` and, with ``cascade``, the ``later`` slots as needed.

    ``later`` are the other slots of the channel that start after the delayed one, in any order;
    ``live`` names the slots on air. A pull (negative ``delay``) needs ``not_before`` (now) and
    takes ``previous_ends_at``, the end of the slot before the delayed one on its channel.
    """
    if not delay:
        raise InvalidSchedule("a delay must move the slot: give a non-zero number of minutes")
    on_air = frozenset(live)
    followers = sorted(
        (slot for slot in later if slot.slot_id != delayed.slot_id),
        key=lambda slot: (slot.interval.starts_at, slot.slot_id),
    )
    if delay < timedelta(0):
        if not_before is None:
            raise InvalidSchedule("pulling slots forward needs the present moment (not_before)")
        return _pull(
            delayed, followers if cascade else [], delay, on_air, not_before, previous_ends_at
        )
    return _push(delayed, followers, delay, on_air, cascade=cascade)


def _push(
    delayed: PlacedSlot,
    followers: list[PlacedSlot],
    delay: timedelta,
    on_air: frozenset[str],
    *,
    cascade: bool,
) -> DelayPlan:
    before = delayed.interval
    if delayed.slot_id in on_air:
        after = Interval(starts_at=before.starts_at, ends_at=before.ends_at + delay)
    else:
        after = before.shifted(delay)
    first = Move(slot_id=delayed.slot_id, before=before, after=after)
    if not cascade:
        moved = PlacedSlot(slot_id=delayed.slot_id, interval=after, label=delayed.label)
        return DelayPlan(
            moves=(first,), channel_conflicts=tuple(find_channel_conflicts(moved, followers))
        )
    moves = [first]
    previous = PlacedSlot(slot_id=delayed.slot_id, interval=after, label=delayed.label)
    for slot in followers:
        push = max(timedelta(0), previous.interval.ends_at - slot.interval.starts_at)
        if push and slot.slot_id in on_air:  # a slot on air cannot be pushed
            blocked = Conflict(
                kind="channel_overlap",
                message=f"{previous.name} would run into {slot.name}, which is on air",
                slot_id=previous.slot_id,
                conflicting_slot_id=slot.slot_id,
            )
            return DelayPlan(moves=tuple(moves), channel_conflicts=(blocked,))
        pushed = slot.interval.shifted(push)
        if push:
            moves.append(Move(slot_id=slot.slot_id, before=slot.interval, after=pushed))
        previous = PlacedSlot(slot_id=slot.slot_id, interval=pushed, label=slot.label)
    return DelayPlan(moves=tuple(moves))


def _pull(
    delayed: PlacedSlot,
    followers: list[PlacedSlot],
    delay: timedelta,
    on_air: frozenset[str],
    not_before: datetime,
    previous_ends_at: datetime | None,
) -> DelayPlan:
    moves: list[Move] = []
    floor = max(not_before, previous_ends_at) if previous_ends_at else not_before
    for slot in [delayed, *followers]:
        before = slot.interval
        if slot.slot_id in on_air:
            shortest = max(not_before, before.starts_at + SHORTEST_LIVE)
            after = Interval(
                starts_at=before.starts_at,
                ends_at=min(before.ends_at, max(before.ends_at + delay, shortest)),
            )
        else:
            start = min(before.starts_at, max(before.starts_at + delay, floor))
            after = before.shifted(start - before.starts_at)
        if after != before:
            moves.append(Move(slot_id=slot.slot_id, before=before, after=after))
        floor = max(not_before, after.ends_at)
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
    *,
    person_name: str | None = None,
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
        outside = find_availability_conflicts(
            person_id, candidate, window_list, person_name=person_name
        )
        clashes = find_person_conflicts(
            person_id, candidate, [*fixed, *ordered[:index]], person_name=person_name
        )
        conflicts += clashes + outside
        # Only worth a second look when something clashed: against fewer bookings, fewer clash.
        if outside or (clashes and find_person_conflicts(person_id, candidate, [*fixed, *kept])):
            released.add(candidate.slot_id)
        else:
            kept.append(candidate)
    return PersonCheck(conflicts=tuple(conflicts), released=frozenset(released))
