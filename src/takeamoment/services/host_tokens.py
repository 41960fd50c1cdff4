"""Listing and revoking bearer tokens, for the ``takeamoment token`` commands.

Nothing here ever returns a token or its hash: a listing names a token by its row id only. A
revoked token stops working at the next request, because every request (and every host-console
session cookie) reads the token's row again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.people import ApiToken, Host, Person
from takeamoment.db.types import utcnow
from takeamoment.domain.errors import NotFound
from takeamoment.services.tokens import hash_token


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenInfo:
    """What may be shown about a token: whose it is and whether it still works."""

    id: str
    role: str
    owner: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


async def _info(session: AsyncSession, row: ApiToken) -> TokenInfo:
    owner = "?"
    if row.host_id is not None and (host := await session.get(Host, row.host_id)) is not None:
        owner = host.name
    elif (
        row.person_id is not None
        and (person := await session.get(Person, row.person_id)) is not None
    ):
        owner = f"{person.name} (@{person.handle})"
    return TokenInfo(
        id=row.id,
        role=row.role,
        owner=owner,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


async def list_host_tokens(db: Database) -> list[TokenInfo]:
    """Every host token, oldest first, revoked ones included."""
    async with db.read() as session:
        query = (
            select(ApiToken, Host)
            .join(Host, col(ApiToken.host_id) == col(Host.id))
            .where(ApiToken.role == "host")
            .order_by(col(ApiToken.created_at), col(ApiToken.id))
        )
        rows = (await session.execute(query)).all()
    return [
        TokenInfo(
            id=token.id,
            role=token.role,
            owner=host.name,
            created_at=token.created_at,
            revoked_at=token.revoked_at,
        )
        for token, host in rows
    ]


async def token_id_of(db: Database, token: str) -> str | None:
    """The row id of a token given by its value, or None when no such token was ever issued."""
    async with db.read() as session:
        query = select(ApiToken.id).where(ApiToken.token_hash == hash_token(token))
        token_id: str | None = (await session.execute(query)).scalar_one_or_none()
    return token_id


async def revoke_token(db: Database, token_id: str) -> tuple[TokenInfo, bool]:
    """Revoke the token with this id; (its info, whether this call revoked it).

    Idempotent: revoking a revoked token keeps its first ``revoked_at`` and returns False.
    Raises NotFound for an id no token has.
    """

    async def work(session: AsyncSession) -> tuple[TokenInfo, bool]:
        row = await session.get(ApiToken, token_id)
        if row is None:
            raise NotFound("token", token_id)
        changed = row.revoked_at is None
        if changed:
            row.revoked_at = utcnow()
            session.add(row)
            await session.flush()
        return await _info(session, row), changed

    return await db.write(work)
