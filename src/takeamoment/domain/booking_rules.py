"""Who may be booked where: channel overlap, person overlap and changeover, availability, licence.

Every function answers with the list of conflicts it finds (empty when the change is allowed), so
a caller can report all of them at once and decide whether to refuse.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from takeamoment.domain.errors import Conflict
from takeamoment.domain.intervals import Interval, merge


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacedSlot:
    """A slot's place in time, with the changeover its event asks for after it."""

    slot_id: str
    interval: Interval
    changeover: timedelta = timedelta(0)
    # How messages name the slot: its title and time (``domain.labels.slot_label``).
    label: str = ""

    @property
    def busy_until(self) -> datetime:
        """When the people of this slot are free again."""
        return self.interval.ends_at + self.changeover

    @property
    def name(self) -> str:
        """The slot as a message names it: its label, or its id when it has none."""
        return self.label or f"slot {self.slot_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Licence:
    number: str
    issuer: str
    jurisdiction: str
    expires_on: date
    verified: bool


def find_channel_conflicts(candidate: PlacedSlot, others: Iterable[PlacedSlot]) -> list[Conflict]:
    """Other slots of the channel that would overlap the candidate."""
    return [
        Conflict(
            kind="channel_overlap",
            message=f"the channel already has {other.name} at that time",
            slot_id=candidate.slot_id,
            conflicting_slot_id=other.slot_id,
        )
        for other in others
        if other.slot_id != candidate.slot_id and other.interval.overlaps(candidate.interval)
    ]


def find_person_conflicts(
    person_id: str,
    candidate: PlacedSlot,
    booked: Iterable[PlacedSlot],
    *,
    person_name: str | None = None,
) -> list[Conflict]:
    """Bookings of the person that overlap the candidate or leave too short a changeover.

    The changeover after a slot is the one of that slot's event, so the gap that must stay free
    depends on which of the two comes first. ``person_name`` names them in the messages.
    """
    who = person_name or f"person {person_id}"
    conflicts = []
    for other in booked:
        if other.slot_id == candidate.slot_id:
            continue
        if other.interval.overlaps(candidate.interval):
            conflicts.append(
                Conflict(
                    kind="person_overlap",
                    message=f"{who} is already booked in {other.name}",
                    slot_id=candidate.slot_id,
                    person_id=person_id,
                    conflicting_slot_id=other.slot_id,
                )
            )
        elif _too_close(candidate, other):
            conflicts.append(
                Conflict(
                    kind="changeover",
                    message=(f"{who} needs a changeover between {candidate.name} and {other.name}"),
                    slot_id=candidate.slot_id,
                    person_id=person_id,
                    conflicting_slot_id=other.slot_id,
                )
            )
    return conflicts


def _too_close(a: PlacedSlot, b: PlacedSlot) -> bool:
    first, second = (a, b) if a.interval.starts_at <= b.interval.starts_at else (b, a)
    return second.interval.starts_at < first.busy_until


def find_availability_conflicts(
    person_id: str,
    candidate: PlacedSlot,
    windows: Iterable[Interval],
    *,
    person_name: str | None = None,
) -> list[Conflict]:
    """A conflict unless the slot lies inside one window; no windows means always available.

    Touching windows count as one, so a slot may span 10:00-12:00 given 10-11 and 11-12.
    """
    merged = merge(windows)
    if not merged or any(window.contains(candidate.interval) for window in merged):
        return []
    return [
        Conflict(
            kind="outside_availability",
            message=(
                f"{person_name or f'person {person_id}'} is not available for the whole of "
                f"{candidate.name}"
            ),
            slot_id=candidate.slot_id,
            person_id=person_id,
        )
    ]


def licence_problem(licence: Licence | None, on: date) -> str | None:
    """Why this licence does not allow answering as a therapist on that date, or None if it does."""
    if licence is None:
        return "a therapist needs a licence on file before being booked"
    if not licence.verified:
        return "the therapist's licence has not been verified by a host"
    if licence.expires_on < on:
        return f"the therapist's licence expired on {licence.expires_on.isoformat()}"
    return None


def check_inside_event(slot: Interval, event: Interval) -> str | None:
    """Why the slot does not fit the event's window, or None when it does."""
    if not event.contains(slot):
        return "the slot must lie within the event's starts_at and ends_at"
    return None
