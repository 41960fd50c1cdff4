"""Events and channels: created as drafts, hidden from the public until published, changed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from tests.api.builders import changes, event_with_channels, schedule
from tests.helpers import DAY, Client, at, auth, make_channel, make_event, make_slot, ok, publish


def event_body(**fields: Any) -> dict[str, Any]:
    body = {
        "slug": "tam",
        "title": "Take A Moment",
        "timezone": "Europe/London",
        "starts_at": at(0),
        "ends_at": at(23),
    }
    return {**body, **fields}


async def test_a_new_event_is_a_draft_in_utc_with_defaults_and_calendar_links(
    client: Client, host_token: str
) -> None:
    event = await make_event(
        client,
        host_token,
        starts_at="2030-10-10T02:00:00+02:00",
        ends_at="2030-10-10T20:00:00-04:00",
        hashtags=["tam"],
    )
    assert (event["slug"], event["status"], event["timezone"]) == ("tam", "draft", "Europe/London")
    assert (event["changeover_minutes"], event["reminder_minutes"]) == (5, [15, 5])
    assert (event["hashtags"], event["channels"]) == (["tam"], [])
    starts_at, ends_at = (datetime.fromisoformat(event[key]) for key in ("starts_at", "ends_at"))
    assert starts_at.utcoffset() == timedelta(0) and ends_at.utcoffset() == timedelta(0)
    assert (starts_at, ends_at) == (DAY, DAY + timedelta(hours=24))
    assert event["page_url"] == "http://testserver/events/tam"
    assert event["calendar_url"] == "http://testserver/events/tam/calendar.ics"
    assert event["webcal_url"] == "webcal://testserver/events/tam/calendar.ics"


async def test_a_duplicate_event_slug_is_409(client: Client, host_token: str) -> None:
    await make_event(client, host_token)
    response = await client.post("/api/events", json=event_body(), headers=auth(host_token))
    assert response.status_code == 409, response.text


async def test_an_unknown_zone_or_an_end_not_after_the_start_is_400(
    client: Client, host_token: str
) -> None:
    refused = [
        {"timezone": "Mars/Olympus_Mons"},
        {"timezone": "America"},  # a folder of the zone database, not a zone
        {"timezone": "localtime"},
        {"timezone": ""},
        {"ends_at": at(0)},
        {"ends_at": at(-1)},
    ]
    for fields in refused:
        body = event_body(**fields)
        response = await client.post("/api/events", json=body, headers=auth(host_token))
        assert response.status_code == 400, (fields, response.text)
        assert response.json()["status_code"] == 400
    assert await ok(await client.get("/api/events", headers=auth(host_token))) == []


async def test_a_naive_datetime_is_400_saying_it_needs_time_zone_info(
    client: Client, host_token: str
) -> None:
    body = event_body(starts_at="2030-10-10T09:00:00")
    response = await client.post("/api/events", json=body, headers=auth(host_token))
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["status_code"] == 400
    assert [e["key"] for e in error["extra"]] == ["starts_at"]
    assert re.search(r"time ?zone", error["extra"][0]["message"], re.IGNORECASE), error


async def test_a_draft_is_404_to_the_public_and_absent_from_the_list(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await make_slot(client, host_token, at(10), at(11))
    for path in ("/api/events/tam", "/api/events/tam/schedule", "/api/events/tam/changes"):
        response = await client.get(path)
        assert response.status_code == 404, (path, response.text)
    assert await ok(await client.get("/api/events")) == []


async def test_hosts_see_a_draft_its_schedule_and_its_changes(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await make_slot(client, host_token, at(10), at(11))
    listed = await ok(await client.get("/api/events", headers=auth(host_token)))
    assert [e["slug"] for e in listed] == ["tam"]
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert event["status"] == "draft"
    assert len((await schedule(client, host_token))["slots"]) == 1
    assert [c["type"] for c in await changes(client, host_token)] == ["slot.created"]


async def test_publishing_makes_an_event_public_and_leaves_other_drafts_hidden(
    client: Client, host_token: str
) -> None:
    await make_event(client, host_token, "draft-one")
    await make_event(client, host_token, "tam")
    published = await publish(client, host_token)
    assert published["status"] == "published"
    assert (await ok(await client.get("/api/events/tam")))["status"] == "published"
    assert [e["slug"] for e in await ok(await client.get("/api/events"))] == ["tam"]
    assert (await schedule(client))["slots"] == []
    hosts = await ok(await client.get("/api/events", headers=auth(host_token)))
    assert sorted(e["slug"] for e in hosts) == ["draft-one", "tam"]


async def test_patch_changes_fields_but_never_the_slug(client: Client, host_token: str) -> None:
    await make_event(client, host_token)
    body = {"title": "Take Two", "changeover_minutes": 10, "hashtags": ["x"]}
    renamed = await client.patch(
        "/api/events/tam", json={**body, "slug": "renamed"}, headers=auth(host_token)
    )
    assert renamed.status_code == 400, renamed.text  # the slug is not a field PATCH knows
    assert renamed.json()["extra"][0]["key"] == "slug"
    event = await ok(await client.patch("/api/events/tam", json=body, headers=auth(host_token)))
    assert (event["slug"], event["title"]) == ("tam", "Take Two")
    assert (event["changeover_minutes"], event["hashtags"]) == (10, ["x"])
    assert (await client.get("/api/events/renamed", headers=auth(host_token))).status_code == 404
    again = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert (again["title"], again["changeover_minutes"]) == ("Take Two", 10)


async def test_patch_refuses_an_empty_window_or_one_that_leaves_a_slot_outside(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await make_slot(client, host_token, at(20), at(22))
    for body in ({"ends_at": at(21)}, {"starts_at": at(21)}, {"ends_at": at(-2)}):
        response = await client.patch("/api/events/tam", json=body, headers=auth(host_token))
        assert response.status_code == 400, (body, response.text)
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert datetime.fromisoformat(event["starts_at"]) == DAY
    assert datetime.fromisoformat(event["ends_at"]) == DAY + timedelta(hours=23)


async def test_patch_may_shrink_the_window_around_its_slots(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await make_slot(client, host_token, at(10), at(11))
    body = {"starts_at": at(10), "ends_at": at(11)}
    event = await ok(await client.patch("/api/events/tam", json=body, headers=auth(host_token)))
    assert datetime.fromisoformat(event["starts_at"]) == DAY + timedelta(hours=10)
    assert datetime.fromisoformat(event["ends_at"]) == DAY + timedelta(hours=11)


async def test_a_host_adds_channels_that_the_event_lists_in_order(
    client: Client, host_token: str
) -> None:
    await make_event(client, host_token)
    channel = await make_channel(client, host_token, slug="main")
    assert (channel["slug"], channel["name"]) == ("main", "Main")
    assert channel["id"]
    await make_channel(client, host_token, slug="garden")
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert [c["slug"] for c in event["channels"]] == ["main", "garden"]


async def test_a_channel_slug_is_unique_within_its_event_only(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, "tam")
    await event_with_channels(client, host_token, "other")
    body = {"slug": "main", "name": "Again"}
    response = await client.post("/api/events/tam/channels", json=body, headers=auth(host_token))
    assert response.status_code == 409, response.text
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert [c["name"] for c in event["channels"]] == ["Main"]
