"""One snapshot per event and seq, encoded once and shared by every viewer who connects while it
is current; the current seq itself read at most about once a second per event.

Building a snapshot reads every slot and its people and renders them; when thousands of viewers
connect at once (the event starts, a link goes out) each would do that for the same seq. Every
change to a schedule moves the event's seq, so a snapshot taken at the current seq is still
exact, and its JSON is the same bytes for everyone: it is encoded once. Only the clock changes a
slot without a change: a scheduled slot becomes ``overdue`` once its start passes, so a snapshot
is kept until the next scheduled start it holds, no longer.

Even the small read of the seq was most of the cost of an arrival storm (aiosqlite runs each
query on its own thread: 10,000 viewers, 10,000 reads). So a seq the database confirmed is
trusted a while (``services/versions.py``: about a second, and not a moment after a change of
the event is heard). A viewer always subscribes before it asks (``ws.py``), so a change
committed meanwhile, here or in another process, reaches it after the snapshot and nothing is
skipped; the trust only bounds how long a change that never reached this process's bus (Redis
dropped it) can go unseen by a new viewer, as it already goes unseen by the viewers connected
here until the next change fills the hole.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import UTC, datetime

from takeamoment.db.engine import Database
from takeamoment.realtime.hub import Outgoing
from takeamoment.services.schedule import next_overdue_at, published_seq, snapshot_message
from takeamoment.services.versions import KnownVersions

MAX_EVENTS = 64  # snapshots kept, newest used first; events beyond this are rebuilt on demand


class Snapshots:
    """This process's latest snapshot of each event, encoded; read-only for callers (shared)."""

    def __init__(self, db: Database, known: KnownVersions | None = None) -> None:
        self.db = db
        # Register ``self.known.heard`` where changes are heard (the plugin does).
        self.known = known or KnownVersions()
        self._latest: OrderedDict[str, Outgoing] = OrderedDict()
        # When a kept snapshot's next scheduled slot becomes overdue, and the snapshot stale.
        self._stale_at: dict[str, datetime] = {}
        self._building: dict[str, asyncio.Lock] = {}
        self._seq_reads: dict[str, asyncio.Future[int]] = {}
        self.seq_reads = 0  # reads of the seq made (tests and benchmarks look)

    async def current(self, slug: str) -> Outgoing:
        """The snapshot at the event's current seq; NotFound unless it is published."""
        cached = self._latest.get(slug)
        if (
            cached is not None
            and not self._stale(slug)
            and self.known.trusted((slug, "snapshot")) == cached.seq
        ):
            self._latest.move_to_end(slug)
            return cached
        asking = self.known.ask(slug)
        seq = await self._read_seq(slug)
        snapshot = await self._at_least(slug, seq)
        if snapshot.seq == seq:
            self.known.confirm((slug, "snapshot"), asking, seq)
        return snapshot

    async def _read_seq(self, slug: str) -> int:
        """The event's seq from the database; viewers asking together share one read."""
        reading = self._seq_reads.get(slug)
        if reading is None:
            reading = asyncio.ensure_future(self._count_read(slug))
            self._seq_reads[slug] = reading
            reading.add_done_callback(lambda done: self._read_done(slug, done))
        return await asyncio.shield(reading)

    def _read_done(self, slug: str, done: asyncio.Future[int]) -> None:
        self._seq_reads.pop(slug, None)
        if not done.cancelled():
            done.exception()  # retrieved here too, in case every viewer waiting on it left

    async def _count_read(self, slug: str) -> int:
        self.seq_reads += 1
        return await published_seq(self.db, slug)

    async def _at_least(self, slug: str, seq: int) -> Outgoing:
        if (cached := self._fresh(slug, seq)) is not None:
            return cached
        # Viewers arriving together wait for one build rather than each doing their own.
        lock = self._building.setdefault(slug, asyncio.Lock())
        async with lock:
            if (cached := self._fresh(slug, seq)) is not None:
                return cached
            message = await snapshot_message(self.db, slug)
            snapshot = Outgoing.of(message)
            self._keep(slug, snapshot, next_overdue_at(message["slots"]))
        if not lock.locked():
            self._building.pop(slug, None)
        return snapshot

    def _fresh(self, slug: str, seq: int) -> Outgoing | None:
        cached = self._latest.get(slug)
        if cached is None or cached.seq < seq or self._stale(slug):
            return None
        self._latest.move_to_end(slug)
        return cached

    def _stale(self, slug: str) -> bool:
        stale_at = self._stale_at.get(slug)
        return stale_at is not None and datetime.now(UTC) >= stale_at

    def _keep(self, slug: str, snapshot: Outgoing, stale_at: datetime | None) -> None:
        self._latest[slug] = snapshot
        self._latest.move_to_end(slug)
        self._stale_at.pop(slug, None)
        if stale_at is not None:
            self._stale_at[slug] = stale_at
        while len(self._latest) > MAX_EVENTS:
            dropped, _ = self._latest.popitem(last=False)
            self._stale_at.pop(dropped, None)
