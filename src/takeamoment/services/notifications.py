"""Notifications to people: written in the transaction that causes them, delivered after commit.

Each is a row unique per (booking, kind, due time) and numbered per person, so a person who
reconnects with ``since`` gets exactly what they missed, and one fired twice exists once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from takeamoment.db.delivery import Delivery
from takeamoment.db.engine import Database, publish_after_commit
from takeamoment.db.notifications import Notification
from takeamoment.db.people import Person
from takeamoment.db.queries import chunked
from takeamoment.db.types import new_id, utcnow
from takeamoment.domain.errors import Forbidden
from takeamoment.services.outbox import on_notices

MAX_NOTIFICATIONS_PER_PAGE = 1000
NOTIFICATION_COLUMNS = tuple(Notification.__table__.columns.keys())  # type: ignore[attr-defined]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeDraft:
    """A notification to store for a person, unless its (booking, kind, due time) exists."""

    person_id: str
    booking_id: str
    slot: dict[str, Any]
    kind: str
    due_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)
    # Too late to be worth sending: recorded for the host, takes no seq, never sent.
    missed: bool = False

    @property
    def key(self) -> tuple[str, str, datetime]:
        return (self.booking_id, self.kind, self.due_at)


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
    """Store one notification (``notify_many``); None when it was already there."""
    draft = NoticeDraft(
        person_id=person_id,
        booking_id=booking_id,
        slot=slot,
        kind=kind,
        due_at=due_at or utcnow(),
        extra=extra or {},
        missed=missed,
    )
    return (await notify_many(session, [draft]))[0]


async def notify_many(
    session: AsyncSession, drafts: Sequence[NoticeDraft]
) -> list[Notification | None]:
    """Store each draft unless its (booking, kind, due time) exists; answers them in order.

    Locks the people's rows (in id order, as every writer does: callers that lock others first
    go through ``db.queries.lock_people``), numbers each person's notices on from their last seq,
    and queues every stored one for its channels and for ``/ws/me`` after commit. However many
    drafts, it reads and writes in a fixed number of statements: a burst of reminders due at one
    instant is one pass, not one round of queries per notice. A ``missed`` draft is only recorded.
    """
    if not drafts:
        return []
    people = await _locked_people(session, {d.person_id for d in drafts})
    told = await recorded_keys(session, {d.booking_id for d in drafts})
    now = utcnow()
    seqs = {person_id: person.last_notification_seq for person_id, person in people.items()}
    stored: list[Notification | None] = []
    for draft in drafts:
        if draft.key in told:
            stored.append(None)
            continue
        told.add(draft.key)
        if not draft.missed:
            seqs[draft.person_id] += 1
        stored.append(
            Notification(
                # Given, not left to the default factories: asking pydantic for those costs
                # more than the rest of a notice (measured with py-spy on a burst of 5,000).
                id=new_id(),
                created_at=now,
                person_id=draft.person_id,
                seq=None if draft.missed else seqs[draft.person_id],
                missed=draft.missed,
                booking_id=draft.booking_id,
                slot_id=draft.slot["id"],
                kind=draft.kind,
                due_at=draft.due_at,
                payload={"slot": draft.slot, "event": draft.slot.get("event"), **draft.extra},
            )
        )
    new = [n for n in stored if n is not None]
    if not new:
        return stored
    sent = [(n, people[n.person_id]) for n in new if not n.missed]
    deliveries = await on_notices(session, sent)  # words, and a delivery row per channel
    # Core executemany, not the ORM's unit of work: its bookkeeping per object cost more than
    # the database's work in a burst (py-spy); neither table is audited (``audit_capture``).
    await session.execute(insert(Notification.__table__), [_row(n) for n in new])  # type: ignore[attr-defined]
    if deliveries:
        await session.execute(insert(Delivery.__table__), deliveries)  # type: ignore[attr-defined]
    await _store_seqs(session, people, seqs)
    for notification, _ in sent:
        publish_after_commit(
            session, person_topic(notification.person_id), notification_message(notification)
        )
    return stored


def _row(notification: Notification) -> dict[str, Any]:
    return {column: getattr(notification, column) for column in NOTIFICATION_COLUMNS}


async def _store_seqs(
    session: AsyncSession, people: dict[str, Person], seqs: dict[str, int]
) -> None:
    """Each person's last seq, in one executemany; the loaded rows are told (not dirtied)."""
    changed: list[dict[str, Any]] = [
        {"person": person_id, "seq": seq}
        for person_id, seq in seqs.items()
        if seq != people[person_id].last_notification_seq
    ]
    if not changed:
        return
    table = Person.__table__  # type: ignore[attr-defined]
    query = (
        update(table)
        .where(table.c.id == bindparam("person"))
        .values(last_notification_seq=bindparam("seq"))
    )
    await session.execute(query, changed)
    for item in changed:
        set_committed_value(people[item["person"]], "last_notification_seq", item["seq"])


async def _locked_people(session: AsyncSession, person_ids: Iterable[str]) -> dict[str, Person]:
    people: dict[str, Person] = {}
    for ids in chunked(sorted(person_ids)):
        query = (
            select(Person)
            .where(col(Person.id).in_(ids))
            .order_by(col(Person.id))
            .with_for_update()
            # The locked row's seq, not one loaded earlier in this transaction.
            .execution_options(populate_existing=True)
        )
        people |= {p.id: p for p in (await session.execute(query)).scalars()}
    return people


async def recorded_keys(
    session: AsyncSession, booking_ids: Iterable[str]
) -> set[tuple[str, str, datetime]]:
    """The (booking, kind, due time) of every notification of these bookings."""
    keys: set[tuple[str, str, datetime]] = set()
    for ids in chunked(sorted(booking_ids)):
        query = select(Notification.booking_id, Notification.kind, Notification.due_at).where(
            col(Notification.booking_id).in_(ids)
        )
        keys |= {(b, k, d) for b, k, d in (await session.execute(query)).all() if b is not None}
    return keys


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
