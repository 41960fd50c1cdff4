"""Followers' pushes as a work queue: the same claim, lease and record protocol as the
person deliveries (``queue.py``), on ``follow_delivery`` rows."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.follows import Follow, FollowDelivery, FollowNotice
from takeamoment.db.types import utcnow
from takeamoment.delivery.outcomes import outcome_update

DUE_STATES = ("pending", "failed", "sending")  # "sending" is due only once its lease ran out


@dataclass(slots=True)
class FollowJob:
    """One claimed push to one follower."""

    delivery: FollowDelivery
    notice: FollowNotice
    follow: Follow
    in_doubt: bool  # claimed before, and never recorded (see ``queue.Job``)


async def claim_follows(
    db: Database, limit: int, lease: timedelta, held: Collection[str] = ()
) -> list[FollowJob]:
    """Up to ``limit`` due follower pushes, claimed until the lease ends (one transaction);
    never one of ``held``, the rows this process claimed and has not recorded yet."""

    async def work(session: AsyncSession) -> list[FollowJob]:
        now = utcnow()
        due = (
            select(FollowDelivery.id, FollowDelivery.state)
            .where(
                col(FollowDelivery.state).in_(DUE_STATES),
                col(FollowDelivery.next_attempt_at) <= now,
                col(FollowDelivery.id).not_in(held) if held else true(),
            )
            .order_by(col(FollowDelivery.next_attempt_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        picked = {row.id: row.state for row in (await session.execute(due)).all()}
        if not picked:
            return []
        await session.execute(
            update(FollowDelivery)
            .where(col(FollowDelivery.id).in_(picked))
            .values(
                state="sending",
                attempts=col(FollowDelivery.attempts) + 1,
                next_attempt_at=now + lease,
                updated_at=now,
            )
        )
        query = (
            select(FollowDelivery, FollowNotice, Follow)
            .join(FollowNotice, col(FollowNotice.id) == FollowDelivery.notice_id)
            .join(Follow, col(Follow.id) == FollowDelivery.follow_id)
            .where(col(FollowDelivery.id).in_(picked))
            .execution_options(populate_existing=True)
        )
        return [
            FollowJob(delivery, notice, follow, picked[delivery.id] == "sending")
            for delivery, notice, follow in (await session.execute(query)).all()
        ]

    return await db.write(work)


RECORD_FOLLOWS = outcome_update(FollowDelivery.__table__)  # type: ignore[attr-defined]
