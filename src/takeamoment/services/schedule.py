"""Reading an event's schedule: the event, its slots and who is on them."""

from __future__ import annotations

import gzip
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.queries import bookings_with_people, event_slots, get_channels, get_event
from takeamoment.db.slots import Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.intervals import Interval
from takeamoment.domain.labels import slot_label
from takeamoment.services.auth import Principal
from takeamoment.services.versions import KnownVersions
from takeamoment.services.views import (
    EventPublic,
    SchedulePublic,
    SlotForHost,
    SlotPublic,
    event_view,
    slot_view,
    slot_view_for_host,
)
from takeamoment.services.visibility import check_visible, visible_event


async def event_public(session: AsyncSession, event: Event, public_url: str) -> EventPublic:
    return event_view(event, await get_channels(session, event.id), public_url)


def slot_name(slot: Slot, event: Event, at: Interval | None = None) -> str:
    """The slot as messages name it: its title and its times (or ``at``) in the event's zone."""
    times = at or Interval.of(slot)
    return slot_label(slot.title, times.starts_at, times.ends_at, event.timezone)


async def slot_public(session: AsyncSession, event: Event, slot: Slot) -> SlotPublic:
    """The public view of one slot, as the change log records it."""
    channels = {channel.id: channel for channel in await get_channels(session, event.id)}
    bookings = await bookings_with_people(session, [slot.id])
    return slot_view(slot, event, channels[slot.channel_id], bookings[slot.id])


async def get_schedule(
    db: Database, slug: str, principal: Principal | None, public_url: str
) -> SchedulePublic:
    """The event and every slot sorted by start; hosts also see invited people."""
    async with db.read() as session:
        event = await visible_event(session, slug, principal)
        channels = await get_channels(session, event.id)
        by_id = {channel.id: channel for channel in channels}
        slots = await event_slots(session, event.id)
        bookings = await bookings_with_people(session, [slot.id for slot in slots])
        now = utcnow()
        views: list[SlotForHost] | list[SlotPublic]
        if principal and principal.is_host:
            views = [
                slot_view_for_host(s, event, by_id[s.channel_id], bookings[s.id], now)
                for s in slots
            ]
        else:
            views = [slot_view(s, event, by_id[s.channel_id], bookings[s.id], now) for s in slots]
        return SchedulePublic(event=event_view(event, channels, public_url), slots=views)


class PublicSchedules:
    """The public schedule of each event as JSON bytes, encoded once per version and served
    from memory while that version is trusted (``services/versions.py``).

    Anyone may poll the schedule; each read used to load every slot and its people and encode
    them. Hosts see invited people too, so their reads are never served from here. The clock
    alone makes a scheduled slot ``overdue``: a body is kept until the next scheduled start it
    holds, no longer.
    """

    def __init__(self, known: KnownVersions, max_events: int = 64) -> None:
        self.known = known
        self.max_events = max_events
        # slug: (version, JSON, the same gzipped, when it goes stale)
        self._bodies: OrderedDict[str, tuple[Hashable, bytes, bytes, datetime | None]] = (
            OrderedDict()
        )
        self.reads = 0  # schedules read from the database (tests look)

    async def body(self, db: Database, slug: str, public_url: str, gzipped: bool) -> bytes:
        """The public schedule's JSON (gzipped when asked); NotFound unless it is published."""
        cached = self._bodies.get(slug)
        if (
            cached is None
            or (cached[3] is not None and utcnow() >= cached[3])
            or self.known.trusted((slug, "schedule")) != cached[0]
        ):
            cached = await self._read(db, slug, public_url)
        self._bodies.move_to_end(slug)
        return cached[2] if gzipped else cached[1]

    async def _read(
        self, db: Database, slug: str, public_url: str
    ) -> tuple[Hashable, bytes, bytes, datetime | None]:
        asking = self.known.ask(slug)
        self.reads += 1
        view = await get_schedule(db, slug, None, public_url)
        version = (view.event.last_seq, view.event.updated_at)
        shown = view.model_dump(mode="json")
        body = msgspec.json.encode(shown)
        # Once per version, with a fixed mtime: every process sends the same bytes.
        gzipped = gzip.compress(body, compresslevel=6, mtime=0)
        read = (version, body, gzipped, next_overdue_at(shown["slots"]))
        self._bodies[slug] = read
        while len(self._bodies) > self.max_events:
            self._bodies.popitem(last=False)
        self.known.confirm((slug, "schedule"), asking, version)
        return read


def next_overdue_at(slots: Iterable[Mapping[str, Any]]) -> datetime | None:
    """When the next of these slots (as JSON) becomes overdue: the first start among the
    scheduled ones not overdue yet. What is shown of them is stale from then on."""
    starts = [
        datetime.fromisoformat(slot["starts_at"])
        for slot in slots
        if slot["status"] == "scheduled" and not slot.get("overdue")
    ]
    return min(starts, default=None)


async def published_seq(db: Database, slug: str) -> int:
    """The published event's newest seq (NotFound for a draft): one small read."""
    async with db.read() as session:
        event = await visible_event(session, slug)
    return event.last_seq


async def snapshot_message(db: Database, slug: str, *, drafts: bool = False) -> dict[str, Any]:
    """The published event's slots as of one seq: the first message of a live stream
    (a draft's too with ``drafts``, for a host's stream).

    The seq is read before the slots, so a change that lands in between is in the slots and
    also sent again after the snapshot: applying a full slot twice is harmless, missing one
    is not.
    """
    async with db.read() as session:
        event = check_visible(await get_event(session, slug), drafts=drafts)
        seq = event.last_seq
        channels = {channel.id: channel for channel in await get_channels(session, event.id)}
        slots = await event_slots(session, event.id)
        bookings = await bookings_with_people(session, [slot.id for slot in slots])
        now = utcnow()
        views = [slot_view(s, event, channels[s.channel_id], bookings[s.id], now) for s in slots]
    return {
        "type": "snapshot",
        "seq": seq,
        "event": slug,
        "slots": [view.model_dump(mode="json") for view in views],
    }
