"""Whether the credentials of this process's open ``/ws/me`` streams still stand.

A token may be revoked, or a page's session ended, in another process (``takeamoment token
revoke``, signing out through another replica), so open streams are not told: they ask the
database again every ``ws_reauth_seconds``. Asked one stream at a time, 20,000 streams made
about 670 reads a second and ran the connection pool dry. Here a process keeps its open streams
by credential and asks once per interval for all of them (a few chunked ``IN (...)`` queries),
then ends the streams whose credential no longer stands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator

from takeamoment.db.engine import Database
from takeamoment.services.auth import live_token_ids
from takeamoment.services.sessions import open_session_ids

logger = logging.getLogger(__name__)

STOP_GRACE_S = 5.0  # how long stopping waits for a round under way


class Standing:
    """Open streams by the token or session they were opened with, re-checked together."""

    def __init__(self, db: Database, every_seconds: float) -> None:
        self.db = db
        self.every_seconds = every_seconds
        # Each open stream is an event, set once its credential no longer stands.
        self._by_token: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._by_session: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._round: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def watch(self, *, session_id: str | None, token_id: str) -> Iterator[asyncio.Event]:
        """Watch one stream's credential while the block runs: its page session if it was
        opened with one (which ends with its token too), else its token. The event is set once
        the credential no longer stands."""
        by, key = (self._by_session, session_id) if session_id else (self._by_token, token_id)
        revoked = asyncio.Event()
        by[key].add(revoked)
        try:
            yield revoked
        finally:
            streams = by.get(key)
            if streams is not None:
                streams.discard(revoked)
                if not streams:
                    del by[key]

    def count(self) -> int:
        """Open streams watched here."""
        return sum(map(len, self._by_token.values())) + sum(map(len, self._by_session.values()))

    async def check(self) -> None:
        """One round: ask about every watched credential at once; end the streams of those that
        no longer stand. If the database is away, every stream is kept until the next round."""
        tokens, sessions = list(self._by_token), list(self._by_session)
        try:
            live_tokens = await live_token_ids(self.db, tokens)
            open_sessions = await open_session_ids(self.db, sessions)
        except Exception:
            logger.warning("could not re-check the /ws/me credentials; keeping the streams")
            return
        _end(self._by_token, set(tokens) - live_tokens)
        _end(self._by_session, set(sessions) - open_sessions)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="takeamoment-ws-standing")

    async def stop(self) -> None:
        """Stop the rounds; one under way finishes first (within a grace): cancelled while
        aiosqlite opens its connection, it would leave a reply for a loop that may be closed by
        then (``ReminderScheduler.stop``)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._round is not None:
            await asyncio.wait([self._round], timeout=STOP_GRACE_S)
            self._round.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._round
            self._round = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_seconds)
            # Shielded: stopping cancels this loop, never a round under way (``stop`` awaits it).
            self._round = asyncio.create_task(self.check(), name="takeamoment-ws-standing-round")
            await asyncio.shield(self._round)


def _end(by: defaultdict[str, set[asyncio.Event]], gone: set[str]) -> None:
    for key in gone:
        for revoked in by.get(key, ()):
            revoked.set()
