"""Conditional GET: a client holding the current feed gets 304 with no body, else the new bytes."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest

from tests.api.builders import event_with_channels, patch_slot
from tests.calendar.builders import fetch_feed, path_of
from tests.conftest import ONE_BACKEND
from tests.helpers import Client, at, make_person, make_slot, ok, publish

pytestmark = ONE_BACKEND  # conditional GET, above the database

FEED = "/events/tam/calendar.ics"


@pytest.fixture
async def slot(client: Client, host_token: str) -> Any:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    await publish(client, host_token)
    return slot


def shifted(http_date: str, seconds: int) -> str:
    return format_datetime(parsedate_to_datetime(http_date) + timedelta(seconds=seconds), True)


async def assert_not_modified(client: Client, path: str, first: Any, **headers: str) -> None:
    response = await client.get(path, headers=headers)
    assert response.status_code == 304, headers
    assert response.content == b""
    assert response.headers["etag"] == first.headers["etag"]
    assert response.headers["last-modified"] == first.headers["last-modified"]
    assert "content-type" not in response.headers


async def test_a_matching_etag_gets_304_in_every_spelling(client: Client, slot: Any) -> None:
    first = await fetch_feed(client, FEED)
    etag = first.headers["etag"]
    for if_none_match in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        await assert_not_modified(client, FEED, first, **{"If-None-Match": if_none_match})
    other = await client.get(FEED, headers={"If-None-Match": '"other"'})
    assert (other.status_code, other.content) == (200, first.content)


async def test_if_modified_since_not_older_than_last_modified_gets_304(
    client: Client, slot: Any
) -> None:
    first = await fetch_feed(client, FEED)
    last_modified = first.headers["last-modified"]
    for since in (last_modified, shifted(last_modified, 3600)):
        await assert_not_modified(client, FEED, first, **{"If-Modified-Since": since})
    for since in (shifted(last_modified, -1), "not a date", ""):
        response = await client.get(FEED, headers={"If-Modified-Since": since})
        assert (response.status_code, response.content) == (200, first.content), since


async def test_if_none_match_wins_over_if_modified_since(client: Client, slot: Any) -> None:
    first = await fetch_feed(client, FEED)
    headers = {"If-None-Match": '"other"', "If-Modified-Since": first.headers["last-modified"]}
    assert (await client.get(FEED, headers=headers)).status_code == 200


async def test_a_change_gives_a_new_etag_and_the_old_one_gets_the_new_bytes(
    client: Client, host_token: str, slot: Any
) -> None:
    first = await fetch_feed(client, FEED)
    await ok(await patch_slot(client, host_token, slot["id"], starts_at=at(12), ends_at=at(13)))
    response = await client.get(FEED, headers={"If-None-Match": first.headers["etag"]})
    assert response.status_code == 200
    assert response.headers["etag"] != first.headers["etag"]
    assert b"SEQUENCE:1" in response.content
    await assert_not_modified(client, FEED, response, **{"If-None-Match": response.headers["etag"]})


async def test_a_private_feed_answers_conditional_gets_too(
    client: Client, host_token: str, slot: Any
) -> None:
    person = await make_person(client, host_token, "ana")
    path = path_of(person["feed_url"])
    first = await fetch_feed(client, path)
    await assert_not_modified(client, path, first, **{"If-None-Match": first.headers["etag"]})
    since = {"If-Modified-Since": first.headers["last-modified"]}
    await assert_not_modified(client, path, first, **since)
