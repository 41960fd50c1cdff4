"""The outbox: a notice's words, and one delivery row per channel, written in its transaction.

``on_notices`` is what ``notify_many()`` calls for the notices it stores to be sent. It puts the
notice in words (``title``, ``body``, ``url``) into the stored payload, so the stream, the push
notification and the email say the same thing, and it answers a ``Delivery`` row for each channel
the person has beyond the stream (``push``, ``email``), which ``notify_many()`` inserts right
after the notices. The rows are the whole interface to the
delivery worker (``takeamoment.delivery``), which sends them after commit: this layer never
imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.delivery import Delivery, PushSubscription
from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.notifications import Notification
from takeamoment.db.people import Person
from takeamoment.db.queries import chunked
from takeamoment.db.types import new_id
from takeamoment.services.notice_words import notice_path, words_for
from takeamoment.urls import absolute

CHANNELS = ("push", "email")
PUBLIC_URL_KEY = "takeamoment_public_url"
EMAIL_ON_KEY = "takeamoment_email_on"
ZONES_KEY = "takeamoment_event_zones"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"

# What is worth an email: every kind but the later reminders (the first one is enough).
EMAIL_KINDS = frozenset(
    {
        "booking.invited",
        "reminder",
        "go_live",
        "standby",
        "schedule.changed",
        "slot.cancelled",
        "booking.removed",
    }
)


def configure(db: Database, *, public_url: str, email: bool) -> None:
    """Tell ``db``'s write transactions the public URL and whether email is set up."""
    db.session_info[PUBLIC_URL_KEY] = public_url.rstrip("/")
    db.session_info[EMAIL_ON_KEY] = email


async def on_notices(
    session: AsyncSession, notices: Sequence[tuple[Notification, Person]]
) -> list[dict[str, Any]]:
    """Put each notice in words; answers its ``Delivery`` rows, one per channel (see module),
    for the caller to insert right after the notices, in their transaction.

    What the channels depend on (who has a push subscription, which bookings were already
    emailed a reminder) is read once for the whole batch, not once per notice.
    """
    rows: list[dict[str, Any]] = []
    if not notices:
        return rows
    public_url = session.info.get(PUBLIC_URL_KEY, DEFAULT_PUBLIC_URL)
    pushable = await _pushable(session, {p.id for _, p in notices if p.push_enabled})
    emailed = await _emailed_reminders(session, notices)
    for notification, person in notices:
        payload = notification.payload
        zone = person.timezone or await _event_zone(session, payload) or "UTC"
        words = words_for(notification.kind, payload, zone)
        notification.payload = {
            **payload,
            "title": words.title,
            "body": words.body,
            "url": absolute(public_url, notice_path(notification.kind, payload)),
        }
        channels = ["push"] if person.id in pushable else []
        if _worth_an_email(session, notification, person, emailed):
            channels.append("email")
            if notification.kind == "reminder":
                emailed.add(notification.booking_id)  # the first reminder is enough
        rows += (
            {
                "id": new_id(),
                "notification_id": notification.id,
                "person_id": person.id,
                "channel": channel,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": notification.created_at,
                "done": [],
                "created_at": notification.created_at,
                "updated_at": notification.created_at,
            }
            for channel in channels
        )
    return rows


async def _event_zone(session: AsyncSession, payload: Mapping[str, Any]) -> str | None:
    """The event's zone, read once per transaction (cancelling a slot tells everyone on it)."""
    slug = payload.get("event")
    if not isinstance(slug, str):
        return None
    zones: dict[str, str | None] = session.info.setdefault(ZONES_KEY, {})
    if slug not in zones:
        query = select(Event.timezone).where(Event.slug == slug)
        zones[slug] = (await session.execute(query)).scalar_one_or_none()
    return zones[slug]


async def _pushable(session: AsyncSession, person_ids: set[str]) -> set[str]:
    """Those of the people with at least one push subscription."""
    found: set[str] = set()
    for ids in chunked(sorted(person_ids)):
        query = select(PushSubscription.person_id).where(col(PushSubscription.person_id).in_(ids))
        found |= set((await session.execute(query.distinct())).scalars())
    return found


def _worth_an_email(
    session: AsyncSession, notification: Notification, person: Person, emailed: set[str | None]
) -> bool:
    return bool(
        session.info.get(EMAIL_ON_KEY)
        and person.email
        and person.email_enabled
        and notification.kind in EMAIL_KINDS
        and not (notification.kind == "reminder" and notification.booking_id in emailed)
    )


async def _emailed_reminders(
    session: AsyncSession, notices: Sequence[tuple[Notification, Person]]
) -> set[str | None]:
    """The bookings among these reminders' that were already emailed a reminder."""
    if not session.info.get(EMAIL_ON_KEY):
        return set()
    booking_ids = sorted(
        {n.booking_id for n, _ in notices if n.kind == "reminder" and n.booking_id}
    )
    found: set[str | None] = set()
    for ids in chunked(booking_ids):
        query = (
            select(Notification.booking_id)
            .join(Delivery, col(Notification.id) == Delivery.notification_id)
            .where(
                col(Notification.booking_id).in_(ids),
                Notification.kind == "reminder",
                Delivery.channel == "email",
            )
        )
        found |= set((await session.execute(query.distinct())).scalars())
    return found
