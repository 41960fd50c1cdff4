"""The change log: each schedule change is a row with the event's next seq, in its transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.engine import Database, publish_after_commit
from takeamoment.db.events import Change, Event
from takeamoment.db.queries import changes_since, get_event, next_seq
from takeamoment.db.types import utcnow
from takeamoment.domain.errors import NotFound
from takeamoment.services.auth import Principal
from takeamoment.services.views import change_message
from takeamoment.services.visibility import visible_event
from takeamoment.services.webhooks import queue_change

MAX_CHANGES_PER_PAGE = 1000
MAX_SEQ = 2**31 - 1  # seq is a 32-bit integer column


async def record_change(
    session: AsyncSession, event: Event, change_type: str, body: dict[str, Any]
) -> Change:
    """Append a change to the event's log; ``body`` must already be JSON-ready."""
    seq = await next_seq(session, event.id)
    event.last_seq = seq
    change = Change(event_id=event.id, seq=seq, type=change_type, at=utcnow(), payload=body)
    session.add(change)
    message = change_message(change, event.slug)
    await queue_change(session, event, change, message)  # the same JSON, to every webhook
    publish_after_commit(session, event_topic(event.slug), message)
    return change


def event_topic(slug: str) -> str:
    return f"event:{slug}"


async def list_changes(
    db: Database, slug: str, since: int, principal: Principal | None
) -> list[dict[str, Any]]:
    """The event's changes after ``since``, oldest first (at most a page of them)."""
    async with db.read() as session:
        event = await visible_event(session, slug, principal)
        changes = await changes_since(session, event.id, since, MAX_CHANGES_PER_PAGE)
        return [change_message(change, event.slug) for change in changes]


async def latest_change(db: Database, slug: str) -> dict[str, Any] | None:
    """The event's newest change message, or None when it has none (or no longer exists)."""
    async with db.read() as session:
        try:
            event = await get_event(session, slug)
        except NotFound:
            return None
        changes = await changes_since(session, event.id, event.last_seq - 1, 1)
        return change_message(changes[0], event.slug) if changes else None


async def changes_after(
    db: Database, slug: str, since: int, page: int = MAX_CHANGES_PER_PAGE
) -> list[dict[str, Any]]:
    """A page of the event's changes after ``since`` (for streams that already checked access)."""
    async with db.read() as session:
        event = await get_event(session, slug)
        changes = await changes_since(session, event.id, since, page)
        return [change_message(change, event.slug) for change in changes]
