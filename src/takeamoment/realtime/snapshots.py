"""One snapshot per event and seq, shared by every viewer who connects while it is current.

Building a snapshot reads every slot and its people and renders them; when thousands of viewers
connect at once (the event starts, a link goes out) each would do that for the same seq. Every
change to a schedule moves the event's seq, so a snapshot taken at the current seq is still
exact: a viewer pays one small read of the seq and gets the shared one.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from takeamoment.db.engine import Database
from takeamoment.services.schedule import published_seq, snapshot_message

MAX_EVENTS = 64  # snapshots kept, newest used first; events beyond this are rebuilt on demand


class Snapshots:
    """This process's latest snapshot of each event; read-only for callers (it is shared)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._latest: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._building: dict[str, asyncio.Lock] = {}

    async def current(self, slug: str) -> dict[str, Any]:
        """The snapshot at the event's current seq; NotFound unless it is published."""
        seq = await published_seq(self.db, slug)
        if (cached := self._fresh(slug, seq)) is not None:
            return cached
        # Viewers arriving together wait for one build rather than each doing their own.
        lock = self._building.setdefault(slug, asyncio.Lock())
        async with lock:
            if (cached := self._fresh(slug, seq)) is not None:
                return cached
            snapshot = await snapshot_message(self.db, slug)
            self._keep(slug, snapshot)
        if not lock.locked():
            self._building.pop(slug, None)
        return snapshot

    def _fresh(self, slug: str, seq: int) -> dict[str, Any] | None:
        cached = self._latest.get(slug)
        if cached is None or cached["seq"] < seq:
            return None
        self._latest.move_to_end(slug)
        return cached

    def _keep(self, slug: str, snapshot: dict[str, Any]) -> None:
        self._latest[slug] = snapshot
        self._latest.move_to_end(slug)
        while len(self._latest) > MAX_EVENTS:
            self._latest.popitem(last=False)
