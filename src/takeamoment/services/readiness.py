"""What a host checks before each slot: who confirmed or declined, who was reminded, who is on.

Declined bookings are listed too (their people get no notices): a decline the host does not see
is a gap in the show they only find on air.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, func, select

from takeamoment.db.delivery import Delivery, PushSubscription
from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.notifications import Notification
from takeamoment.db.people import Person
from takeamoment.db.queries import bookings_with_people, event_slots, get_channels, get_event
from takeamoment.db.slots import ACTIVE_BOOKING_STATUSES, Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.reminders import notices_for, still_owed
from takeamoment.domain.slot_states import OPEN_SLOT_STATUSES, is_overdue
from takeamoment.services.views import PersonPublic, person_public

ConnectedLookup = Callable[[list[str]], Awaitable[set[str]]]


@runtime_checkable
class PresenceReader(Protocol):
    """The read side of presence, for the readiness route: ``realtime/presence.py`` answers it
    (across every process), and routes that are no WebSocket code need only this."""

    async def connected(self, person_ids: list[str]) -> set[str]:
        """Which of these people have ``/ws/me`` open on any process."""
        ...


class DeliveryState(SQLModel):
    """The last word on one notice on one channel, e.g. ``"email sent 10:15"``."""

    channel: str
    state: str  # pending, sending, sent, failed, gave_up
    attempts: int
    at: datetime
    error: str | None
    label: str


class NoticeState(SQLModel):
    kind: str
    minutes_before: int | None
    due_at: datetime
    state: Literal["pending", "sent", "missed"]
    deliveries: list[DeliveryState] = []


class PersonChannels(SQLModel):
    """Where a person's notices can reach them beyond ``/ws/me`` (``connected``)."""

    push: bool  # push on and at least one browser subscribed
    push_subscriptions: int
    email: bool  # email on, an address on file (and email set up on the server)
    email_enabled: bool


class PersonReadiness(SQLModel):
    person: PersonPublic
    booking_id: str
    booking_status: str
    connected: bool
    channels: PersonChannels
    notices: list[NoticeState]


class SlotReadiness(SQLModel):
    id: str
    channel: str
    title: str
    starts_at: datetime
    ends_at: datetime
    status: str
    people: list[PersonReadiness]
    actual_started_at: datetime | None = None
    overdue: bool = False


async def event_readiness(
    db: Database, slug: str, connected_lookup: ConnectedLookup
) -> list[SlotReadiness]:
    """Every upcoming or live slot of the event with its people's state, by start time."""
    async with db.read() as session:
        event = await get_event(session, slug)
        channels = {c.id: c.slug for c in await get_channels(session, event.id)}
        slots = [s for s in await event_slots(session, event.id) if s.status in OPEN_SLOT_STATUSES]
        bookings = await bookings_with_people(
            session, [s.id for s in slots], (*ACTIVE_BOOKING_STATUSES, "declined")
        )
        booking_ids = [b.id for rows in bookings.values() for b, _ in rows]
        query = select(Notification).where(col(Notification.booking_id).in_(booking_ids))
        recorded = {
            (n.booking_id, n.kind, n.due_at): n for n in (await session.execute(query)).scalars()
        }
        people = sorted({p.id for rows in bookings.values() for _, p in rows})
        subscriptions = await _subscription_counts(session, people)
        deliveries = await _deliveries(session, [n.id for n in recorded.values()])
    online = await connected_lookup(people)
    now = utcnow()
    zone = ZoneInfo(event.timezone)
    result = []
    for slot in slots:
        rows = []
        for booking, person in bookings[slot.id]:
            notices = (
                _notices(booking, slot, event, recorded, deliveries, zone)
                if booking.status == "confirmed"
                else []
            )
            rows.append(
                PersonReadiness(
                    person=person_public(person),
                    booking_id=booking.id,
                    booking_status=booking.status,
                    connected=person.id in online,
                    channels=_channels(person, subscriptions.get(person.id, 0)),
                    notices=notices,
                )
            )
        result.append(
            SlotReadiness(
                id=slot.id,
                channel=channels[slot.channel_id],
                title=slot.title,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                status=slot.status,
                people=rows,
                actual_started_at=slot.actual_started_at,
                overdue=is_overdue(slot.status, slot.starts_at, now),
            )
        )
    return result


def _notices(
    booking: Booking,
    slot: Slot,
    event: Event,
    recorded: dict[tuple[str | None, str, datetime], Notification],
    deliveries: dict[str, list[Delivery]],
    zone: ZoneInfo,
) -> list[NoticeState]:
    """The booking's notices and their state; a standby shows up once it was sent."""
    confirmed_at = booking.confirmed_at or booking.updated_at
    notices = []
    for notice in notices_for(slot.starts_at, event.reminder_minutes, confirmed_at):
        if notice.kind == "go_live" and (booking.id, "standby", notice.due_at) in recorded:
            standby = recorded[(booking.id, "standby", notice.due_at)]
            notices.append(
                NoticeState(
                    kind="standby",
                    minutes_before=None,
                    due_at=notice.due_at,
                    state="sent",
                    deliveries=[_delivery_state(d, zone) for d in deliveries.get(standby.id, [])],
                )
            )
        stored = recorded.get((booking.id, notice.kind, notice.due_at))
        if stored is None and not still_owed(notice, slot.status):
            continue  # never sent, and not owed any more: the slot is on air
        state: Literal["pending", "sent", "missed"] = (
            "pending" if stored is None else "missed" if stored.missed else "sent"
        )
        notices.append(
            NoticeState(
                kind=notice.kind,
                minutes_before=notice.minutes_before,
                due_at=notice.due_at,
                state=state,
                deliveries=[
                    _delivery_state(d, zone)
                    for d in (deliveries.get(stored.id, []) if stored else [])
                ],
            )
        )
    return notices


async def _subscription_counts(session: AsyncSession, people: Sequence[str]) -> dict[str, int]:
    if not people:
        return {}
    query = (
        select(PushSubscription.person_id, func.count())
        .where(col(PushSubscription.person_id).in_(people))
        .group_by(col(PushSubscription.person_id))
    )
    return {person_id: count for person_id, count in (await session.execute(query)).all()}


async def _deliveries(
    session: AsyncSession, notification_ids: Sequence[str]
) -> dict[str, list[Delivery]]:
    result: dict[str, list[Delivery]] = {}
    if not notification_ids:
        return result
    query = (
        select(Delivery)
        .where(col(Delivery.notification_id).in_(notification_ids))
        .order_by(col(Delivery.channel))
    )
    for delivery in (await session.execute(query)).scalars():
        result.setdefault(delivery.notification_id, []).append(delivery)
    return result


def _channels(person: Person, subscriptions: int) -> PersonChannels:
    return PersonChannels(
        push=person.push_enabled and subscriptions > 0,
        push_subscriptions=subscriptions,
        email=person.email_enabled and bool(person.email),
        email_enabled=person.email_enabled,
    )


def _delivery_state(delivery: Delivery, zone: ZoneInfo) -> DeliveryState:
    at = delivery.sent_at or delivery.updated_at
    if delivery.state == "sent":
        label = f"{delivery.channel} sent {at.astimezone(zone).strftime('%H:%M')}"
    elif delivery.state in ("failed", "gave_up"):
        verb = "failed" if delivery.state == "failed" else "gave up"
        why = (delivery.last_error or "").removeprefix(f"{delivery.channel} failed: ")
        label = f"{delivery.channel} {verb}: {why}" if why else f"{delivery.channel} {verb}"
    else:
        label = f"{delivery.channel} {delivery.state}"
    return DeliveryState(
        channel=delivery.channel,
        state=delivery.state,
        attempts=delivery.attempts,
        at=at,
        error=delivery.last_error,
        label=label,
    )
