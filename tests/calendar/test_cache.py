"""Rendered feeds are cached per version: a repeat fetch never re-renders, a change always does."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from takeamoment.calendar.cache import FeedCache, RenderedFeed
from takeamoment.calendar.model import CalendarInfo
from takeamoment.services import feeds
from tests.api.builders import answer, event_with_channels, invite, patch_slot
from tests.calendar.builders import fetch_feed, path_of
from tests.conftest import ONE_BACKEND
from tests.helpers import Client, at, make_person, make_slot, ok, publish

pytestmark = ONE_BACKEND  # the render cache, in memory

FEED = "/events/tam/calendar.ics"


class RenderCounter:
    """Counts calls of the renderer the feed service uses (and still renders)."""

    def __init__(self) -> None:
        self.calls: list[CalendarInfo] = []
        self._render = feeds.render_calendar

    def __call__(self, info: CalendarInfo) -> bytes:
        self.calls.append(info)
        return self._render(info)

    def __len__(self) -> int:
        return len(self.calls)


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Iterator[RenderCounter]:
    counter = RenderCounter()
    monkeypatch.setattr(feeds, "render_calendar", counter)
    yield counter


@pytest.fixture
async def slot(client: Client, host_token: str) -> Any:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    slot = await make_slot(client, host_token, at(10), at(11), tags=["calm"])
    await publish(client, host_token)
    return slot


async def test_a_second_fetch_and_a_304_do_not_render_again(
    client: Client, slot: Any, renders: RenderCounter
) -> None:
    first = await fetch_feed(client, FEED)
    second = await fetch_feed(client, FEED)
    not_modified = await client.get(FEED, headers={"If-None-Match": first.headers["etag"]})
    assert (second.content, not_modified.status_code) == (first.content, 304)
    assert len(renders) == 1


async def test_a_schedule_change_renders_once_more_then_caches_again(
    client: Client, host_token: str, slot: Any, renders: RenderCounter
) -> None:
    await fetch_feed(client, FEED)
    await ok(await patch_slot(client, host_token, slot["id"], title="Renamed"))
    changed = await fetch_feed(client, FEED)
    again = await fetch_feed(client, FEED)
    assert b"SUMMARY:Renamed" in changed.content and again.content == changed.content
    assert len(renders) == 2


async def test_each_filter_is_rendered_and_cached_on_its_own(
    client: Client, slot: Any, renders: RenderCounter
) -> None:
    paths = [FEED, f"{FEED}?channel=main", f"{FEED}?tag=calm", f"{FEED}?tag=CALM"]
    for _ in range(2):
        for path in paths:
            await fetch_feed(client, path)
    # "calm" and "CALM" are one filter.
    assert len(renders) == 3


async def test_concurrent_fetches_of_a_cold_feed_share_one_render(
    client: Client, slot: Any, renders: RenderCounter
) -> None:
    responses = await asyncio.gather(*(client.get(FEED) for _ in range(8)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert len(renders) == 1


async def test_a_private_feed_renders_again_only_when_its_own_bookings_change(
    client: Client, host_token: str, slot: Any, renders: RenderCounter
) -> None:
    ana = await make_person(client, host_token, "ana")
    path = path_of(ana["feed_url"])
    booking = await invite(client, host_token, slot["id"], ana)
    await fetch_feed(client, path)
    await fetch_feed(client, path)
    assert len(renders) == 1

    # Another event's schedule changes nothing ana's feed shows.
    await event_with_channels(client, host_token, "other")
    other = await make_slot(client, host_token, at(10), at(11), event="other")
    await invite(client, host_token, other["id"], await make_person(client, host_token, "bo"))
    await fetch_feed(client, path)
    assert len(renders) == 1

    await ok(await answer(client, ana["token"], booking["id"]))
    accepted = await fetch_feed(client, path)
    assert b"Your booking: confirmed" in accepted.content.replace(b"\r\n ", b"")
    await ok(await patch_slot(client, host_token, slot["id"], starts_at=at(12), ends_at=at(13)))
    moved = await fetch_feed(client, path)
    assert b"SEQUENCE:1" in moved.content
    assert len(renders) == 3


def feed(body: bytes) -> RenderedFeed:
    return RenderedFeed.of(body, datetime(2030, 1, 1, tzinfo=UTC), "feed.ics")


def test_the_cache_keeps_one_version_per_feed_and_evicts_the_least_recently_used() -> None:
    big = feed(bytes(range(256)))  # fills the cache alone (plain and gzipped bytes count)
    cache = FeedCache(max_feeds=2, max_bytes=big.size)
    cache.put("a", 1, feed(b"aaa"))
    cache.put("a", 2, feed(b"aaaa"))  # replaces version 1
    assert (cache.get("a", 1), len(cache), cache.total_bytes) == (None, 1, feed(b"aaaa").size)
    cache.put("b", 1, feed(b"bb"))
    assert cache.get("a", 2) is not None  # "a" is now the most recently used
    cache.put("c", 1, feed(b"c"))
    assert (cache.get("b", 1), len(cache)) == (None, 2)
    cache.put("d", 1, big)  # "a" leaves for the count, "c" for the bytes
    assert (cache.get("a", 2), cache.get("c", 1), cache.total_bytes) == (None, None, big.size)


def test_the_gzipped_bytes_are_the_same_every_time_with_an_etag_of_their_own() -> None:
    body = b"BEGIN:VCALENDAR\r\n" * 50
    assert feed(body).gzipped == feed(body).gzipped
    assert gzip.decompress(feed(body).gzipped) == body
    assert feed(body).gzip_etag not in (feed(body).etag, feed(body + b"x").gzip_etag)


def test_an_etag_is_strong_and_follows_the_bytes_only() -> None:
    assert feed(b"x").etag == feed(b"x").etag != feed(b"y").etag
    assert feed(b"x").etag.startswith('"') and not feed(b"x").etag.startswith("W/")


async def test_a_failed_build_is_not_cached_and_the_next_request_builds_again() -> None:
    cache = FeedCache()
    attempts = 0

    async def build() -> tuple[int, RenderedFeed]:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("database went away")
        return 1, feed(b"ok")

    with pytest.raises(RuntimeError):
        await cache.get_or_build("a", 1, build)
    assert (await cache.get_or_build("a", 1, build)).body == b"ok"
    assert attempts == 2
