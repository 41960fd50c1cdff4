"""The delivery rows as a work queue: claim a batch, record what became of each.

A claim is one write transaction: due rows are picked with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (so processes claiming at once get disjoint batches and never wait on each other; on
SQLite, ``BEGIN IMMEDIATE`` makes claims take turns), marked ``sending`` with ``attempts + 1`` and
a lease (``next_attempt_at`` = now + lease), and committed before anything is sent. Outcomes are
recorded in batches, each only if the row is still under the same claim (``attempts`` and state
unchanged), so a process that outlived its lease cannot overwrite a newer claim's result.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.delivery import Delivery, PushSubscription
from takeamoment.db.engine import Database
from takeamoment.db.follows import Follow
from takeamoment.db.notifications import Notification
from takeamoment.db.people import Person
from takeamoment.db.types import utcnow
from takeamoment.delivery.follow_queue import RECORD_FOLLOWS
from takeamoment.delivery.outcomes import outcome_update

DUE_STATES = ("pending", "failed", "sending")  # "sending" is due only once its lease ran out


@dataclass(slots=True)
class Job:
    """One claimed delivery, with what sending it needs."""

    delivery: Delivery
    notification: Notification
    person: Person
    subscriptions: list[PushSubscription]
    # The row was "sending" when claimed: an earlier claim ended without a recorded outcome.
    in_doubt: bool


@dataclass(slots=True)
class Outcome:
    delivery_id: str
    attempts: int  # the claim's, to record only under that claim
    state: str  # sent, failed or gave_up
    next_attempt_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None
    done: list[str] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)  # push subscriptions to drop (404/410)
    follow: bool = False  # a follower's push (``follow_queue.py``): forget names follows


async def claim(
    db: Database,
    limits: Mapping[str, int],
    lease: timedelta,
    held: Collection[str] = (),
) -> list[Job]:
    """Due deliveries, up to ``limits[channel]`` of each channel, claimed until the lease ends.

    Per channel, so a slow channel (an SMTP server taking its time) never fills the worker's
    room and holds the other channel's rows back. ``held`` are rows this process claimed and
    has not recorded yet: one still waiting its turn when its lease runs out is not claimed a
    second time by the process that holds it (it would be sent twice).
    """

    async def work(session: AsyncSession) -> list[Job]:
        now = utcnow()
        picked: dict[str, str] = {}
        for channel, limit in limits.items():
            if limit <= 0:
                continue
            due = (
                select(Delivery.id, Delivery.state)
                .where(
                    col(Delivery.state).in_(DUE_STATES),
                    col(Delivery.next_attempt_at) <= now,
                    Delivery.channel == channel,
                    col(Delivery.id).not_in(held) if held else true(),
                )
                .order_by(col(Delivery.next_attempt_at))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            picked |= {row.id: row.state for row in (await session.execute(due)).all()}
        if not picked:
            return []
        await session.execute(
            update(Delivery)
            .where(col(Delivery.id).in_(picked))
            .values(
                state="sending",
                attempts=col(Delivery.attempts) + 1,
                next_attempt_at=now + lease,
                updated_at=now,
            )
        )
        return await _jobs(session, picked)

    return await db.write(work)


async def _jobs(session: AsyncSession, picked: dict[str, str]) -> list[Job]:
    query = (
        select(Delivery, Notification, Person)
        .join(Notification, col(Notification.id) == Delivery.notification_id)
        .join(Person, col(Person.id) == Delivery.person_id)
        .where(col(Delivery.id).in_(picked))
        .execution_options(populate_existing=True)
    )
    rows = (await session.execute(query)).all()
    pushed = {d.person_id for d, _, _ in rows if d.channel == "push"}
    subscriptions: dict[str, list[PushSubscription]] = {}
    if pushed:
        subs = select(PushSubscription).where(col(PushSubscription.person_id).in_(pushed))
        for sub in (await session.execute(subs)).scalars():
            subscriptions.setdefault(sub.person_id, []).append(sub)
    return [
        Job(
            delivery=delivery,
            notification=notification,
            person=person,
            subscriptions=subscriptions.get(person.id, []),
            in_doubt=picked[delivery.id] == "sending",
        )
        for delivery, notification, person in rows
    ]


_RECORD = outcome_update(Delivery.__table__, "done")  # type: ignore[attr-defined]


async def record(db: Database, outcomes: Sequence[Outcome]) -> None:
    """Write a batch of outcomes in one transaction, and forget the dead subscriptions."""
    if not outcomes:
        return

    async def work(session: AsyncSession) -> None:
        now = utcnow()
        params = [
            {
                "b_id": o.delivery_id,
                "b_attempts": o.attempts,
                "b_state": o.state,
                "b_next": o.next_attempt_at,
                "b_error": (o.last_error or None) and o.last_error[:500],
                "b_sent_at": o.sent_at,
                "b_done": o.done,
                "b_now": now,
            }
            for o in outcomes
            if not o.follow
        ]
        if params:
            await session.execute(_RECORD, params)
        followed = [
            {
                "b_id": o.delivery_id,
                "b_attempts": o.attempts,
                "b_state": o.state,
                "b_next": o.next_attempt_at,
                "b_error": (o.last_error or None) and o.last_error[:500],
                "b_sent_at": o.sent_at,
                "b_now": now,
            }
            for o in outcomes
            if o.follow
        ]
        if followed:
            await session.execute(RECORD_FOLLOWS, followed)
        gone = sorted({sub for o in outcomes if not o.follow for sub in o.forget})
        if gone:
            await session.execute(
                delete(PushSubscription).where(col(PushSubscription.id).in_(gone))
            )
        unfollowed = sorted({f for o in outcomes if o.follow for f in o.forget})
        if unfollowed:  # their deliveries go with them
            await session.execute(delete(Follow).where(col(Follow.id).in_(unfollowed)))

    await db.write(work)
