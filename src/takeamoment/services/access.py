"""Getting a creator or therapist back in: a fresh token, or a one-time sign-in link.

A new token ends every earlier one of the person. An access link is valid for
``ACCESS_LINK_TTL`` and for one use; only the SHA-256 of its token is stored. The page that
redeems it (``/me/access/<token>``, ``web/me.py``) opens a browser session for the person with
``sign_in_with_access_link``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from takeamoment.db.delivery import AccessLink
from takeamoment.db.engine import Database
from takeamoment.db.queries import get_person
from takeamoment.db.types import utcnow
from takeamoment.services.auth import Principal, Role
from takeamoment.services.sessions import OpenedSession, add_session
from takeamoment.services.tokens import hash_token, new_token
from takeamoment.urls import absolute, access_link

ACCESS_LINK_TTL = timedelta(hours=24)
ACCESS_LINK_PREFIX = "tama_"  # noqa: S105 - a prefix, not a secret


class AccessLinkRefused(Exception):
    """The link is unknown, used or expired; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"this sign-in link is {reason}")


class AccessLinkView(SQLModel):
    url: str
    expires_at: datetime


async def create_access_link(db: Database, person_id: str, public_url: str) -> AccessLinkView:
    """A one-time link to ``/me`` for the person, valid for a day."""
    token = new_token(ACCESS_LINK_PREFIX)

    async def work(session: AsyncSession) -> datetime:
        await get_person(session, person_id)
        link = AccessLink(
            person_id=person_id,
            token_hash=hash_token(token),
            expires_at=utcnow() + ACCESS_LINK_TTL,
        )
        session.add(link)
        return link.expires_at

    expires_at = await db.write(work)
    return AccessLinkView(url=absolute(public_url, access_link(token)), expires_at=expires_at)


async def redeem_access_link(db: Database, token: str) -> str:
    """The person the link signs in, marking it used; AccessLinkRefused if it cannot be used."""

    async def work(session: AsyncSession) -> str:
        return await _redeem(session, token)

    return await db.write(work)


async def sign_in_with_access_link(
    db: Database, token: str, lifetime: timedelta, replacing: str | None
) -> OpenedSession:
    """Use the link up and open a browser session for its person, in one transaction: a
    session that failed to open leaves the link unused. Ends ``replacing`` (the browser's
    previous session, a host's too). AccessLinkRefused if the link cannot be used."""

    async def work(session: AsyncSession) -> OpenedSession:
        person = await get_person(session, await _redeem(session, token))
        role: Role = "therapist" if person.role == "therapist" else "creator"
        principal = Principal(role=role, token_id="", person_id=person.id)
        return await add_session(session, principal, lifetime, replacing)

    return await db.write(work)


async def _redeem(session: AsyncSession, token: str) -> str:
    """The conditional update is the single use: of two redeems at once, one finds it unused."""
    token_hash, now = hash_token(token), utcnow()
    used = await session.execute(
        update(AccessLink)
        .where(
            col(AccessLink.token_hash) == token_hash,
            col(AccessLink.used_at).is_(None),
            col(AccessLink.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(AccessLink.person_id))
    )
    person_id = used.scalar_one_or_none()
    if person_id is not None:
        return str(person_id)
    raise _refusal(await _link(session, token_hash), now)


async def access_link_holder(db: Database, token: str) -> str:
    """The name of the person the link would sign in, using nothing up; AccessLinkRefused if
    it cannot be used. The page a link opens asks first: mail scanners open every link."""
    async with db.read() as session:
        link = await _link(session, hash_token(token))
        if link is None or link.used_at is not None or link.expires_at <= utcnow():
            raise _refusal(link, utcnow())
        person = await get_person(session, link.person_id)
        return person.name


async def _link(session: AsyncSession, token_hash: str) -> AccessLink | None:
    query = select(AccessLink).where(AccessLink.token_hash == token_hash)
    return (await session.execute(query)).scalar_one_or_none()


def _refusal(link: AccessLink | None, now: datetime) -> AccessLinkRefused:
    if link is None:
        return AccessLinkRefused("unknown")
    if link.used_at is not None:
        return AccessLinkRefused("already used")
    # Unused and in date, yet not redeemed: another redeem took it a moment ago.
    return AccessLinkRefused("expired" if link.expires_at <= now else "already used")
