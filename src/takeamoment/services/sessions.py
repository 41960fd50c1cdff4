"""Browser sessions kept on the server: opened at sign-in, ended at sign-out, read per request.

A session cookie only names a row of ``auth_session`` (``connection/session.py`` signs the
name); the row decides. So signing out ends the session for every copy of the cookie, an expired
or ended session names nobody, and revoking the token a session was opened with ends it too (the
token's row is read with it, and ``services/auth.py``'s ``is_live`` judges it). Sessions are not
the console's alone: a row stands for a host or a person.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.people import ApiToken, AuthSession
from takeamoment.db.types import utcnow
from takeamoment.services.auth import Principal, chunked, is_live, role_of

# Ended or expired rows are kept this long (for a look in the database), then swept away.
_KEEP_ENDED = timedelta(days=7)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedSession:
    id: str
    expires_at: datetime


async def open_session(
    db: Database, principal: Principal, lifetime: timedelta, replacing: str | None = None
) -> OpenedSession:
    """A new session for ``principal``, valid for ``lifetime``; ends ``replacing`` (the
    browser's previous session, if it had one), so a sign-in never leaves the old one open."""

    async def work(session: AsyncSession) -> OpenedSession:
        return await add_session(session, principal, lifetime, replacing)

    return await db.write(work)


async def add_session(
    session: AsyncSession, principal: Principal, lifetime: timedelta, replacing: str | None
) -> OpenedSession:
    """:func:`open_session` in the caller's transaction (a sign-in that also uses something up)."""
    now = utcnow()
    if replacing is not None:
        await _end(session, replacing, now)
    await session.execute(
        delete(AuthSession).where(col(AuthSession.expires_at) < now - _KEEP_ENDED)
    )
    row = AuthSession(
        role=principal.role,
        token_id=principal.token_id or None,  # a sign-in link opens one without a token
        host_id=principal.host_id,
        person_id=principal.person_id,
        expires_at=now + lifetime,
    )
    session.add(row)
    await session.flush()
    return OpenedSession(id=row.id, expires_at=row.expires_at)


async def end_session(db: Database, session_id: str) -> None:
    """End the session (signing out); ending an ended or unknown session changes nothing."""

    async def work(session: AsyncSession) -> None:
        await _end(session, session_id, utcnow())

    await db.write(work)


async def end_person_sessions(session: AsyncSession, person_id: str) -> None:
    """End every open session of the person (their credentials were replaced), in the
    caller's transaction."""
    await session.execute(
        update(AuthSession)
        .where(col(AuthSession.person_id) == person_id, col(AuthSession.ended_at).is_(None))
        .values(ended_at=utcnow())
    )


async def _end(session: AsyncSession, session_id: str, now: datetime) -> None:
    row = await session.get(AuthSession, session_id)
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.add(row)
        await session.flush()


async def session_principal(db: Database, session_id: str) -> Principal | None:
    """Who an open session stands for; None once it ended, expired or lost its token."""
    async with db.read() as session:
        query = (
            select(AuthSession, ApiToken)
            .outerjoin(ApiToken, col(ApiToken.id) == col(AuthSession.token_id))
            .where(AuthSession.id == session_id)
        )
        found = (await session.execute(query)).first()
    if found is None:
        return None
    row, token = found
    if not _stands(row, token, utcnow()):
        return None
    return Principal(
        role=role_of(row.role),
        token_id=row.token_id or "",
        host_id=row.host_id,
        person_id=row.person_id,
    )


async def open_session_ids(db: Database, session_ids: Collection[str]) -> set[str]:
    """Those of ``session_ids`` that still stand for someone (as :func:`session_principal`
    judges), in one query per chunk: open streams re-check their sessions together."""
    standing: set[str] = set()
    if not session_ids:
        return standing
    now = utcnow()
    async with db.read() as session:
        for chunk in chunked(sorted(session_ids)):
            query = (
                select(AuthSession, ApiToken)
                .outerjoin(ApiToken, col(ApiToken.id) == col(AuthSession.token_id))
                .where(col(AuthSession.id).in_(chunk))
            )
            rows = (await session.execute(query)).all()
            standing.update(row.id for row, token in rows if _stands(row, token, now))
    return standing


def _stands(row: AuthSession, token: ApiToken | None, now: datetime) -> bool:
    """Not ended, not expired, and the token it was opened with (if any) not revoked."""
    if row.ended_at is not None or row.expires_at <= now:
        return False
    return row.token_id is None or is_live(token)
