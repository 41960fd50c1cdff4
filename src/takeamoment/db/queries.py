"""Reads and locks the services share.

Lock order, to keep PostgreSQL free of deadlocks: the event row first (``FOR UPDATE`` to change
its schedule or log, ``FOR SHARE`` to book into it), then people by id. On
SQLite ``FOR UPDATE`` compiles to nothing; there ``BEGIN IMMEDIATE`` already serialises writers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import and_, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.events import Change, Channel, Event
from takeamoment.db.people import AvailabilityWindow, Person
from takeamoment.db.slots import ACTIVE_BOOKING_STATUSES, Booking, Slot
from takeamoment.domain.errors import NotFound
from takeamoment.domain.slot_states import OPEN_SLOT_STATUSES

# Ids bound in one ``IN (...)``: far below SQLite's and asyncpg's limits on parameters.
IN_CHUNK = 1000


def chunked(ids: Sequence[str], size: int = IN_CHUNK) -> Iterator[Sequence[str]]:
    """``ids`` in pieces small enough to bind in one ``IN (...)``."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


async def get_event(session: AsyncSession, slug: str, *, for_update: bool = False) -> Event:
    query = select(Event).where(Event.slug == slug)
    if for_update:
        query = query.with_for_update()
    event = (await session.execute(query)).scalar_one_or_none()
    if event is None:
        raise NotFound("event", slug)
    return event


async def get_event_by_id(
    session: AsyncSession, event_id: str, *, for_update: bool = False, for_share: bool = False
) -> Event:
    """The event; ``for_share`` lets many bookings run at once while no one moves its slots."""
    query = select(Event).where(Event.id == event_id)
    if for_update or for_share:
        query = query.with_for_update(read=for_share and not for_update)
    return (await session.execute(query)).scalar_one()


async def get_channels(session: AsyncSession, event_id: str) -> list[Channel]:
    query = (
        select(Channel)
        .where(Channel.event_id == event_id)
        .order_by(col(Channel.position), col(Channel.created_at), col(Channel.id))
    )
    return list((await session.execute(query)).scalars())


async def get_channel(session: AsyncSession, event_id: str, key: str) -> Channel:
    """A channel of the event, by slug or by id."""
    query = select(Channel).where(
        Channel.event_id == event_id, (Channel.slug == key) | (Channel.id == key)
    )
    channel = (await session.execute(query)).scalars().first()
    if channel is None:
        raise NotFound("channel", key)
    return channel


async def get_slot(session: AsyncSession, slot_id: str) -> Slot:
    slot = await session.get(Slot, slot_id)
    if slot is None:
        raise NotFound("slot", slot_id)
    return slot


async def get_person(session: AsyncSession, person_id: str, *, for_update: bool = False) -> Person:
    query = select(Person).where(Person.id == person_id)
    if for_update:
        query = query.with_for_update()
    person = (await session.execute(query)).scalar_one_or_none()
    if person is None:
        raise NotFound("person", person_id)
    return person


async def lock_people(session: AsyncSession, person_ids: Iterable[str]) -> None:
    """Hold the people's rows until commit, so their bookings cannot change under us."""
    ids = sorted(set(person_ids))
    if ids:
        query = select(Person.id).where(col(Person.id).in_(ids)).order_by(col(Person.id))
        await session.execute(query.with_for_update())


async def lock_events(session: AsyncSession, event_ids: Iterable[str]) -> dict[str, Event]:
    """The events, ``FOR UPDATE`` in id order (a writer that spans several takes them all)."""
    events: dict[str, Event] = {}
    for ids in chunked(sorted(set(event_ids))):
        query = select(Event).where(col(Event.id).in_(ids)).order_by(col(Event.id))
        events |= {e.id: e for e in (await session.execute(query.with_for_update())).scalars()}
    return events


async def get_booking(session: AsyncSession, booking_id: str) -> Booking:
    booking = await session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("booking", booking_id)
    return booking


async def channel_slots_between(
    session: AsyncSession, channel_id: str, starts_at: datetime, ends_at: datetime
) -> list[Slot]:
    """Non-cancelled slots of the channel that touch or overlap the given stretch."""
    query = select(Slot).where(
        Slot.channel_id == channel_id,
        Slot.status != "cancelled",
        col(Slot.starts_at) <= ends_at,
        col(Slot.ends_at) >= starts_at,
    )
    return list((await session.execute(query)).scalars())


async def channel_slots_from(session: AsyncSession, slot: Slot) -> list[Slot]:
    """The channel's other non-cancelled slots that start no earlier than ``slot``, in order."""
    query = (
        select(Slot)
        .where(
            Slot.channel_id == slot.channel_id,
            Slot.status != "cancelled",
            Slot.id != slot.id,
            col(Slot.starts_at) >= slot.starts_at,
        )
        .order_by(col(Slot.starts_at), col(Slot.id))
    )
    return list((await session.execute(query)).scalars())


async def live_slots(session: AsyncSession, channel_id: str) -> list[Slot]:
    """The slots of the channel that are on air now (one at most, when the rules held)."""
    query = select(Slot).where(Slot.channel_id == channel_id, Slot.status == "live")
    return list((await session.execute(query)).scalars())


async def previous_slot_end(session: AsyncSession, slot: Slot) -> datetime | None:
    """The latest end among the channel's other non-cancelled slots that start before ``slot``."""
    query = select(func.max(col(Slot.ends_at))).where(
        Slot.channel_id == slot.channel_id,
        Slot.status != "cancelled",
        Slot.id != slot.id,
        col(Slot.starts_at) < slot.starts_at,
    )
    latest: datetime | None = (await session.execute(query)).scalar_one_or_none()
    # SQLite's MAX() of a column hands back the stored (naive UTC) value, not the typed one.
    return latest.replace(tzinfo=UTC) if latest and latest.tzinfo is None else latest


async def slots_holding_channels(
    session: AsyncSession, channel_ids: Sequence[str], now: datetime
) -> list[Slot]:
    """Slots of the channels that are live, or scheduled with their start passed, by start."""
    if not channel_ids:
        return []
    query = (
        select(Slot)
        .where(
            col(Slot.channel_id).in_(channel_ids),
            or_(
                col(Slot.status) == "live",
                and_(col(Slot.status) == "scheduled", col(Slot.starts_at) <= now),
            ),
        )
        .order_by(col(Slot.starts_at), col(Slot.id))
    )
    return list((await session.execute(query)).scalars())


async def person_bookings_between(
    session: AsyncSession, person_id: str, starts_at: datetime, busy_until: datetime
) -> list[tuple[Booking, Slot]]:
    """The person's active bookings whose busy time meets ``[starts_at, busy_until]``."""
    query = (
        select(Booking, Slot)
        .join(Slot, col(Slot.id) == Booking.slot_id)
        .where(
            Booking.person_id == person_id,
            col(Booking.status).in_(ACTIVE_BOOKING_STATUSES),
            col(Booking.starts_at) <= busy_until,
            col(Booking.busy_until) >= starts_at,
        )
    )
    return [(b, s) for b, s in (await session.execute(query)).all()]


async def person_upcoming_bookings(session: AsyncSession, person_id: str) -> list[Slot]:
    """The slots of the person's active bookings that have not ended (scheduled or live)."""
    query = (
        select(Slot)
        .join(Booking, col(Slot.id) == Booking.slot_id)
        .where(
            Booking.person_id == person_id,
            col(Booking.status).in_(ACTIVE_BOOKING_STATUSES),
            col(Slot.status).in_(OPEN_SLOT_STATUSES),
        )
        .order_by(col(Slot.starts_at))
    )
    return list((await session.execute(query)).scalars().all())


async def availability_of(session: AsyncSession, person_id: str) -> list[AvailabilityWindow]:
    query = (
        select(AvailabilityWindow)
        .where(AvailabilityWindow.person_id == person_id)
        .order_by(col(AvailabilityWindow.starts_at))
    )
    return list((await session.execute(query)).scalars())


async def bookings_with_people(
    session: AsyncSession,
    slot_ids: Sequence[str],
    statuses: Sequence[str] = ACTIVE_BOOKING_STATUSES,
) -> dict[str, list[tuple[Booking, Person]]]:
    """Bookings in ``statuses`` (active by default) and their people, per slot, in booking order."""
    result: dict[str, list[tuple[Booking, Person]]] = {slot_id: [] for slot_id in slot_ids}
    if not slot_ids:
        return result
    query = (
        select(Booking, Person)
        .join(Person, col(Person.id) == Booking.person_id)
        .where(
            col(Booking.slot_id).in_(slot_ids),
            col(Booking.status).in_(statuses),
        )
        .order_by(col(Booking.created_at), col(Booking.id))
    )
    for booking, person in (await session.execute(query)).all():
        result[booking.slot_id].append((booking, person))
    return result


async def event_slots(session: AsyncSession, event_id: str) -> list[Slot]:
    query = (
        select(Slot).where(Slot.event_id == event_id).order_by(col(Slot.starts_at), col(Slot.id))
    )
    return list((await session.execute(query)).scalars())


async def next_seq(session: AsyncSession, event_id: str) -> int:
    """Take the event's next change number; the row stays locked until commit."""
    query = (
        update(Event)
        .where(col(Event.id) == event_id)
        .values(last_seq=col(Event.last_seq) + 1)
        .returning(col(Event.last_seq))
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(query)).scalar_one())


async def changes_since(
    session: AsyncSession, event_id: str, since: int, limit: int
) -> list[Change]:
    query = (
        select(Change)
        .where(Change.event_id == event_id, col(Change.seq) > since)
        .order_by(col(Change.seq))
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


# --- calendar feeds -----------------------------------------------------------------------------


async def find_person_by_feed_token_hash(session: AsyncSession, token_hash: str) -> Person | None:
    query = select(Person).where(Person.feed_token_hash == token_hash)
    return (await session.execute(query)).scalar_one_or_none()


async def person_feed_bookings(
    session: AsyncSession, person_id: str, statuses: Sequence[str]
) -> list[tuple[Booking, Slot, Event, Channel]]:
    """The person's bookings in these statuses with their slots, sorted by slot start."""
    query = (
        select(Booking, Slot, Event, Channel)
        .join(Slot, col(Slot.id) == Booking.slot_id)
        .join(Event, col(Event.id) == Slot.event_id)
        .join(Channel, col(Channel.id) == Slot.channel_id)
        .where(Booking.person_id == person_id, col(Booking.status).in_(statuses))
        .order_by(col(Slot.starts_at), col(Slot.id))
    )
    return [(b, s, e, c) for b, s, e, c in (await session.execute(query)).all()]


class PersonFeedVersion(NamedTuple):
    """A value that changes whenever anything the person's own feed shows may have changed.

    Every booking of theirs counts (a new one, or one that left the feed, moves the latest
    ``updated_at``); for those in the feed, so do their events' change seqs and their slots.
    """

    bookings: int
    bookings_changed_at: datetime | None
    shown: int
    events_seq_sum: int | None
    events_changed_at: datetime | None
    slots_changed_at: datetime | None


async def person_feed_version(
    session: AsyncSession, person_id: str, statuses: Sequence[str]
) -> PersonFeedVersion:
    bookings = select(func.count(col(Booking.id)), func.max(col(Booking.updated_at))).where(
        Booking.person_id == person_id
    )
    shown = (
        select(
            func.count(col(Booking.id)),
            func.sum(col(Event.last_seq)),
            func.max(col(Event.updated_at)),
            func.max(col(Slot.updated_at)),
        )
        .join(Slot, col(Slot.id) == Booking.slot_id)
        .join(Event, col(Event.id) == Slot.event_id)
        .where(Booking.person_id == person_id, col(Booking.status).in_(statuses))
    )
    count, changed_at = (await session.execute(bookings)).one()
    shown_count, seq_sum, events_at, slots_at = (await session.execute(shown)).one()
    return PersonFeedVersion(
        count,
        changed_at,
        shown_count,
        None if seq_sum is None else int(seq_sum),
        events_at,
        slots_at,
    )


async def slot_change_times(
    session: AsyncSession, event_ids: Sequence[str], slot_ids: Sequence[str]
) -> dict[str, datetime]:
    """When each slot last appeared in its event's change log (the slot, or who is on it)."""
    if not event_ids or not slot_ids:
        return {}
    slot_id = col(Change.payload)[("slot", "id")].as_string()
    query = (
        select(slot_id, func.max(col(Change.at)))
        .where(col(Change.event_id).in_(event_ids), slot_id.is_not(None))
        .group_by(slot_id)
    )
    wanted = set(slot_ids)
    return {key: at for key, at in (await session.execute(query)).all() if key in wanted}
