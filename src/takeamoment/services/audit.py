"""Reading the audit log: an event's entries, or every entry, oldest first, a page at a time.

Entries are ordered by ``(at, id)``; ``after`` is the id of the last entry a reader has seen, and
``since`` skips entries before a moment. How entries are written: ``db/audit_capture.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from takeamoment.db.audit import AuditEntry
from takeamoment.db.engine import Database
from takeamoment.db.queries import get_event
from takeamoment.domain.errors import NotFound

DEFAULT_PAGE = 100
MAX_PAGE = 500


class AuditActor(SQLModel):
    """Who acted: a host, a creator or therapist (``id`` is theirs), or ``cli``."""

    role: str
    id: str | None
    name: str | None
    token_id: str | None


class AuditChange(SQLModel):
    """One row the action created, updated or deleted.

    ``before``/``after`` hold only the changed columns of an update, every column of a created or
    deleted row; secrets are never shown: ``redacted`` names the secret columns that changed.
    """

    entity: str
    id: str
    op: Literal["created", "updated", "deleted"]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    redacted: list[str]


class AuditEntryPublic(SQLModel):
    id: str
    at: datetime
    actor: AuditActor
    action: str
    event_id: str | None
    target: str | None
    changes: list[AuditChange]


def _public(entry: AuditEntry) -> AuditEntryPublic:
    actor = AuditActor(
        role=entry.actor_role, id=entry.actor_id, name=entry.actor_name, token_id=entry.token_id
    )
    changes = [AuditChange.model_validate(change) for change in entry.changes]
    return AuditEntryPublic(
        id=entry.id,
        at=entry.at,
        actor=actor,
        action=entry.action,
        event_id=entry.event_id,
        target=entry.target,
        changes=changes,
    )


async def _page(
    session: AsyncSession,
    *,
    event_id: str | None,
    after: str | None,
    since: datetime | None,
    limit: int,
) -> list[AuditEntryPublic]:
    query = select(AuditEntry)
    if event_id is not None:
        query = query.where(AuditEntry.event_id == event_id)
    if since is not None:
        query = query.where(col(AuditEntry.at) >= since)
    if after is not None:
        last = await session.get(AuditEntry, after)
        if last is None:
            raise NotFound("audit entry", after)
        query = query.where(
            or_(
                col(AuditEntry.at) > last.at,
                and_(col(AuditEntry.at) == last.at, col(AuditEntry.id) > last.id),
            )
        )
    query = query.order_by(col(AuditEntry.at), col(AuditEntry.id)).limit(limit)
    return [_public(entry) for entry in (await session.execute(query)).scalars()]


async def event_audit(
    db: Database,
    slug: str,
    *,
    after: str | None = None,
    since: datetime | None = None,
    limit: int = DEFAULT_PAGE,
) -> list[AuditEntryPublic]:
    """The event's audit entries after the entry ``after`` (and from ``since``), oldest first."""
    async with db.read() as session:
        event = await get_event(session, slug)
        return await _page(session, event_id=event.id, after=after, since=since, limit=limit)


async def all_audit(
    db: Database,
    *,
    after: str | None = None,
    since: datetime | None = None,
    limit: int = DEFAULT_PAGE,
) -> list[AuditEntryPublic]:
    """Every audit entry (of every event, and of actions on no event), oldest first."""
    async with db.read() as session:
        return await _page(session, event_id=None, after=after, since=since, limit=limit)
