"""Calendar feeds as use cases: find a feed's version, and render it only when that changes.

Every request reads the feed's version first (the event's change ``seq``; for a person, a summary
of their bookings) in one small query and answers from the cache when that version was rendered
before. A miss loads the schedule in a fresh read session, renders it off the event loop and
caches the result under the version it actually read.

Public feeds are built from public names and handles only; the private feed adds the owner's own
booking and reminders. Feed tokens are never logged nor echoed whole (``redact_token``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment import urls as paths
from takeamoment.calendar.cache import Built, FeedCache, RenderedFeed
from takeamoment.calendar.model import (
    CalendarInfo,
    EventInfo,
    FeedBookingStatus,
    MyBooking,
    Performer,
    SafetyResource,
    SlotEntry,
)
from takeamoment.calendar.render import render_calendar
from takeamoment.db.engine import Database
from takeamoment.db.events import Change, Channel, Event
from takeamoment.db.people import Person, RetiredFeedToken
from takeamoment.db.queries import (
    PersonFeedVersion,
    bookings_with_people,
    event_slots,
    find_person_by_feed_token_hash,
    get_channel,
    get_channels,
    person_feed_bookings,
    person_feed_version,
    slot_change_times,
)
from takeamoment.db.slots import ACTIVE_BOOKING_STATUSES, Booking, Slot
from takeamoment.domain.booking_states import TAKEN_OFF_STATUSES, BookingStatus
from takeamoment.domain.errors import Gone, NotFound
from takeamoment.domain.slot_states import times_on_air
from takeamoment.services.tokens import hash_token
from takeamoment.services.versions import KnownVersions
from takeamoment.services.visibility import visible_event

logger = logging.getLogger(__name__)

# How often calendar apps are asked to fetch again (Google ignores it and polls far less).
REFRESH_INTERVAL = timedelta(minutes=15)
# A person's feed: their active bookings, and those that ended on the host's side (the slot was
# cancelled, the host removed them, a forced delay released them), so such a session stays in
# their calendar as CANCELLED instead of silently vanishing.
PERSON_FEED_STATUSES: tuple[BookingStatus, ...] = (
    *ACTIVE_BOOKING_STATUSES,
    "cancelled",
    *TAKEN_OFF_STATUSES,
)
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class FeedUrls:
    """Where a feed lives (the public URL) and the right-hand side of its UIDs."""

    public_url: str
    uid_domain: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedFilter:
    """``?channel=`` (a channel's slug or id), ``?tag=`` (any of a slot's tags, any case) and
    ``?slot=`` (one slot: "add to calendar" of a session's page)."""

    channel: str | None = None
    tag: str | None = None
    slot: str | None = None


def redact_token(token: str) -> str:
    """Enough of a feed token to tell two apart in a message, never enough to use it."""
    return f"{token[:9]}…" if len(token) > 9 else "…"


# --- the public feed of an event --------------------------------------------------------------


async def event_feed(
    db: Database,
    cache: FeedCache,
    slug: str,
    feed_filter: FeedFilter,
    urls: FeedUrls,
    known: KnownVersions | None = None,
) -> RenderedFeed:
    """The published event's feed, filtered; a draft or an unknown channel is NotFound.

    With ``known``, a feed whose version was confirmed a moment ago and whose event has not
    changed since is served without asking the database (``services/versions.py``).
    """
    # Tags are stored without "#": "?tag=%23BookTok" and "?tag=booktok" are the same filter.
    tag = feed_filter.tag.strip().lstrip("#").casefold() if feed_filter.tag else None
    key = (slug, "feed", feed_filter.channel, tag, feed_filter.slot, urls)
    trusted = known.trusted(key) if known is not None else None
    if trusted is not None and (cached := cache.get(*trusted)) is not None:
        return cached
    asking = known.ask(slug) if known is not None else None
    async with db.read() as session:
        event, channel = await _published_event(session, slug, feed_filter)
        version = _event_version(event)
        if feed_filter.slot is not None:
            await _event_slot(session, event, feed_filter.slot)
    identity = ("event", event.id, channel.id if channel else None, tag, feed_filter.slot, urls)

    async def build() -> Built:
        async with db.read() as session:
            event, channel = await _published_event(session, slug, feed_filter)
            info = await _event_calendar(session, event, channel, tag, urls, feed_filter.slot)
            # The header never goes back, even when a slot leaves a filtered feed (or is deleted)
            # and what remains changed longer ago: any change of the event may have changed it.
            last_modified = max(info.changed_at, await _last_change_at(session, event))
        feed = await _render(info, f"event {event.slug}", event.slug, last_modified)
        return _event_version(event), feed

    feed = await cache.get_or_build(identity, version, build)
    if known is not None and asking is not None:
        known.confirm(key, asking, (identity, version))
    return feed


async def _published_event(
    session: AsyncSession, slug: str, feed_filter: FeedFilter
) -> tuple[Event, Channel | None]:
    event = await visible_event(session, slug)
    if feed_filter.channel is None:
        return event, None
    return event, await get_channel(session, event.id, feed_filter.channel)


async def _event_slot(session: AsyncSession, event: Event, slot_id: str) -> Slot:
    slot = await session.get(Slot, slot_id)
    if slot is None or slot.event_id != event.id:
        raise NotFound("slot", slot_id)
    return slot


async def _last_change_at(session: AsyncSession, event: Event) -> datetime:
    """When the event's change log last grew (its ``updated_at`` when it has no change yet)."""
    query = select(col(Change.at)).where(Change.event_id == event.id, Change.seq == event.last_seq)
    at = (await session.execute(query)).scalar_one_or_none()
    return max(event.updated_at, at) if at is not None else event.updated_at


def _event_version(event: Event) -> tuple[int, datetime]:
    # Every schedule change bumps last_seq; updated_at also covers edits made outside the log.
    return event.last_seq, event.updated_at


async def _event_calendar(
    session: AsyncSession,
    event: Event,
    channel: Channel | None,
    tag: str | None,
    urls: FeedUrls,
    slot_id: str | None = None,
) -> CalendarInfo:
    channels = {c.id: c for c in await get_channels(session, event.id)}
    slots = [
        slot
        for slot in await event_slots(session, event.id)
        if (channel is None or slot.channel_id == channel.id)
        and (tag is None or tag in {t.casefold() for t in slot.tags})
        and (slot_id is None or slot.id == slot_id)
    ]
    slot_ids = [slot.id for slot in slots]
    people = await bookings_with_people(session, slot_ids)
    changes = await slot_change_times(session, [event.id], slot_ids)
    shared = event_info(event, urls.public_url)
    entries = tuple(
        slot_entry(
            slot,
            shared,
            channels[slot.channel_id],
            [(b, p) for b, p in people[slot.id] if b.status == "confirmed"],
            changed_at=max(
                slot.updated_at, event.updated_at, changes.get(slot.id, slot.updated_at)
            ),
        )
        for slot in slots
    )
    query, label = _filter_query(channel, tag, slots[0] if slot_id and slots else None)
    return CalendarInfo(
        uid=_calendar_uid("calendar", event.id, query, urls.uid_domain),
        name=f"{event.title} ({label})" if label else event.title,
        description=event.description,
        source_url=paths.absolute(urls.public_url, paths.event_calendar(event.slug))
        + (f"?{query}" if query else ""),
        page_url=shared.page_url,
        uid_domain=urls.uid_domain,
        changed_at=max([event.updated_at, *(entry.changed_at for entry in entries)]),
        refresh_interval=REFRESH_INTERVAL,
        timezone=event.timezone,
        slots=entries,
    )


def _filter_query(
    channel: Channel | None, tag: str | None, slot: Slot | None = None
) -> tuple[str, str]:
    """The canonical query string of a filtered feed, and words for its name."""
    params, words = [], []
    if slot is not None:
        params.append(("slot", slot.id))
        words.append(slot.title)
    if channel is not None:
        params.append(("channel", channel.slug))
        words.append(channel.name)
    if tag is not None:
        params.append(("tag", tag))
        words.append(f"#{tag}")
    return urlencode(params), ", ".join(words)


# --- the private feed of a person -------------------------------------------------------------


async def person_feed(
    db: Database, cache: FeedCache, feed_token: str, urls: FeedUrls
) -> RenderedFeed:
    """The person's own bookings across events; an unknown token is NotFound, a rotated one Gone."""
    token_hash = hash_token(feed_token)
    async with db.read() as session:
        person = await _person_of(session, feed_token, token_hash)
        version = await person_feed_version(session, person.id, PERSON_FEED_STATUSES)
    # The token is part of the feed (its SOURCE), so a rotated URL is a different feed.
    identity = ("person", person.id, token_hash, urls)
    source_url = paths.absolute(urls.public_url, paths.person_feed(feed_token))

    async def build() -> Built:
        async with db.read() as session:
            person = await _person_of(session, feed_token, token_hash)
            version = await person_feed_version(session, person.id, PERSON_FEED_STATUSES)
            info = await _person_calendar(session, person, version, source_url, urls)
        feed = await _render(info, f"person {person.id}", person.handle, info.changed_at)
        return version, feed

    return await cache.get_or_build(identity, version, build)


async def _person_of(session: AsyncSession, feed_token: str, token_hash: str) -> Person:
    person = await find_person_by_feed_token_hash(session, token_hash)
    # The lookup compares digests, not the token; the explicit check keeps it constant-time.
    if person is None or not hmac.compare_digest(person.feed_token_hash, token_hash):
        if await session.get(RetiredFeedToken, token_hash) is not None:
            raise Gone("feed", redact_token(feed_token))
        raise NotFound("feed", redact_token(feed_token))
    return person


async def _person_calendar(
    session: AsyncSession,
    person: Person,
    version: PersonFeedVersion,
    source_url: str,
    urls: FeedUrls,
) -> CalendarInfo:
    rows = await person_feed_bookings(session, person.id, PERSON_FEED_STATUSES)
    slot_ids = [slot.id for _, slot, _, _ in rows]
    people = await bookings_with_people(session, slot_ids)
    changes = await slot_change_times(session, sorted({e.id for _, _, e, _ in rows}), slot_ids)
    events = {event.id: event_info(event, urls.public_url) for _, _, event, _ in rows}
    entries = tuple(
        slot_entry(
            slot,
            events[event.id],
            channel,
            [(b, p) for b, p in people[slot.id] if b.status == "confirmed" and p.id != person.id],
            changed_at=max(
                slot.updated_at,
                event.updated_at,
                booking.updated_at,
                changes.get(slot.id, slot.updated_at),
            ),
            booking=MyBooking(role=booking.role, status=_feed_status(booking)),
        )
        for booking, slot, event, channel in rows
    )
    changed = [person.created_at, *(entry.changed_at for entry in entries)]
    if version.bookings_changed_at is not None:  # a booking that left the feed changed it too
        changed.append(version.bookings_changed_at)
    return CalendarInfo(
        uid=_calendar_uid("bookings", person.id, "", urls.uid_domain),
        name=f"{person.name} (@{person.handle}): my takeamoment bookings",
        description="Your own sessions, with reminders. Keep this address to yourself.",
        source_url=source_url,
        page_url=urls.public_url + "/",
        uid_domain=urls.uid_domain,
        changed_at=max(changed),
        refresh_interval=REFRESH_INTERVAL,
        timezone=person.timezone,
        owner_id=person.id,
        slots=entries,
    )


def _feed_status(booking: Booking) -> FeedBookingStatus:
    # Taken off the slot reads as cancelled in the owner's calendar: for them it is.
    if booking.status == "cancelled" or booking.status in TAKEN_OFF_STATUSES:
        return "cancelled"
    return "confirmed" if booking.status == "confirmed" else "invited"


# --- shared -----------------------------------------------------------------------------------


def event_info(event: Event, public_url: str) -> EventInfo:
    return EventInfo(
        id=event.id,
        title=event.title,
        timezone=event.timezone,
        page_url=paths.absolute(public_url, paths.event_page(event.slug)),
        hashtags=tuple(event.hashtags),
        safety_resources=tuple(_safety_resource(r) for r in event.safety_resources),
        reminder_minutes=tuple(event.reminder_minutes),
        changeover_minutes=event.changeover_minutes,
    )


def _safety_resource(raw: dict[str, Any]) -> SafetyResource:
    def text(key: str) -> str | None:
        value = raw.get(key)
        return str(value) if value else None

    return SafetyResource(
        name=str(raw.get("name", "")),
        phone=text("phone"),
        url=text("url"),
        region=text("region"),
        description=text("description"),
    )


def slot_entry(
    slot: Slot,
    event: EventInfo,
    channel: Channel,
    confirmed: list[tuple[Booking, Person]],
    *,
    changed_at: datetime,
    booking: MyBooking | None = None,
) -> SlotEntry:
    """One slot as the renderer takes it: people reduced to public name, handle and role.

    Times follow what happened once it is known (``times_on_air``). An ended slot has nothing
    left to remind anyone of, so its event info carries no reminder times (no alarms); a booking
    that no longer stands makes the owner's copy CANCELLED.
    """
    shown = times_on_air(slot.starts_at, slot.ends_at, slot.actual_started_at, slot.actual_ended_at)
    if slot.status == "ended":
        event = dataclasses.replace(event, reminder_minutes=())
    status = slot.status
    if booking is not None and booking.status == "cancelled":
        status = "cancelled"
    return SlotEntry(
        id=slot.id,
        event=event,
        channel_name=channel.name,
        title=slot.title,
        description=slot.description,
        tags=tuple(slot.tags),
        starts_at=shown.starts_at,
        ends_at=shown.ends_at,
        status=status,
        sequence=slot.sequence,
        changed_at=changed_at,
        people=tuple(Performer(name=p.name, handle=p.handle, role=b.role) for b, p in confirmed),
        booking=booking,
    )


def _calendar_uid(kind: str, key: str, query: str, domain: str) -> str:
    # A filtered feed is a calendar of its own; the filter text is hashed to keep the UID plain.
    suffix = f"-{hashlib.sha256(query.encode()).hexdigest()[:16]}" if query else ""
    return f"{kind}-{key}{suffix}@{domain}"


def _file_name(name: str) -> str:
    """A file name for Content-Disposition: the slug or handle, in safe characters only."""
    return (_UNSAFE_IN_FILE_NAME.sub("-", name).strip(".-") or "calendar") + ".ics"


async def _render(
    info: CalendarInfo, what: str, name: str, last_modified: datetime
) -> RenderedFeed:
    # Rendering (and compressing) a large feed takes a while: off the event loop, so other
    # requests keep flowing.
    feed = await asyncio.to_thread(
        lambda: RenderedFeed.of(render_calendar(info), last_modified, _file_name(name))
    )
    logger.debug(
        "rendered the calendar feed of %s: %d slots, %d bytes (%d gzipped)",
        what,
        len(info.slots),
        len(feed.body),
        len(feed.gzipped),
    )
    return feed
