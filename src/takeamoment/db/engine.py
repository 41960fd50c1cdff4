"""The async engine and its transactions.

``Database.write`` runs one use case in one transaction and retries it when the database asks for
a retry (PostgreSQL serialization failures and deadlocks). On SQLite every write transaction
starts with ``BEGIN IMMEDIATE`` so check-then-write sequences are serialised instead of failing
with ``SQLITE_BUSY`` halfway; reads use a second engine with plain deferred ``BEGIN``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from takeamoment.db.audit_capture import AuditedSession
from takeamoment.domain.errors import Conflict, ConflictKind, SchedulingConflict

T = TypeVar("T")

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 5


OUTBOX_KEY = "takeamoment_outbox"


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message to publish once the transaction that made it has committed."""

    topic: str
    message: dict[str, Any]


def publish_after_commit(session: AsyncSession, topic: str, message: dict[str, Any]) -> None:
    """Queue ``message`` on ``topic``; ``Database.write`` hands it on after a successful commit."""
    session.info.setdefault(OUTBOX_KEY, []).append(Outbound(topic, message))


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE of a database error raised through SQLAlchemy, if the driver gives one."""
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def constraint_of(error: BaseException) -> str | None:
    """The name of the violated constraint, when the driver reports it (asyncpg does)."""
    orig = getattr(error, "orig", None)
    cause = getattr(orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None)
    return name if isinstance(name, str) else None


# The database's own backstops for the overlap rules (PostgreSQL exclusion constraints).
_CONSTRAINT_CONFLICTS: dict[str, ConflictKind] = {
    "ex_slot_channel_overlap": "channel_overlap",
    "ex_booking_person_overlap": "person_overlap",
}


def _as_conflict(error: IntegrityError) -> Exception:
    """An exclusion violation as the scheduling conflict it is; any other error unchanged."""
    kind = _CONSTRAINT_CONFLICTS.get(constraint_of(error) or "")
    if sqlstate_of(error) != "23P01" or kind is None:
        return error
    message = "another request booked that time first"
    return SchedulingConflict([Conflict(kind=kind, message=message)])


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and sqlstate_of(error) in RETRYABLE_SQLSTATES


def _make_engine(url: str, *, sqlite_begin: str | None) -> AsyncEngine:
    if not url.startswith("sqlite"):
        # pool_pre_ping replaces connections that died with a database restart; the connect
        # timeout bounds how long a request waits on a database that does not answer at all.
        return create_async_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            connect_args={"timeout": PG_CONNECT_TIMEOUT_S},
        )
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so our BEGIN is the one that runs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL still survives an application crash; only a power cut may lose the
        # last commits. One fsync per checkpoint instead of per commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(f"BEGIN {sqlite_begin}" if sqlite_begin else "BEGIN")

    return engine


class Database:
    """The application's handle on its store: one engine for writes, one for reads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.write_engine = _make_engine(url, sqlite_begin="IMMEDIATE")
        self.read_engine = (
            _make_engine(url, sqlite_begin=None) if self.is_sqlite else self.write_engine
        )
        # Write sessions add an audit entry to every transaction made for a bound actor.
        self._write_sessions = async_sessionmaker(
            self.write_engine, expire_on_commit=False, sync_session_class=AuditedSession
        )
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._sqlite_writer = asyncio.Lock() if self.is_sqlite else None
        # Deployment facts a write transaction may need (the public URL for the links in
        # notices, which channels exist): each write session starts with a copy in its ``info``.
        self.session_info: dict[str, Any] = {}
        # Set by the app: where committed changes go (the real-time bus). Never called before
        # the commit, so nobody hears of a change that was rolled back.
        self.after_commit: Callable[[list[Outbound]], Awaitable[None]] | None = None

    async def _deliver(self, outbox: list[Outbound]) -> None:
        if outbox and self.after_commit is not None:
            await self.after_commit(outbox)

    @asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        """On SQLite, queue this process's writers fairly instead of letting them poll the lock.

        SQLite admits one writer at a time anyway; waiting in ``BEGIN IMMEDIATE``'s busy handler
        means sleeping and retrying, which gives some requests a tail of seconds under load.
        """
        if self._sqlite_writer is None:
            yield
            return
        async with self._sqlite_writer:
            yield

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction, committed on success, retried when asked to."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(8),
            wait=wait_random_exponential(multiplier=0.01, max=0.5),
            reraise=True,
        ):
            with attempt:
                try:
                    async with (
                        self._write_turn(),
                        self._write_sessions(info=dict(self.session_info)) as session,
                    ):
                        async with session.begin():
                            result = await work(session)
                        await self._deliver(session.info.get(OUTBOX_KEY, []))
                        return result
                except IntegrityError as error:
                    raise _as_conflict(error) from error
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads, in one transaction.

        On SQLite (WAL, deferred ``BEGIN``) it sees one snapshot, taken at its first read. On
        PostgreSQL (READ COMMITTED) each statement sees what was committed when it began, so two
        statements may see different states: what must agree is read in one statement, or under
        a lock in a write transaction.
        """
        async with self._read_sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Raise unless the database answers."""
        async with self.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
