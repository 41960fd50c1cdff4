"""The outbox: a notice's words, and one delivery row per channel, written in its transaction.

``on_notice`` is what ``notify()`` calls for every notice it stores to be sent. It puts the
notice in words (``title``, ``body``, ``url``) into the stored payload, so the stream, the push
notification and the email say the same thing, and it adds a ``Delivery`` row for each channel
the person has beyond the stream (``push``, ``email``). The rows are the whole interface to the
delivery worker (``takeamoment.delivery``), which sends them after commit: this layer never
imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.delivery import Delivery, PushSubscription
from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.notifications import Notification
from takeamoment.db.people import Person
from takeamoment.services.notice_words import notice_path, words_for

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


def public_link(public_url: str, path: str) -> str:
    """Every link in a notice or an email is built here: the public URL and a path."""
    return f"{public_url.rstrip('/')}{path}"


async def on_notice(session: AsyncSession, notification: Notification, person: Person) -> None:
    """Put the notice in words and queue it on each of the person's channels (see module)."""
    payload = notification.payload
    zone = person.timezone or await _event_zone(session, payload) or "UTC"
    words = words_for(notification.kind, payload, zone)
    public_url = session.info.get(PUBLIC_URL_KEY, DEFAULT_PUBLIC_URL)
    notification.payload = {
        **payload,
        "title": words.title,
        "body": words.body,
        "url": public_link(public_url, notice_path(notification.kind, payload)),
    }
    for channel in await _channels(session, notification, person):
        session.add(
            Delivery(
                notification_id=notification.id,
                person_id=person.id,
                channel=channel,
                next_attempt_at=notification.created_at,
            )
        )


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


async def _channels(session: AsyncSession, notification: Notification, person: Person) -> list[str]:
    channels = []
    if person.push_enabled:
        query = select(PushSubscription.id).where(PushSubscription.person_id == person.id)
        if (await session.execute(query.limit(1))).first():
            channels.append("push")
    if (
        session.info.get(EMAIL_ON_KEY)
        and person.email
        and person.email_enabled
        and notification.kind in EMAIL_KINDS
        and not await _later_reminder(session, notification)
    ):
        channels.append("email")
    return channels


async def _later_reminder(session: AsyncSession, notification: Notification) -> bool:
    """True for a reminder when one of this booking was already emailed."""
    if notification.kind != "reminder":
        return False
    query = (
        select(Delivery.id)
        .join(Notification, col(Notification.id) == Delivery.notification_id)
        .where(
            Notification.booking_id == notification.booking_id,
            Notification.kind == "reminder",
            Delivery.channel == "email",
        )
        .limit(1)
    )
    return (await session.execute(query)).first() is not None
