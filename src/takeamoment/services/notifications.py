"""Notifications to people: written in the transaction that causes them, delivered after commit.

Each is a row unique per (booking, kind, due time) and numbered per person, so a person who
reconnects with ``since`` gets exactly what they missed, and one fired twice exists once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database, publish_after_commit
from takeamoment.db.notifications import Notification
from takeamoment.db.people import Person
from takeamoment.db.types import utcnow
from takeamoment.domain.errors import Forbidden
from takeamoment.services.outbox import on_notice

MAX_NOTIFICATIONS_PER_PAGE = 1000


def person_topic(person_id: str) -> str:
    return f"person:{person_id}"


def notification_message(notification: Notification) -> dict[str, Any]:
    """A notification as the person receives it, on ``/ws/me`` and ``/api/me/notifications``."""
    return {
        **notification.payload,
        "type": "notification",
        "id": notification.id,
        "seq": notification.seq,
        "kind": notification.kind,
        "booking_id": notification.booking_id,
        "at": notification.created_at.isoformat(),
        "due_at": notification.due_at.isoformat(),
    }


async def notify(
    session: AsyncSession,
    *,
    person_id: str,
    booking_id: str,
    slot: dict[str, Any],
    kind: str,
    due_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
    missed: bool = False,
) -> Notification | None:
    """Store a notification for the person unless that (booking, kind, due time) exists.

    Locks the person's row: callers that notify several people lock them first, in id order
    (``db.queries.lock_people``). Returns None when it was already there. A ``missed`` notice is
    only recorded (for the host): it takes no seq and is never sent.
    """
    due = due_at or utcnow()
    person = (
        await session.execute(select(Person).where(Person.id == person_id).with_for_update())
    ).scalar_one()
    exists = select(Notification.id).where(
        Notification.booking_id == booking_id, Notification.kind == kind, Notification.due_at == due
    )
    if (await session.execute(exists)).first():
        return None
    if not missed:
        person.last_notification_seq += 1
    notification = Notification(
        person_id=person_id,
        seq=None if missed else person.last_notification_seq,
        missed=missed,
        booking_id=booking_id,
        slot_id=slot["id"],
        kind=kind,
        due_at=due,
        payload={"slot": slot, "event": slot.get("event"), **(extra or {})},
    )
    session.add(notification)
    if not missed:
        await on_notice(session, notification, person)  # words, and a delivery row per channel
        publish_after_commit(session, person_topic(person_id), notification_message(notification))
    return notification


async def latest_notification(db: Database, person_id: str) -> dict[str, Any] | None:
    """The person's newest delivered notification, or None when they have none."""
    async with db.read() as session:
        query = (
            select(Notification)
            .where(Notification.person_id == person_id, col(Notification.missed).is_(False))
            .order_by(col(Notification.seq).desc())
            .limit(1)
        )
        latest = (await session.execute(query)).scalar_one_or_none()
    return notification_message(latest) if latest is not None else None


async def notifications_since(
    db: Database, person_id: str | None, since: int
) -> list[dict[str, Any]]:
    """The person's notifications after ``since``, oldest first (at most a page)."""
    if person_id is None:
        raise Forbidden("notifications belong to creators and therapists")
    async with db.read() as session:
        query = (
            select(Notification)
            .where(
                Notification.person_id == person_id,
                col(Notification.seq) > since,
                col(Notification.missed).is_(False),
            )
            .order_by(col(Notification.seq))
            .limit(MAX_NOTIFICATIONS_PER_PAGE)
        )
        return [notification_message(n) for n in (await session.execute(query)).scalars()]
