"""What this process may take as an event's current version without asking the database.

Reads that thousands of clients repeat (a viewer's first snapshot, the public schedule, an
event's calendar) each began with a small read of the event's version, and with SQLite every
read is a hop to aiosqlite's thread: in an arrival storm that read was most of the cost. So a
value the database confirmed is trusted for ``trust_s`` seconds, unless the process hears of a
change of that event first (``heard``: every change committed here, at commit, and every one the
bus brings from other processes), which ends the trust at once. What a trusted value can miss is
a change that never reached this process (the bus dropped it) or was never published, and only
for ``trust_s``. A change heard while the database was being asked confirms nothing
(``ask``/``confirm``), so a read that raced a change is never trusted.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

DEFAULT_TRUST_S = 1.0
MAX_KEYS = 4096  # values kept; a filter from a query string must not grow this without end
EVENT_TOPIC_PREFIX = "event:"


@dataclass(frozen=True, slots=True)
class Asking:
    """Taken before reading the database; ``confirm`` uses it to see whether a change came."""

    slug: str
    heard: int
    at: float


class KnownVersions:
    """Confirmed values per key (the key's first item is the event's slug), trusted a while."""

    def __init__(self, trust_s: float = DEFAULT_TRUST_S) -> None:
        self.trust_s = trust_s
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._keys_of: dict[str, set[Hashable]] = {}
        self._heard: dict[str, int] = {}

    def heard(self, topic: str, message: Any = None) -> None:
        """A change of ``topic``'s event happened or reached this process: trust nothing of it."""
        if not topic.startswith(EVENT_TOPIC_PREFIX):
            return
        slug = topic.removeprefix(EVENT_TOPIC_PREFIX)
        self._heard[slug] = self._heard.get(slug, 0) + 1
        for key in self._keys_of.pop(slug, ()):
            self._values.pop(key, None)

    def trusted(self, key: tuple[Any, ...]) -> Any:
        """The value confirmed for ``key`` if it is still trusted, else None."""
        known = self._values.get(key)
        if known is None:
            return None
        if time.monotonic() - known[0] >= self.trust_s:
            self._forget(key)
            return None
        return known[1]

    def ask(self, slug: str) -> Asking:
        """Call before reading the database for something of event ``slug``."""
        return Asking(slug, self._heard.get(slug, 0), time.monotonic())

    def confirm(self, key: tuple[Any, ...], asking: Asking, value: Any) -> None:
        """The database said ``value`` for ``key`` (read after ``asking``): trust it, unless a
        change of the event was heard since."""
        if self._heard.get(asking.slug, 0) != asking.heard:
            return
        self._values.pop(key, None)  # re-inserted last: the oldest go first below
        self._values[key] = (asking.at, value)
        self._keys_of.setdefault(asking.slug, set()).add(key)
        while len(self._values) > MAX_KEYS:
            self._forget(next(iter(self._values)))

    def _forget(self, key: Any) -> None:
        self._values.pop(key, None)
        keys = self._keys_of.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_of[key[0]]
