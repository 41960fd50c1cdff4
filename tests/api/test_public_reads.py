"""Public reads served from memory while their version is trusted: the anonymous schedule and
an event's calendar feed. Every change made through this process shows in the very next read,
hosts always read the database, and a trusted read asks the database nothing."""

from __future__ import annotations

from typing import Any

import pytest

from takeamoment.api.events import public_schedules
from takeamoment.services import feeds
from tests.api.builders import invite, patch_slot, schedule
from tests.conftest import ONE_BACKEND
from tests.helpers import (
    Client,
    at,
    make_channel,
    make_event,
    make_person,
    make_slot,
    publish,
)

pytestmark = ONE_BACKEND  # reads served from memory


async def _published(client: Client, host_token: str) -> str:
    await make_event(client, host_token)
    await make_channel(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    await publish(client, host_token)
    client.app.state.known_versions.trust_s = 3600.0  # however slow the machine
    return str(slot["id"])


def count_feed_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every time the event feed asks the database for its event (the scheduler may read the
    database in the background meanwhile: only the feed's own reads are counted)."""
    reads: list[str] = []
    ask = feeds._published_event

    async def counted(session: Any, slug: str, feed_filter: Any) -> Any:
        reads.append(slug)
        return await ask(session, slug, feed_filter)

    monkeypatch.setattr(feeds, "_published_event", counted)
    return reads


async def test_the_public_schedule_is_read_once_while_nothing_changes(
    client: Client, host_token: str
) -> None:
    await _published(client, host_token)
    first = await schedule(client)

    again = [await schedule(client) for _ in range(3)]

    assert all(answer == first for answer in again)
    assert public_schedules(client.app.state).reads == 1


async def test_a_change_is_in_the_very_next_public_read(client: Client, host_token: str) -> None:
    slot_id = await _published(client, host_token)
    await schedule(client)
    calendar = (await client.get("/events/tam/calendar.ics")).text

    await patch_slot(client, host_token, slot_id, title="Renamed at once")

    assert [s["title"] for s in (await schedule(client))["slots"]] == ["Renamed at once"]
    after = (await client.get("/events/tam/calendar.ics")).text
    assert "Renamed at once" in after and after != calendar


async def test_hosts_read_the_database_and_see_invited_people(
    client: Client, host_token: str
) -> None:
    slot_id = await _published(client, host_token)
    person = await make_person(client, host_token, "ana")
    await invite(client, host_token, slot_id, person)

    public = await schedule(client)
    for_host = await schedule(client, host_token)

    assert public["slots"][0]["people"] == [] and "bookings" not in public["slots"][0]
    assert [b["person"]["id"] for b in for_host["slots"][0]["bookings"]] == [person["id"]]


async def test_the_calendar_is_served_without_asking_the_database_while_trusted(
    client: Client, host_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _published(client, host_token)
    reads = count_feed_reads(monkeypatch)
    first = await client.get("/events/tam/calendar.ics")
    assert reads  # the first request asked (and rendered)
    reads.clear()

    again = await client.get("/events/tam/calendar.ics")
    conditional = await client.get(
        "/events/tam/calendar.ics", headers={"If-None-Match": first.headers["etag"]}
    )

    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert conditional.status_code == 304
    assert reads == []


async def test_a_draft_is_never_served_from_memory(client: Client, host_token: str) -> None:
    await make_event(client, host_token)
    for _ in range(2):
        assert (await client.get("/api/events/tam/schedule")).status_code == 404
        assert (await client.get("/events/tam/calendar.ics")).status_code == 404


async def test_the_public_schedule_is_gzipped_for_clients_that_take_it(
    client: Client, host_token: str
) -> None:
    await _published(client, host_token)

    plain = await client.get("/api/events/tam/schedule", headers={"Accept-Encoding": "identity"})
    zipped = await client.get("/api/events/tam/schedule", headers={"Accept-Encoding": "gzip"})

    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert plain.headers["vary"] == zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.json() == plain.json()  # httpx decodes the gzipped body
