"""Who could be booked into a slot, and why not: every booking rule, asked without booking.

The host's "who is free?" list runs the same rules as a booking (``booking_rules``), for each
person at once, so what it shows is exactly what an invitation would meet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from takeamoment.domain.booking_rules import (
    Licence,
    PlacedSlot,
    find_availability_conflicts,
    find_person_conflicts,
    licence_problem,
)
from takeamoment.domain.errors import Conflict
from takeamoment.domain.intervals import Interval


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateFacts:
    """What the rules need to know about one person."""

    person_id: str
    role: str
    licence: Licence | None = None
    booked: tuple[PlacedSlot, ...] = ()
    windows: tuple[Interval, ...] = ()
    # The status of their active booking in this very slot, if they have one.
    booked_here: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Assessment:
    """Whether an invitation would be accepted, and every reason it would not."""

    person_id: str
    conflicts: list[Conflict] = field(default_factory=list)
    refusal: str | None = None  # a licence or role problem (a booking would answer 422)
    booked_here: str | None = None

    @property
    def bookable(self) -> bool:
        return not self.conflicts and self.refusal is None and self.booked_here is None


def assess_candidate(
    facts: CandidateFacts, slot: PlacedSlot, role: str, slot_last_day: date
) -> Assessment:
    """The booking rules for inviting this person into ``slot`` in ``role``, all at once."""
    refusal = None
    if facts.role != role:
        refusal = f"is a {facts.role}, not a {role}"
    elif role == "therapist":
        refusal = licence_problem(facts.licence, slot_last_day)
    conflicts = find_person_conflicts(facts.person_id, slot, facts.booked)
    conflicts += find_availability_conflicts(facts.person_id, slot, facts.windows)
    return Assessment(
        person_id=facts.person_id,
        conflicts=conflicts,
        refusal=refusal,
        booked_here=facts.booked_here,
    )


def assess_candidates(
    people: Iterable[CandidateFacts], slot: PlacedSlot, slot_last_day: date
) -> list[Assessment]:
    """Each person in their own role; the bookable ones first, in the order given."""
    assessed = [assess_candidate(p, slot, p.role, slot_last_day) for p in people]
    return sorted(assessed, key=lambda a: not a.bookable)
