"""Rendered feeds kept in memory, one version per feed, so a repeated fetch never re-renders.

A feed is named by its identity (which event or person, which filter) and stamped with a version
(the event's change ``seq``, or a summary of a person's bookings). Only the latest rendered version
of each feed is kept, least recently used feeds leave first once there are too many or they hold
too many bytes, and concurrent misses for one version share a single render.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from takeamoment import metrics
from takeamoment.calendar.conditional import http_date

DEFAULT_MAX_FEEDS = 256
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
RawHeaders = tuple[tuple[bytes, bytes], ...]
# Calendar text compresses about 15-fold at 6; higher levels gain little for much more time.
GZIP_LEVEL = 6


@dataclass(frozen=True, slots=True)
class RenderedFeed:
    """A feed's bytes, plain and gzipped, with the validators HTTP needs for each.

    Each ETag is strong and from the bytes it names; gzip runs with a fixed mtime, so every
    process writes the same compressed bytes (and ETag) for the same feed.
    """

    body: bytes
    etag: str
    last_modified: datetime
    filename: str
    gzipped: bytes
    gzip_etag: str
    # The response headers that depend only on these bytes, encoded once: a cached feed is
    # answered many times a second, and building them per answer was most of its cost.
    plain_headers: RawHeaders
    gzip_headers: RawHeaders

    @classmethod
    def of(cls, body: bytes, last_modified: datetime, filename: str) -> RenderedFeed:
        gzipped = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        etag, gzip_etag = _etag(body), _etag(gzipped)
        common = [
            (b"last-modified", http_date(last_modified).encode()),
            (b"vary", b"Accept-Encoding"),
            (b"content-disposition", f'inline; filename="{filename}"'.encode()),
        ]
        plain = ((b"etag", etag.encode()), *common)
        zipped = ((b"etag", gzip_etag.encode()), *common, (b"content-encoding", b"gzip"))
        return cls(body, etag, last_modified, filename, gzipped, gzip_etag, plain, zipped)

    @property
    def size(self) -> int:
        """Bytes held in memory for this feed."""
        return len(self.body) + len(self.gzipped)


def _etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


# What a build returns: the version it actually read (it may be newer than the one asked for)
# and the feed rendered from it.
Built = tuple[Hashable, RenderedFeed]


@dataclass(frozen=True, slots=True)
class _Entry:
    version: Hashable
    feed: RenderedFeed


class FeedCache:
    """A bounded LRU of rendered feeds keyed by identity, valid for one version each."""

    def __init__(
        self, max_feeds: int = DEFAULT_MAX_FEEDS, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.max_feeds = max_feeds
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._bytes = 0
        self._building: dict[tuple[Hashable, Hashable], asyncio.Task[Built]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def get(self, identity: Hashable, version: Hashable) -> RenderedFeed | None:
        """The cached feed if it was rendered from exactly this version."""
        entry = self._entries.get(identity)
        if entry is None or entry.version != version:
            return None
        self._entries.move_to_end(identity)
        metrics.feed_cache_hit()
        return entry.feed

    def put(self, identity: Hashable, version: Hashable, feed: RenderedFeed) -> None:
        """Keep ``feed`` as this identity's only version, then evict down to the bounds."""
        self._drop(identity)
        self._entries[identity] = _Entry(version, feed)
        self._bytes += feed.size
        while self._entries and (
            len(self._entries) > self.max_feeds or self._bytes > self.max_bytes
        ):
            self._drop(next(iter(self._entries)))

    async def get_or_build(
        self,
        identity: Hashable,
        version: Hashable,
        build: Callable[[], Awaitable[Built]],
    ) -> RenderedFeed:
        """The cached feed for this version, or one built now; one build per version at a time.

        The build runs as its own task, so a client that disconnects does not cancel the render
        that other requests wait for.
        """
        cached = self.get(identity, version)
        if cached is not None:
            return cached
        key = (identity, version)
        task = self._building.get(key)
        if task is None:
            task = asyncio.create_task(self._build(identity, build))
            self._building[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        _, feed = await asyncio.shield(task)
        return feed

    async def _build(self, identity: Hashable, build: Callable[[], Awaitable[Built]]) -> Built:
        version, feed = await build()
        metrics.feed_rendered()
        self.put(identity, version, feed)
        return version, feed

    def _finished(self, key: tuple[Hashable, Hashable], task: asyncio.Task[Built]) -> None:
        self._building.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here, so an unawaited failure is not logged as lost

    def _drop(self, identity: Hashable) -> None:
        entry = self._entries.pop(identity, None)
        if entry is not None:
            self._bytes -= entry.feed.size
