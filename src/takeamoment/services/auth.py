"""Who is calling: bearer tokens resolved to a principal, and the host tokens the CLI issues."""

from __future__ import annotations

import hmac
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.people import ApiToken, Host
from takeamoment.domain.errors import Forbidden
from takeamoment.services.tokens import hash_token, new_token

Role = Literal["host", "creator", "therapist"]

# Ids per ``IN (...)`` of a batched look-up: well under SQLite's and asyncpg's parameter limits.
IN_CHUNK = 500

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    role: Role
    token_id: str
    host_id: str | None = None
    person_id: str | None = None

    @property
    def is_host(self) -> bool:
        return self.role == "host"

    def ensure_host_or(self, person_id: str) -> None:
        """Raise Forbidden unless the caller is a host or is that person."""
        if not self.is_host and self.person_id != person_id:
            raise Forbidden("only a host or the person themselves may do this")


async def authenticate(db: Database, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None for an unknown or revoked token."""
    token_hash = hash_token(token)
    async with db.read() as session:
        query = select(ApiToken).where(ApiToken.token_hash == token_hash)
        row = (await session.execute(query)).scalar_one_or_none()
    # The lookup compares SHA-256 digests, never the secret itself, so its timing tells an
    # attacker nothing about the token. The explicit constant-time check states that promise
    # and keeps it even if the lookup ever changes (say, to a prefix index).
    if row is None or not hmac.compare_digest(row.token_hash, token_hash):
        return None
    if not is_live(row):
        return None
    return Principal(
        role=role_of(row.role), token_id=row.id, host_id=row.host_id, person_id=row.person_id
    )


async def live_token_ids(db: Database, token_ids: Collection[str]) -> set[str]:
    """Those of ``token_ids`` that still stand (:func:`is_live`), in one query.

    Open streams re-check their tokens together (``realtime/standing.py``): one query for a
    process's thousands of streams, not one each.
    """
    live: set[str] = set()
    if not token_ids:
        return live
    async with db.read() as session:
        for chunk in chunked(sorted(token_ids)):
            query = select(ApiToken).where(col(ApiToken.id).in_(chunk))
            live.update(row.id for row in (await session.execute(query)).scalars() if is_live(row))
    return live


def chunked(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def is_live(token: ApiToken | None) -> bool:
    """A token still stands for someone: it exists and was not revoked (sessions opened with it
    end with it, ``services/sessions.py``)."""
    return token is not None and token.revoked_at is None


def role_of(stored: str) -> Role:
    """The role a stored row names; anything else is the least: a creator."""
    return "host" if stored == "host" else ("therapist" if stored == "therapist" else "creator")


async def issue_host_token(db: Database, name: str) -> str:
    """Create a host named ``name`` and return its bearer token (shown once, stored hashed)."""
    token = new_token()

    async def work(session: AsyncSession) -> None:
        host = Host(name=name)
        session.add(host)
        await session.flush()
        session.add(ApiToken(token_hash=hash_token(token), role="host", host_id=host.id))

    await db.write(work)
    return token
