"""Checking an imported document: every problem, each with its place, before anything is written.

Each part (the event's fields, each channel, person and slot) is validated on its own, so one bad
part never hides the problems of another; then the booking rules of ``domain`` are run over the
parts that parsed, against each other and against what the database already holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, func, select

from takeamoment.db.people import Person
from takeamoment.db.queries import availability_of, lock_people, person_bookings_between
from takeamoment.db.slots import Slot
from takeamoment.domain.booking_rules import (
    Licence,
    PlacedSlot,
    check_inside_event,
    find_availability_conflicts,
    find_channel_conflicts,
    find_person_conflicts,
    licence_problem,
)
from takeamoment.domain.intervals import Interval
from takeamoment.services.document import (
    LISTS,
    DocBooking,
    DocChannel,
    DocEvent,
    DocPerson,
    DocSlot,
)
from takeamoment.services.people_rules import REACH
from takeamoment.services.views import person_private

Loc = tuple[str | int, ...]
Part = TypeVar("Part", bound=SQLModel)


@dataclass
class Problems:
    """Every problem found so far, in the order found."""

    found: list[dict[str, Any]] = field(default_factory=list)

    def add(self, loc: Loc, message: str) -> None:
        self.found.append({"loc": list(loc), "message": message})

    def from_validation(self, loc: Loc, error: ValidationError) -> None:
        for item in error.errors(include_url=False):
            self.add((*loc, *item["loc"]), str(item["msg"]))


def parse_part(model: type[Part], raw: Any, loc: Loc, problems: Problems) -> Part | None:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems.from_validation(loc, error)
        return None


def parse_list(
    model: type[Part], raw: Any, name: str, problems: Problems
) -> list[tuple[int, Part]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add((name,), f"{name} must be a list")
        return []
    parsed = [(i, parse_part(model, item, (name, i), problems)) for i, item in enumerate(raw)]
    return [(i, part) for i, part in parsed if part is not None]


@dataclass
class Parsed:
    event: DocEvent | None
    channels: list[tuple[int, DocChannel]]
    people: list[tuple[int, DocPerson]]
    slots: list[tuple[int, DocSlot]]


def parse_document(raw: Any, problems: Problems) -> Parsed:
    if not isinstance(raw, dict):
        problems.add((), "the document must be a JSON object")
        return Parsed(None, [], [], [])
    event_part = {key: value for key, value in raw.items() if key not in LISTS}
    return Parsed(
        event=_event_part(event_part, problems),
        channels=parse_list(DocChannel, raw.get("channels"), "channels", problems),
        people=parse_list(DocPerson, raw.get("people"), "people", problems),
        slots=parse_list(DocSlot, raw.get("slots"), "slots", problems),
    )


def _event_part(raw: dict[str, Any], problems: Problems) -> DocEvent | None:
    """The event's fields; when some are wrong, the others still frame the checks of the slots
    (so a misspelt field does not hide the slots' problems)."""
    before = len(problems.found)
    event = parse_part(DocEvent, raw, (), problems)
    if event is not None:
        return event
    wrong = {p["loc"][0] for p in problems.found[before:] if p["loc"]}
    return parse_part(DocEvent, {k: v for k, v in raw.items() if k not in wrong}, (), Problems())


@dataclass
class Who:
    """One person the bookings may name: from the database, or new from the document."""

    handle: str
    name: str
    role: str
    licence: Licence | None
    windows: list[Interval]
    booked: list[PlacedSlot] = field(default_factory=list)
    person_id: str | None = None
    doc: DocPerson | None = None
    # What each booked slot is called, to say what is in the way.
    titles: dict[str, str] = field(default_factory=dict)


def _licence_of(person: Person) -> Licence | None:
    private = person_private(person).license
    if private is None:
        return None
    return Licence(
        number=private.number,
        issuer=private.issuer,
        jurisdiction=private.jurisdiction,
        expires_on=private.expires_on,
        verified=private.verified,
    )


async def resolve_people(
    session: AsyncSession,
    people: Sequence[tuple[int, DocPerson]],
    handles: Iterable[str],
    span: Interval,
    problems: Problems,
) -> dict[str, Who]:
    """Everyone named, by lower-cased handle: existing people win (their rows locked)."""
    wanted = {h.lower() for h in handles} | {p.handle.lower() for _, p in people}
    query = select(Person).where(func.lower(col(Person.handle)).in_(sorted(wanted)))
    existing = {p.handle.lower(): p for p in (await session.execute(query)).scalars()}
    await lock_people(session, (p.id for p in existing.values()))
    found: dict[str, Who] = {}
    for key, person in existing.items():
        windows = [Interval.of(w) for w in await availability_of(session, person.id)]
        rows = await person_bookings_between(
            session, person.id, span.starts_at - REACH, span.ends_at + REACH
        )
        booked = [
            PlacedSlot(
                slot_id=slot.id,
                interval=Interval.of(slot),
                changeover=booking.busy_until - slot.ends_at,
            )
            for booking, slot in rows
        ]
        found[key] = Who(
            person.handle, person.name, person.role, _licence_of(person), windows, booked, person.id
        )
        ids = [placed.slot_id for placed in booked]
        titled = select(Slot.id, Slot.title).where(col(Slot.id).in_(ids))
        found[key].titles = {i: f"“{t}”" for i, t in (await session.execute(titled)).all()}
    for index, entry in people:
        _add_listed(found, index, entry, problems)
    return found


def _add_listed(found: dict[str, Who], index: int, person: DocPerson, problems: Problems) -> None:
    """A person of the document's list: new unless their handle exists (then roles must agree)."""
    key = person.handle.lower()
    if key in found and found[key].doc is not None:
        problems.add(("people", index, "handle"), f"@{person.handle} is listed twice")
    elif key in found:
        if found[key].role != person.role:
            problems.add(
                ("people", index, "role"),
                f"@{person.handle} already exists as a {found[key].role}",
            )
    else:
        licence = None
        if person.license is not None:
            licence = Licence(
                **person.license.model_dump(exclude={"verified"}), verified=person.license.verified
            )
        windows = [Interval.of(w) for w in person.availability]
        found[key] = Who(person.handle, person.name, person.role, licence, windows, doc=person)


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """The event the slots go into: its window, zone, changeover and channels."""

    window: Interval
    zone: ZoneInfo
    changeover: timedelta
    channels: dict[str, str]  # any accepted name (lower-cased) → the channel's key
    # Slots already on each channel (adding to an existing event), with their titles.
    taken: dict[str, list[tuple[PlacedSlot, str]]] = field(default_factory=dict)


@dataclass
class Accepted:
    """A slot that passed every check, with the people it will book."""

    index: int
    slot: DocSlot
    channel: str
    bookings: list[tuple[DocBooking, Who, str]]


class SlotChecker:
    """Runs the booking rules over the document's slots, in order, as if each were booked."""

    def __init__(self, frame: Frame, people: dict[str, Who], problems: Problems) -> None:
        self.frame = frame
        self.people = people
        self.problems = problems
        self.on_channel: dict[str, list[tuple[PlacedSlot, str]]] = {
            key: list(taken) for key, taken in frame.taken.items()
        }

    def clock(self, moment: datetime) -> str:
        return moment.astimezone(self.frame.zone).strftime("%a %d %b %H:%M")

    def placed(self, index: int, slot: DocSlot) -> PlacedSlot:
        interval = Interval.of(slot)
        return PlacedSlot(
            slot_id=f"slots[{index}]", interval=interval, changeover=self.frame.changeover
        )

    def check(self, slots: Sequence[tuple[int, DocSlot]]) -> list[Accepted]:
        accepted = []
        for index, slot in slots:
            loc: Loc = ("slots", index)
            channel = self.frame.channels.get(slot.channel.lower())
            if channel is None:
                self.problems.add((*loc, "channel"), f"there is no channel {slot.channel!r}")
            candidate = self.placed(index, slot)
            problem = check_inside_event(candidate.interval, self.frame.window)
            if problem:
                self.problems.add((*loc, "starts_at"), problem)
            ok = channel is not None and not problem
            if ok and slot.status != "cancelled" and channel is not None:
                ok = self._channel_free(loc, channel, candidate, slot.title)
            bookings = self._bookings(loc, slot, candidate) if slot.status != "cancelled" else []
            if ok and bookings is not None and channel is not None:
                accepted.append(Accepted(index, slot, channel, bookings))
        return accepted

    def _channel_free(self, loc: Loc, channel: str, candidate: PlacedSlot, title: str) -> bool:
        taken = self.on_channel.setdefault(channel, [])
        titles = {placed.slot_id: name for placed, name in taken}
        conflicts = find_channel_conflicts(candidate, [placed for placed, _ in taken])
        for conflict in conflicts:
            other = conflict.conflicting_slot_id or ""
            self.problems.add(
                (*loc, "starts_at"),
                f"“{title}” overlaps “{titles.get(other, other)}” ({other}) on the same channel",
            )
        taken.append((candidate, title))
        return not conflicts

    def _bookings(
        self, loc: Loc, slot: DocSlot, candidate: PlacedSlot
    ) -> list[tuple[DocBooking, Who, str]] | None:
        found: list[tuple[DocBooking, Who, str]] = []
        ok = True
        for j, booking in enumerate(slot.bookings):
            where: Loc = (*loc, "bookings", j)
            who = self.people.get(booking.person.lower())
            if who is None:
                self.problems.add(
                    (*where, "person"), f"no person @{booking.person}: add them to people"
                )
                ok = False
                continue
            role = booking.role or who.role
            if any(other is who for _, other, _ in found):
                self.problems.add(
                    (*where, "person"), f"{who.name} is booked twice in “{slot.title}”"
                )
                ok = False
                continue
            refusal = self._refusal(who, role, slot)
            conflicts = find_person_conflicts(who.handle, candidate, who.booked)
            conflicts += find_availability_conflicts(who.handle, candidate, who.windows)
            if refusal:
                self.problems.add((*where, "person"), f"{who.name}: {refusal}")
            for conflict in conflicts:
                self.problems.add(
                    (*where, "person"),
                    self._say(who, slot, conflict.kind, conflict.conflicting_slot_id),
                )
            if refusal or conflicts:
                ok = False
                continue
            who.booked.append(candidate)
            who.titles[candidate.slot_id] = f"“{slot.title}” ({candidate.slot_id})"
            found.append((booking, who, role))
        return found if ok else None

    def _refusal(self, who: Who, role: str, slot: DocSlot) -> str | None:
        if role != who.role:
            return f"is a {who.role}, not a {role}"
        if role != "therapist":
            return None
        return licence_problem(who.licence, slot.ends_at.astimezone(self.frame.zone).date())

    def _say(self, who: Who, slot: DocSlot, kind: str, other: str | None) -> str:
        span = f"{self.clock(slot.starts_at)}–{self.clock(slot.ends_at)}"
        if kind == "outside_availability":
            return f"{who.name} is not available for all of “{slot.title}” ({span})"
        where = who.titles.get(other or "", "another slot")
        if kind == "person_overlap":
            return f"{who.name} is already on {where} at the time of “{slot.title}” ({span})"
        minutes = int(self.frame.changeover.total_seconds() // 60)
        return (
            f"{who.name} is on {where} too close to “{slot.title}” ({span}): "
            f"the changeover is {minutes} min"
        )
