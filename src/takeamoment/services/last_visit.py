"""What changed since a person last opened their page: the notices they have not seen there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.notifications import Notification
from takeamoment.db.people import Person
from takeamoment.db.queries import get_person
from takeamoment.services.notifications import notification_message

# A page lists this many at most; older unseen notices are counted, not listed.
MAX_LISTED = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class LastVisit:
    """The notices after the last visit, newest first; ``latest_seq`` is where a live stream of
    the person's notices goes on from."""

    notices: list[dict[str, Any]]
    unlisted: int
    latest_seq: int
    first_visit: bool


async def visit(db: Database, person_id: str) -> LastVisit:
    """The notices the person has not seen on their page, which count as seen from now on."""

    async def work(session: AsyncSession) -> LastVisit:
        person = await get_person(session, person_id)
        seen, latest = person.seen_notification_seq, person.last_notification_seq
        query = (
            select(Notification)
            .where(
                Notification.person_id == person_id,
                col(Notification.seq) > seen,
                col(Notification.seq) <= latest,
                col(Notification.missed).is_(False),
            )
            .order_by(col(Notification.seq).desc())
            .limit(MAX_LISTED)
        )
        notices = [notification_message(n) for n in (await session.execute(query)).scalars()]
        if latest > seen:  # never backwards: a slower request of an older visit loses
            await session.execute(
                update(Person)
                .where(col(Person.id) == person_id, col(Person.seen_notification_seq) < latest)
                .values(seen_notification_seq=latest)
            )
        return LastVisit(
            notices=notices,
            unlisted=max(0, latest - seen - len(notices)),
            latest_seq=latest,
            first_visit=seen == 0,
        )

    return await db.write(work)
