"""Who may see an event: anyone once it is published, hosts while it is still a draft.

To anyone else a draft does not exist: it is the same 404 as a slug nobody ever used, so reads,
feeds, streams and follows never tell a draft from nothing.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.events import Event
from takeamoment.db.queries import get_event
from takeamoment.domain.errors import NotFound
from takeamoment.services.auth import Principal

PUBLISHED = "published"


def sees_drafts(principal: Principal | None) -> bool:
    """Hosts see drafts; creators, therapists and anonymous viewers see published events only."""
    return principal is not None and principal.is_host


def check_visible(event: Event, *, drafts: bool, hidden: NotFound | None = None) -> Event:
    """The event if it is published (or a draft and ``drafts``), else ``hidden``: by default
    NotFound for the event; a read of something inside it says what was asked for instead."""
    if event.status != PUBLISHED and not drafts:
        raise hidden or NotFound("event", event.slug)
    return event


async def visible_event(
    session: AsyncSession, slug: str, principal: Principal | None = None
) -> Event:
    """The event as ``principal`` (None: the public) may see it; NotFound otherwise."""
    return check_visible(await get_event(session, slug), drafts=sees_drafts(principal))
