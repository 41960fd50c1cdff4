"""One snapshot per event and seq, shared by every viewer who connects while it is current.

Building a snapshot reads every slot and its people and renders them; when thousands of viewers
connect at once (the event starts, a link goes out) each would do that for the same seq. Every
change to a schedule moves the event's seq, so a snapshot taken at the current seq is still
exact: a viewer pays one small read of the seq and gets the shared one. Only the clock changes a
slot without a change: a scheduled slot becomes ``overdue`` once its start passes, so a snapshot
is kept until the next scheduled start it holds, no longer.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from takeamoment.db.engine import Database
from takeamoment.services.schedule import published_seq, snapshot_message

MAX_EVENTS = 64  # snapshots kept, newest used first; events beyond this are rebuilt on demand


class Snapshots:
    """This process's latest snapshot of each event; read-only for callers (it is shared)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._latest: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._stale_at: dict[str, datetime] = {}
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
        stale_at = self._stale_at.get(slug)
        if stale_at is not None and datetime.now(UTC) >= stale_at:
            return None
        self._latest.move_to_end(slug)
        return cached

    def _keep(self, slug: str, snapshot: dict[str, Any]) -> None:
        self._latest[slug] = snapshot
        self._latest.move_to_end(slug)
        self._stale_at.pop(slug, None)
        if (stale_at := _next_overdue(snapshot)) is not None:
            self._stale_at[slug] = stale_at
        while len(self._latest) > MAX_EVENTS:
            dropped, _ = self._latest.popitem(last=False)
            self._stale_at.pop(dropped, None)


def _next_overdue(snapshot: dict[str, Any]) -> datetime | None:
    """The first start among the snapshot's scheduled slots not yet overdue, if any."""
    starts = [
        datetime.fromisoformat(slot["starts_at"])
        for slot in snapshot["slots"]
        if slot["status"] == "scheduled" and not slot.get("overdue")
    ]
    return min(starts, default=None)
