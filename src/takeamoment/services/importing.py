"""Importing: a whole event document as a new draft, or a CSV of slots into an existing event.

All or nothing: every part is checked first (``services/import_checks.py``) and nothing is
written unless there is no problem at all; then one transaction creates everything, with the
same change log and notifications as the API's own routes. A dry run answers the same, writing
nothing.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Channel, Event
from takeamoment.db.people import AvailabilityWindow, Person
from takeamoment.db.queries import event_slots, get_channels, get_event
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.booking_rules import PlacedSlot
from takeamoment.domain.errors import AlreadyExists, InvalidDocument
from takeamoment.domain.intervals import Interval
from takeamoment.services.changes import record_change
from takeamoment.services.document import DocSlot
from takeamoment.services.import_checks import (
    Accepted,
    Frame,
    Parsed,
    Problems,
    SlotChecker,
    Who,
    parse_document,
    parse_list,
    resolve_people,
)
from takeamoment.services.notifications import notify
from takeamoment.services.schedule import event_public, slot_public
from takeamoment.services.tokens import FEED_TOKEN_PREFIX, hash_token, new_token
from takeamoment.services.views import EventPublic

CSV_COLUMNS = ("channel", "title", "starts_at", "ends_at", "kind", "tags", "people")


class ImportResult(SQLModel):
    """What an import created (or, in a dry run, would create)."""

    dry_run: bool
    event: EventPublic | None
    channels: int
    slots: int
    bookings: int
    people_created: list[str]


def _changeover(minutes: int | None) -> int:
    """The document's changeover, or the one a new event gets."""
    default: int = Event.model_fields["changeover_minutes"].default
    return default if minutes is None else minutes


def _handles(parsed: Parsed) -> set[str]:
    return {booking.person for _, slot in parsed.slots for booking in slot.bookings}


async def _check_document(
    session: AsyncSession, raw: Any
) -> tuple[Parsed, list[Accepted], dict[str, Who]]:
    problems = Problems()
    parsed = parse_document(raw, problems)
    event = parsed.event
    if event is not None:
        taken = await session.execute(select(Event.id).where(Event.slug == event.slug))
        if taken.first():
            problems.add(("slug",), f"an event with slug {event.slug!r} already exists")
    slugs: dict[str, str] = {}
    for index, channel in parsed.channels:
        if channel.slug in slugs.values():
            problems.add(
                ("channels", index, "slug"), f"the channel {channel.slug!r} is listed twice"
            )
        slugs[channel.slug.lower()] = channel.slug
        slugs.setdefault(channel.name.lower(), channel.slug)
    accepted: list[Accepted] = []
    people: dict[str, Who] = {}
    if event is not None:
        window = Interval.of(event)
        people = await resolve_people(session, parsed.people, _handles(parsed), window, problems)
        frame = Frame(
            window=window,
            zone=ZoneInfo(event.timezone),
            changeover=timedelta(minutes=_changeover(event.changeover_minutes)),
            channels=slugs,
        )
        accepted = SlotChecker(frame, people, problems).check(parsed.slots)
    if problems.found:
        raise InvalidDocument(problems.found)
    return parsed, accepted, people


async def _create_people(session: AsyncSession, people: dict[str, Who]) -> None:
    """Create the document's new people; each gets a token later, from a host
    (``POST /api/people/{id}/token``)."""
    for key in sorted(people):
        who = people[key]
        if who.person_id is not None or who.doc is None:
            continue
        doc, licence = who.doc, who.doc.license
        person = Person(
            name=doc.name,
            handle=doc.handle,
            role=doc.role,
            email=doc.email,
            timezone=doc.timezone,
            license_number=licence.number if licence else None,
            license_issuer=licence.issuer if licence else None,
            license_jurisdiction=licence.jurisdiction if licence else None,
            license_expires_on=licence.expires_on if licence else None,
            license_verified_at=utcnow() if licence and licence.verified else None,
            feed_token_hash=hash_token(new_token(FEED_TOKEN_PREFIX)),
        )
        session.add(person)
        await session.flush()
        who.person_id = person.id
        for window in doc.availability:
            session.add(
                AvailabilityWindow(
                    person_id=person.id, starts_at=window.starts_at, ends_at=window.ends_at
                )
            )


async def _create_slots(
    session: AsyncSession, event: Event, accepted: list[Accepted], channel_ids: dict[str, str]
) -> int:
    """The slots and their bookings, each invitation notified and each slot logged."""
    changeover = timedelta(minutes=event.changeover_minutes)
    now, created = utcnow(), 0
    for item in sorted(accepted, key=lambda a: (a.slot.starts_at, a.index)):
        doc = item.slot
        slot = Slot(
            event_id=event.id,
            channel_id=channel_ids[item.channel],
            title=doc.title,
            description=doc.description,
            tags=list(doc.tags),
            kind=doc.kind,
            starts_at=doc.starts_at,
            ends_at=doc.ends_at,
            stream_url=doc.stream_url,
            status="cancelled" if doc.status == "cancelled" else "scheduled",
        )
        session.add(slot)
        await session.flush()
        bookings = []
        for booking_doc, who, role in item.bookings:
            confirmed = booking_doc.status == "confirmed"
            booking = Booking(
                slot_id=slot.id,
                person_id=who.person_id or "",
                role=role,
                status=booking_doc.status,
                starts_at=slot.starts_at,
                busy_until=slot.ends_at + changeover,
                confirmed_at=now if confirmed else None,
            )
            session.add(booking)
            bookings.append(booking)
        await session.flush()
        view = (await slot_public(session, event, slot)).model_dump(mode="json")
        for booking in bookings:
            await notify(
                session,
                person_id=booking.person_id,
                booking_id=booking.id,
                slot=view,
                kind="booking.invited",
                due_at=booking.created_at,
                extra={"role": booking.role},
            )
        await record_change(session, event, "slot.created", {"slot": view})
        created += len(bookings)
    return created


def _counts(accepted: list[Accepted], people: dict[str, Who]) -> tuple[int, list[str]]:
    """How many bookings, and the handles of the people the document adds."""
    new = sorted(who.handle for who in people.values() if who.person_id is None)
    return sum(len(item.bookings) for item in accepted), new


async def import_document(
    db: Database, raw: Any, public_url: str, *, dry_run: bool = False
) -> ImportResult:
    """Create the document's event as a new draft with everything in it, or raise
    InvalidDocument listing every problem (then nothing is written)."""
    if dry_run:
        async with db.read() as session:
            parsed, accepted, people = await _check_document(session, raw)
        bookings, new = _counts(accepted, people)
        return ImportResult(
            dry_run=True,
            event=None,
            channels=len(parsed.channels),
            slots=len(accepted),
            bookings=bookings,
            people_created=new,
        )

    async def work(session: AsyncSession) -> ImportResult:
        parsed, accepted, people = await _check_document(session, raw)
        bookings, new = _counts(accepted, people)
        doc = parsed.event
        assert doc is not None  # noqa: S101 - a document without event fields has problems
        fields = doc.model_dump(
            mode="json", exclude={"format", "starts_at", "ends_at"}, exclude_none=True
        )
        event = Event(**fields, starts_at=doc.starts_at, ends_at=doc.ends_at)
        session.add(event)
        await session.flush()
        channel_ids = {}
        for position, (_, channel) in enumerate(parsed.channels):
            row = Channel(
                event_id=event.id,
                slug=channel.slug,
                name=channel.name,
                stream_url=channel.stream_url,
                position=position,
            )
            session.add(row)
            await session.flush()
            channel_ids[channel.slug] = row.id
        await _create_people(session, people)
        await _create_slots(session, event, accepted, channel_ids)
        view = await event_public(session, event, public_url)
        return ImportResult(
            dry_run=False,
            event=view,
            channels=len(channel_ids),
            slots=len(accepted),
            bookings=bookings,
            people_created=new,
        )

    try:
        return await db.write(work)
    except IntegrityError as error:  # the same slug or handle created at this very moment
        raise AlreadyExists(
            "another request created this event or one of its people meanwhile; import again"
        ) from error


# --- CSV: slots for people who plan in a spreadsheet ----------------------------------------


def _local_time(value: str, zone: ZoneInfo) -> str:
    """A CSV time: RFC 3339 with an offset, or a wall-clock time in the event's zone."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text  # left for the slot's own validation to name
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def _words(value: str, strip: str) -> list[str]:
    return [word.lstrip(strip) for word in re.split(r"[\s,;]+", value) if word.lstrip(strip)]


def csv_slots(text: str, timezone: str) -> list[dict[str, Any]]:
    """The CSV's rows as document slots (people are invited); raises InvalidDocument for a
    header that is not the expected one."""
    rows = list(csv.DictReader(io.StringIO(text)))
    header = tuple(csv.reader(io.StringIO(text.splitlines()[0] if text.strip() else "")))
    columns = tuple(name.strip() for name in header[0]) if header else ()
    if columns[: len(CSV_COLUMNS)] != CSV_COLUMNS:
        expected = ",".join(CSV_COLUMNS)
        raise InvalidDocument([{"loc": ["header"], "message": f"the header must be {expected}"}])
    zone = ZoneInfo(timezone)
    slots = []
    for row in rows:
        slot: dict[str, Any] = {
            "channel": (row.get("channel") or "").strip(),
            "title": (row.get("title") or "").strip(),
            "starts_at": _local_time(row.get("starts_at") or "", zone),
            "ends_at": _local_time(row.get("ends_at") or "", zone),
            "tags": _words(row.get("tags") or "", "#"),
            "bookings": [{"person": handle} for handle in _words(row.get("people") or "", "@")],
        }
        if (row.get("kind") or "").strip():
            slot["kind"] = (row.get("kind") or "").strip()
        slots.append(slot)
    return slots


async def _event_frame(session: AsyncSession, event: Event) -> tuple[Frame, dict[str, str]]:
    channels = await get_channels(session, event.id)
    keys: dict[str, str] = {}
    for channel in channels:
        keys[channel.slug.lower()] = channel.id
        keys.setdefault(channel.name.lower(), channel.id)
    taken: dict[str, list[tuple[PlacedSlot, str]]] = {}
    changeover = timedelta(minutes=event.changeover_minutes)
    for slot in await event_slots(session, event.id):
        if slot.status != "cancelled":
            interval = Interval.of(slot)
            placed = PlacedSlot(slot_id=slot.id, interval=interval, changeover=changeover)
            taken.setdefault(slot.channel_id, []).append((placed, slot.title))
    frame = Frame(
        window=Interval.of(event),
        zone=ZoneInfo(event.timezone),
        changeover=changeover,
        channels=keys,
        taken=taken,
    )
    return frame, {channel.id: channel.id for channel in channels}


async def import_csv_slots(
    db: Database, slug: str, text: str, public_url: str, *, dry_run: bool = False
) -> ImportResult:
    """Add the CSV's slots (columns ``channel,title,starts_at,ends_at,kind,tags,people``) to an
    existing event, all or nothing; problems name the row as ``["slots", n, field]``."""

    async def check(session: AsyncSession, lock: bool) -> tuple[Event, list[Accepted]]:
        event = await get_event(session, slug, for_update=lock)
        problems = Problems()
        raw = csv_slots(text, event.timezone)
        slots = parse_list(DocSlot, raw, "slots", problems)
        handles = {b.person for _, s in slots for b in s.bookings}
        window = Interval.of(event)
        people = await resolve_people(session, [], handles, window, problems)
        frame, _ = await _event_frame(session, event)
        accepted = SlotChecker(frame, people, problems).check(slots)
        if problems.found:
            raise InvalidDocument(problems.found)
        return event, accepted

    def result(event: EventPublic | None, accepted: list[Accepted]) -> ImportResult:
        bookings = sum(len(item.bookings) for item in accepted)
        return ImportResult(
            dry_run=event is None,
            event=event,
            channels=0,
            slots=len(accepted),
            bookings=bookings,
            people_created=[],
        )

    if dry_run:
        async with db.read() as session:
            _, accepted = await check(session, lock=False)
        return result(None, accepted)

    async def work(session: AsyncSession) -> ImportResult:
        event, accepted = await check(session, lock=True)
        _, channel_ids = await _event_frame(session, event)
        await _create_slots(session, event, accepted, channel_ids)
        return result(await event_public(session, event, public_url), accepted)

    return await db.write(work)
