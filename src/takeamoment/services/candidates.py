"""Who is free for a slot: each matching person run through the booking rules, in words.

The rules are ``domain.candidates``; this module reads what they need for many people at once
(their nearby bookings and their windows in two queries) and says each reason the way a host
reads a schedule: titles, times in the event's zone, channels.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Channel, Event
from takeamoment.db.people import AvailabilityWindow, Person
from takeamoment.db.queries import get_event_by_id, get_slot
from takeamoment.db.slots import ACTIVE_BOOKING_STATUSES, Booking, Slot
from takeamoment.domain.booking_rules import Licence, PlacedSlot
from takeamoment.domain.candidates import Assessment, CandidateFacts, assess_candidates
from takeamoment.domain.errors import Conflict
from takeamoment.domain.intervals import Interval
from takeamoment.services.directory import list_people
from takeamoment.services.people_rules import REACH, placed
from takeamoment.services.views import PersonPublic

MAX_CANDIDATES = 50


class CandidateReason(SQLModel):
    kind: str
    message: str
    slot_id: str | None = None


class CandidateBooking(SQLModel):
    id: str
    status: str


class Candidate(SQLModel):
    """One person as an invitation to the slot would find them."""

    person: PersonPublic
    bookable: bool
    booking: CandidateBooking | None
    reasons: list[CandidateReason]


def _licence(person: Person) -> Licence | None:
    if not (person.license_number and person.license_expires_on):
        return None
    return Licence(
        number=person.license_number,
        issuer=person.license_issuer or "",
        jurisdiction=person.license_jurisdiction or "",
        expires_on=person.license_expires_on,
        verified=person.license_verified_at is not None,
    )


class _Describer:
    """Says a conflict in words, naming the other slot by title, time and channel."""

    def __init__(self, event: Event, others: dict[str, tuple[Slot, str]]) -> None:
        self.zone = ZoneInfo(event.timezone)
        self.day = event.starts_at.astimezone(self.zone).date()
        self.others = others

    def clock(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone)
        return local.strftime("%H:%M" if local.date() == self.day else "%a %d %b %H:%M")

    def slot(self, slot_id: str | None) -> str:
        if slot_id is None or slot_id not in self.others:
            return "another slot"
        slot, channel = self.others[slot_id]
        span = f"{self.clock(slot.starts_at)}–{self.clock(slot.ends_at)}"
        return f"“{slot.title}” {span} on {channel}"

    def conflict(self, conflict: Conflict, changeover_minutes: int) -> str:
        other = self.slot(conflict.conflicting_slot_id)
        if conflict.kind == "person_overlap":
            return f"Booked on {other}"
        if conflict.kind == "changeover":
            return f"Too close to {other}: the changeover is {changeover_minutes} min"
        if conflict.kind == "outside_availability":
            return "Not available for the whole slot"
        return conflict.message


async def _nearby_bookings(
    session: AsyncSession, person_ids: list[str], slot: Slot, busy_until: datetime
) -> list[tuple[Booking, Slot, str]]:
    query = (
        select(Booking, Slot, Channel.name)
        .join(Slot, col(Slot.id) == Booking.slot_id)
        .join(Channel, col(Channel.id) == Slot.channel_id)
        .where(
            col(Booking.person_id).in_(person_ids),
            col(Booking.status).in_(ACTIVE_BOOKING_STATUSES),
            col(Booking.starts_at) <= busy_until + REACH,
            col(Booking.busy_until) >= slot.starts_at - REACH,
        )
    )
    return [(b, s, name) for b, s, name in (await session.execute(query)).all()]


async def _windows(session: AsyncSession, person_ids: list[str]) -> dict[str, list[Interval]]:
    query = select(AvailabilityWindow).where(col(AvailabilityWindow.person_id).in_(person_ids))
    windows: dict[str, list[Interval]] = defaultdict(list)
    for w in (await session.execute(query)).scalars():
        windows[w.person_id].append(Interval.of(w))
    return windows


def _candidate(
    person: Person, assessment: Assessment, booking: Booking | None, words: _Describer, event: Event
) -> Candidate:
    reasons = [
        CandidateReason(
            kind=c.kind,
            message=words.conflict(c, event.changeover_minutes),
            slot_id=c.conflicting_slot_id,
        )
        for c in assessment.conflicts
    ]
    if assessment.refusal:
        reasons.insert(0, CandidateReason(kind="licence", message=assessment.refusal.capitalize()))
    if booking is not None:
        reasons.insert(0, CandidateReason(kind="booked_here", message=f"Already {booking.status}"))
    return Candidate(
        person=PersonPublic(id=person.id, name=person.name, handle=person.handle, role=person.role),
        bookable=assessment.bookable,
        booking=CandidateBooking(id=booking.id, status=booking.status) if booking else None,
        reasons=reasons,
    )


async def slot_candidates(
    db: Database, slot_id: str, query: str | None, role: str | None
) -> list[Candidate]:
    """People matching ``query`` (name or handle) as a booking into the slot would find them:
    the free ones first, then the others, each with every reason in words."""
    listed = await list_people(db, query, role, MAX_CANDIDATES)
    async with db.read() as session:
        slot = await get_slot(session, slot_id)
        event = await get_event_by_id(session, slot.event_id)
        ids = [p.id for p in listed]
        people = {
            p.id: p
            for p in (
                await session.execute(select(Person).where(col(Person.id).in_(ids)))
            ).scalars()
        }
        candidate = placed(slot, event)
        nearby = await _nearby_bookings(session, ids, slot, candidate.busy_until) if ids else []
        windows = await _windows(session, ids) if ids else {}
    booked: dict[str, list[PlacedSlot]] = defaultdict(list)
    here: dict[str, Booking] = {}
    for booking, other, _ in nearby:
        if other.id == slot.id:
            here[booking.person_id] = booking
            continue
        interval = Interval.of(other)
        changeover = booking.busy_until - other.ends_at
        booked[booking.person_id].append(
            PlacedSlot(slot_id=other.id, interval=interval, changeover=changeover)
        )
    facts = [
        CandidateFacts(
            person_id=pid,
            role=people[pid].role,
            licence=_licence(people[pid]),
            booked=tuple(booked[pid]),
            windows=tuple(windows.get(pid, ())),
            booked_here=here[pid].status if pid in here else None,
        )
        for pid in ids
        if pid in people
    ]
    last_day = slot.ends_at.astimezone(ZoneInfo(event.timezone)).date()
    words = _Describer(event, {other.id: (other, name) for _, other, name in nearby})
    return [
        _candidate(people[a.person_id], a, here.get(a.person_id), words, event)
        for a in assess_candidates(facts, candidate, last_day)
    ]
