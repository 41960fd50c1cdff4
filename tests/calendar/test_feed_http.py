"""Feeds over HTTP: HEAD, gzip, a Last-Modified that never goes back, 404 and 410, names, UIDs."""

from __future__ import annotations

import asyncio
import gzip
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest
from litestar.testing import AsyncTestClient

from takeamoment.app import create_app
from takeamoment.db.engine import Database
from takeamoment.services.auth import issue_host_token
from takeamoment.settings import Settings
from tests.api.builders import event_with_channels, invite, patch_slot
from tests.api.test_auth_limits import from_address
from tests.calendar.builders import Festival, feed_text, fetch_feed, path_of
from tests.calendar.readers import content_lines
from tests.conftest import ONE_BACKEND
from tests.helpers import Client, at, auth, make_person, make_slot, ok, publish

pytestmark = ONE_BACKEND  # HTTP around the feeds, above the database

FEEDS = ("public", "private")
GZIP = {"Accept-Encoding": "gzip, deflate"}
# httpx asks for gzip by default (and decodes it): ask for the plain bytes explicitly.
PLAIN = {"Accept-Encoding": "identity"}


def feed_path(festival: Festival, which: str) -> str:
    return "/events/tam/calendar.ics" if which == "public" else path_of(festival.ana["feed_url"])


# --- HEAD (item 13) ---------------------------------------------------------------------------


@pytest.mark.parametrize("which", FEEDS)
async def test_head_answers_as_get_without_a_body(
    client: Client, festival: Festival, which: str
) -> None:
    path = feed_path(festival, which)
    got = await fetch_feed(client, path, **PLAIN)
    head = await client.head(path, headers=PLAIN)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("etag", "last-modified", "content-type", "cache-control", "content-length"):
        assert head.headers[name] == got.headers[name], name
    assert int(head.headers["content-length"]) == len(got.content)
    not_modified = await client.head(path, headers={**PLAIN, "If-None-Match": got.headers["etag"]})
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    since = {"If-Modified-Since": got.headers["last-modified"]}
    assert (await client.head(path, headers=since)).status_code == 304
    zipped_get = await client.get(path, headers=GZIP)
    zipped_head = await client.head(path, headers=GZIP)
    assert zipped_head.headers["etag"] == zipped_get.headers["etag"]
    assert zipped_head.headers["content-encoding"] == "gzip"


async def test_head_of_an_unknown_feed_is_404(client: Client, festival: Festival) -> None:
    assert (await client.head("/events/nope/calendar.ics")).status_code == 404
    assert (await client.head("/feeds/tamf_nothing.ics")).status_code == 404


# --- gzip (item 14) ---------------------------------------------------------------------------


@pytest.mark.parametrize("which", FEEDS)
async def test_gzip_when_asked_with_its_own_etag_and_304s_for_both(
    client: Client, festival: Festival, which: str
) -> None:
    path = feed_path(festival, which)
    plain = await fetch_feed(client, path, **PLAIN)
    zipped = await client.get(path, headers=GZIP)  # httpx decodes it: compare the raw stream
    assert zipped.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert "content-encoding" not in plain.headers
    for response in (plain, zipped):
        assert response.headers["vary"].lower() == "accept-encoding"
    assert zipped.headers["etag"] != plain.headers["etag"]
    # Each representation's validator gets a 304 for that representation only.
    again = await client.get(path, headers={**GZIP, "If-None-Match": zipped.headers["etag"]})
    assert (again.status_code, again.headers["etag"], again.headers["vary"]) == (
        304,
        zipped.headers["etag"],
        "Accept-Encoding",
    )
    plain_again = await client.get(path, headers={**PLAIN, "If-None-Match": plain.headers["etag"]})
    assert plain_again.status_code == 304
    crossed = await client.get(path, headers={**GZIP, "If-None-Match": plain.headers["etag"]})
    assert crossed.status_code == 200


async def test_gzip_bytes_are_the_same_in_every_process(
    client: Client, settings: Settings, festival: Festival
) -> None:
    first = await client.get("/events/tam/calendar.ics", headers=GZIP)
    async with AsyncTestClient(app=create_app(settings)) as other:
        second = await other.get("/events/tam/calendar.ics", headers=GZIP)
    assert second.headers["etag"] == first.headers["etag"]


@pytest.mark.parametrize("refused", ["gzip;q=0", "identity", "br", "*;q=0", ""])
async def test_no_gzip_unless_acceptable(client: Client, festival: Festival, refused: str) -> None:
    response = await client.get("/events/tam/calendar.ics", headers={"Accept-Encoding": refused})
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"


async def test_the_raw_gzip_stream_decompresses_to_the_calendar(
    client: Client, festival: Festival
) -> None:
    plain = await fetch_feed(client, "/events/tam/calendar.ics", **PLAIN)
    async with client.stream("GET", "/events/tam/calendar.ics", headers=GZIP) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert gzip.decompress(raw) == plain.content


async def test_the_helplines_are_one_short_line_and_a_link_per_slot(
    client: Client, festival: Festival
) -> None:
    text = await feed_text(client, "/events/tam/calendar.ics")
    for event in icalendar.Calendar.from_ical(text).walk("VEVENT"):
        lines = str(event["DESCRIPTION"]).split("\n")
        help_lines = [line for line in lines if "Samaritans" in line]
        assert help_lines == [
            "Need support? Samaritans (UK and Ireland): 116 123."
            " All helplines: http://testserver/events/tam#help"
        ]
        assert "Free, any time." not in str(event["DESCRIPTION"])


# --- Last-Modified never goes backwards (item 12) --------------------------------------------


def http_time(response: Any) -> datetime:
    return parsedate_to_datetime(response.headers["last-modified"])


async def next_second_after(moment: datetime) -> None:
    """Wait until the clock has passed the whole second ``moment`` names (at most 2 s)."""
    async with asyncio.timeout(2):
        while datetime.now(UTC) < moment + timedelta(seconds=1):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_last_modified_of_a_filtered_feed_never_goes_back_when_a_slot_leaves_it(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    older = await make_slot(client, host_token, at(9), at(10), tags=["calm"])
    await publish(client, host_token)
    leaving = await make_slot(client, host_token, at(11), at(12), tags=["calm"])
    path = "/events/tam/calendar.ics?tag=calm"
    before = await fetch_feed(client, path)
    await next_second_after(http_time(before))  # HTTP dates count whole seconds
    await ok(await patch_slot(client, host_token, leaving["id"], tags=["other"]))
    after = await fetch_feed(client, path)
    assert older["id"] in after.text and leaving["id"] not in after.text
    assert http_time(after) >= http_time(before)
    # A client that holds the copy with the slot is not told it is current.
    stale = await client.get(path, headers={"If-Modified-Since": before.headers["last-modified"]})
    assert stale.status_code == 200
    assert leaving["id"] not in stale.text


# --- unknown and rotated feed tokens (item 15) ------------------------------------------------


async def test_a_rotated_feed_token_is_410_gone_and_an_unknown_one_404(
    client: Client, host_token: str
) -> None:
    ana = await make_person(client, host_token, "ana")
    old = path_of(ana["feed_url"])
    rotated = f"/api/people/{ana['id']}/feed-token/rotate"
    new = path_of((await ok(await client.post(rotated, headers=auth(host_token))))["feed_url"])
    gone = await client.get(old)
    assert gone.status_code == 410
    assert old.split("/")[-1].removesuffix(".ics") not in gone.text
    assert (await client.head(old)).status_code == 410
    assert (await client.get("/feeds/tamf_never-issued.ics")).status_code == 404
    assert (await client.get(new)).status_code == 200


async def test_stale_feed_urls_from_one_address_never_lock_out_a_good_feed(
    client: Client, host_token: str
) -> None:
    ana = await make_person(client, host_token, "ana")
    stale = []
    for _ in range(10):
        path = f"/api/people/{ana['id']}/feed-token/rotate"
        stale.append(path_of(ana["feed_url"]))
        ana["feed_url"] = (await ok(await client.post(path, headers=auth(host_token))))["feed_url"]
    with from_address(client, "203.0.113.9"):  # not exempt from the limits
        for _ in range(3):
            for path in stale:
                assert (await client.get(path)).status_code == 410
            for guess in range(10):
                assert (await client.get(f"/feeds/tamf_guess{guess}.ics")).status_code == 404
        assert (await client.get(path_of(ana["feed_url"]))).status_code == 200
        # A bearer token is still a credential: its failures still count.
        for _ in range(10):
            await client.get("/api/me/notifications", headers=auth("tam_guess"))
        refused = await client.get("/api/me/notifications", headers=auth("tam_guess"))
        assert refused.status_code == 429


# --- the file itself (item 16) ----------------------------------------------------------------


async def test_invited_bookings_are_tentative_in_the_persons_feed(
    client: Client, festival: Festival
) -> None:
    text = await feed_text(client, path_of(festival.ana["feed_url"]))
    status = {
        str(e["UID"]).split(".")[0]: str(e["STATUS"])
        for e in icalendar.Calendar.from_ical(text).walk("VEVENT")
    }
    assert status[festival.slots["repeat"]["id"]] == "TENTATIVE"  # invited
    assert status[festival.slots["calm"]["id"]] == "CONFIRMED"
    assert status[festival.slots["dropped"]["id"]] == "CANCELLED"
    public = await feed_text(client, "/events/tam/calendar.ics")
    assert "TENTATIVE" not in public


@pytest.mark.parametrize("which", FEEDS)
async def test_no_x_wr_timezone(client: Client, festival: Festival, which: str) -> None:
    lines = content_lines((await fetch_feed(client, feed_path(festival, which))).content)
    assert not [line for line in lines if line.startswith("X-WR-TIMEZONE")]


async def test_an_empty_filtered_feed_still_holds_a_component(
    client: Client, festival: Festival
) -> None:
    lines = content_lines((await fetch_feed(client, "/events/tam/calendar.ics?tag=none")).content)
    assert "BEGIN:VEVENT" not in lines
    assert "BEGIN:VTIMEZONE" in lines and "TZID:Europe/London" in lines


async def test_an_empty_feed_of_a_person_without_a_zone_still_holds_a_component(
    client: Client, host_token: str
) -> None:
    dee = await make_person(client, host_token, "dee")
    lines = content_lines((await fetch_feed(client, path_of(dee["feed_url"]))).content)
    assert "BEGIN:VTIMEZONE" in lines


async def test_feeds_are_inline_files_named_after_the_event_or_person(
    client: Client, festival: Festival
) -> None:
    public = await fetch_feed(client, "/events/tam/calendar.ics?channel=garden")
    assert public.headers["content-disposition"] == 'inline; filename="tam.ics"'
    private = await fetch_feed(client, path_of(festival.ana["feed_url"]))
    assert private.headers["content-disposition"] == 'inline; filename="ana.ics"'


def uids(text: str) -> set[str]:
    return {str(e["UID"]) for e in icalendar.Calendar.from_ical(text).walk("VEVENT")}


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    shutil.copy(sqlite_template, tmp_path / "uids.db")
    return f"sqlite+aiosqlite:///{tmp_path / 'uids.db'}"


@pytest.fixture
async def made_at_first_host(sqlite_url: str) -> AsyncIterator[str]:
    """A database whose first start had the public URL https://first.example."""
    settings = Settings(
        database_url=sqlite_url, public_url="https://first.example", secret_key="k" * 32
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        db = Database(sqlite_url)
        token = await issue_host_token(db, "Host")
        await db.dispose()
        await event_with_channels(client, token)
        await make_slot(client, token, at(10), at(11))
        await publish(client, token)
        person = await make_person(client, token, "ana")
        await invite(client, token, (await make_slot(client, token, at(12), at(13)))["id"], person)
        text = await feed_text(client, "/events/tam/calendar.ics")
    assert {uid.split("@")[1] for uid in uids(text)} == {"first.example"}
    yield sqlite_url


async def test_uids_keep_the_first_public_host_after_the_public_url_changes(
    made_at_first_host: str,
) -> None:
    moved = Settings(
        database_url=made_at_first_host, public_url="https://moved.example", secret_key="k" * 32
    )
    async with AsyncTestClient(app=create_app(moved)) as client:
        text = await feed_text(client, "/events/tam/calendar.ics")
    assert {uid.split("@")[1] for uid in uids(text)} == {"first.example"}
    assert "SOURCE:https://moved.example/events/tam/calendar.ics" in content_lines(text.encode())


async def test_the_uid_domain_setting_wins(made_at_first_host: str) -> None:
    chosen = Settings(
        database_url=made_at_first_host,
        public_url="https://moved.example",
        secret_key="k" * 32,
        uid_domain="calendar.example.org",
    )
    async with AsyncTestClient(app=create_app(chosen)) as client:
        text = await feed_text(client, "/events/tam/calendar.ics")
    assert {uid.split("@")[1] for uid in uids(text)} == {"calendar.example.org"}
