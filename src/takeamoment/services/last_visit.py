"""What changed since a person's last visit to their own page: the notices after it.

A visit is page views less than ``VISIT_GAP`` apart (as forums count them): the answer to an
invitation reloads the page, and must not make the news it came with old. The first view after
a longer gap starts a new visit, listing what came after everything the last one showed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.notifications import Notification
from takeamoment.db.queries import get_person
from takeamoment.db.types import utcnow
from takeamoment.services.notifications import notification_message

VISIT_GAP = timedelta(minutes=30)
# A page lists this many at most; older news is counted, not listed.
MAX_LISTED = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class LastVisit:
    """The notices of this visit, newest first; ``latest_seq`` is where a live stream of the
    person's notices goes on from."""

    notices: list[dict[str, Any]]
    unlisted: int
    latest_seq: int
    first_visit: bool


async def visit(db: Database, person_id: str) -> LastVisit:
    """A view of the person's page: the notices since their last visit, now seen."""

    async def work(session: AsyncSession) -> LastVisit:
        person = await get_person(session, person_id, for_update=True)
        now, latest = utcnow(), person.last_notification_seq
        if person.page_seen_at is None or now - person.page_seen_at > VISIT_GAP:
            person.visit_from_seq = person.seen_notification_seq
        query = (
            select(Notification)
            .where(
                Notification.person_id == person_id,
                col(Notification.seq) > person.visit_from_seq,
                col(Notification.seq) <= latest,
                col(Notification.missed).is_(False),
            )
            .order_by(col(Notification.seq).desc())
            .limit(MAX_LISTED)
        )
        notices = [notification_message(n) for n in (await session.execute(query)).scalars()]
        first_visit = person.page_seen_at is None
        person.seen_notification_seq, person.page_seen_at = latest, now
        return LastVisit(
            notices=notices,
            unlisted=max(0, latest - person.visit_from_seq - len(notices)),
            latest_seq=latest,
            first_visit=first_visit,
        )

    return await db.write(work)
