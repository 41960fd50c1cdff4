"""Events and their channels: create, change, publish, list."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Change, Channel, Event
from takeamoment.db.queries import event_slots, get_channels, get_event
from takeamoment.db.slots import Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.errors import AlreadyExists, InvalidSchedule, InvalidTransition
from takeamoment.domain.intervals import Interval
from takeamoment.services.auth import Principal
from takeamoment.services.changes import record_change
from takeamoment.services.inputs import ChannelCreate, EventCreate, EventUpdate
from takeamoment.services.people_rules import recheck_event_bookings
from takeamoment.services.removal import remove_slots
from takeamoment.services.schedule import event_public
from takeamoment.services.views import ChannelPublic, EventPublic, channel_view, event_view
from takeamoment.services.visibility import PUBLISHED, sees_drafts, visible_event
from takeamoment.services.webhooks import remove_event_webhooks


async def create_event(db: Database, data: EventCreate, public_url: str) -> EventPublic:
    async def work(session: AsyncSession) -> EventPublic:
        if (await session.execute(select(Event.id).where(Event.slug == data.slug))).first():
            raise AlreadyExists(f"an event with slug {data.slug!r} already exists")
        event = Event(
            **data.model_dump(mode="json", exclude_none=True, exclude={"starts_at", "ends_at"})
        )
        event.starts_at, event.ends_at = data.starts_at, data.ends_at
        session.add(event)
        await session.flush()
        return event_view(event, [], public_url)

    try:
        return await db.write(work)
    except IntegrityError as error:  # two creates of one slug at once: the index decides
        raise AlreadyExists(f"an event with slug {data.slug!r} already exists") from error


async def list_events(
    db: Database, principal: Principal | None, public_url: str
) -> list[EventPublic]:
    """Published events by start; hosts also see drafts."""
    async with db.read() as session:
        query = select(Event).order_by(col(Event.starts_at), col(Event.slug))
        if not sees_drafts(principal):
            query = query.where(Event.status == PUBLISHED)
        events = list((await session.execute(query)).scalars())
        return [await event_public(session, event, public_url) for event in events]


async def get_event_view(
    db: Database, slug: str, principal: Principal | None, public_url: str
) -> EventPublic:
    async with db.read() as session:
        return await event_public(
            session, await visible_event(session, slug, principal), public_url
        )


async def update_event(db: Database, slug: str, data: EventUpdate, public_url: str) -> EventPublic:
    """Change an event; its slots must still fit, and a longer changeover is checked per person."""
    fields = data.model_dump(exclude_unset=True, exclude_none=True)
    # What the columns hold: JSON-ready values, but the datetimes as datetimes.
    values = {
        name: fields[name] if name in ("starts_at", "ends_at") else value
        for name, value in data.model_dump(
            mode="json", exclude_unset=True, exclude_none=True
        ).items()
    }

    async def work(session: AsyncSession) -> EventPublic:
        event = await get_event(session, slug, for_update=True)
        changed = {name: value for name, value in values.items() if getattr(event, name) != value}
        if not changed:  # nothing to log
            return await event_public(session, event, public_url)
        window = Interval(
            starts_at=fields.get("starts_at", event.starts_at),
            ends_at=fields.get("ends_at", event.ends_at),
        )
        slots = [s for s in await event_slots(session, event.id) if s.status != "cancelled"]
        outside = [s.id for s in slots if not window.contains(Interval.of(s))]
        if outside:
            raise InvalidSchedule(f"slots {', '.join(outside)} would lie outside the event")
        for name, value in changed.items():
            setattr(event, name, value)
        event.updated_at = utcnow()
        if "changeover_minutes" in changed:
            await recheck_event_bookings(session, event)
        view = await event_public(session, event, public_url)
        await record_change(
            session, event, "event.updated", {"details": view.model_dump(mode="json")}
        )
        return await event_public(session, event, public_url)

    return await db.write(work)


async def publish_event(db: Database, slug: str, public_url: str) -> EventPublic:
    return await _set_status(db, slug, "published", public_url)


async def unpublish_event(db: Database, slug: str, public_url: str) -> EventPublic:
    """Back to draft: the public no longer sees the event, its pages, feeds or stream."""
    return await _set_status(db, slug, "draft", public_url)


async def _set_status(db: Database, slug: str, status: str, public_url: str) -> EventPublic:
    async def work(session: AsyncSession) -> EventPublic:
        event = await get_event(session, slug, for_update=True)
        if event.status != status:
            event.status = status
            event.updated_at = utcnow()
            view = await event_public(session, event, public_url)
            await record_change(
                session, event, "event.updated", {"details": view.model_dump(mode="json")}
            )
        return await event_public(session, event, public_url)

    return await db.write(work)


async def delete_event(db: Database, slug: str) -> None:
    """Delete a draft with its channels, slots, bookings and change log; 409 once published.

    People booked into it are told ``booking.removed`` (``services/removal.py``).
    """

    async def work(session: AsyncSession) -> None:
        event = await get_event(session, slug, for_update=True)
        if event.status == "published":
            raise InvalidTransition(
                f"{event.title!r} is published: unpublish it before deleting it"
            )
        await remove_slots(session, event, await event_slots(session, event.id))
        await session.execute(delete(Change).where(col(Change.event_id) == event.id))
        await session.execute(delete(Channel).where(col(Channel.event_id) == event.id))
        await remove_event_webhooks(session, event.id)
        await session.delete(event)

    await db.write(work)


async def create_channel(db: Database, slug: str, data: ChannelCreate) -> ChannelPublic:
    async def work(session: AsyncSession) -> ChannelPublic:
        event = await get_event(session, slug, for_update=True)
        if any(channel.slug == data.slug for channel in await get_channels(session, event.id)):
            raise AlreadyExists(f"the event already has a channel {data.slug!r}")
        channels = await get_channels(session, event.id)
        channel = Channel(
            event_id=event.id,
            slug=data.slug,
            name=data.name,
            stream_url=data.stream_url,
            position=max((c.position for c in channels), default=-1) + 1,
        )
        session.add(channel)
        await session.flush()
        return channel_view(channel)

    return await db.write(work)


async def live_event_ids(db: Database) -> set[str]:
    """The events with a slot on air now (the host's list marks them)."""
    async with db.read() as session:
        query = select(Slot.event_id).where(Slot.status == "live").distinct()
        return set((await session.execute(query)).scalars())
