"""Viewers' follows: the API, and the pushes a go-live or a cancel sends to followers, checked
and decrypted by the push service written in the tests."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from takeamoment.db.engine import Database
from takeamoment.db.follows import Follow
from tests.api.builders import event_with_channels
from tests.delivery.conftest import until
from tests.delivery.receivers import PushService, Subscription
from tests.helpers import Client, at, auth, make_channel, make_slot, ok, publish


async def published(client: Client, host_token: str) -> tuple[Any, Any, Any]:
    """A published event with two channels and a slot on each, one with a stream link."""
    await event_with_channels(client, host_token, channels=("main", "music"))
    await publish(client, host_token)
    response = await client.patch(
        "/api/events/tam/channels/main",
        json={"stream_url": "https://live.example/main"},
        headers=auth(host_token),
    )
    await ok(response)
    talk = await make_slot(client, host_token, at(9), at(10), title="Small habits")
    song = await make_slot(client, host_token, at(9), at(10), channel="music", title="Calm")
    return talk, song, None


async def follow(
    client: Client, service: PushService, status: int = 201, mode: str = "ok", **what: Any
) -> tuple[Subscription, Any]:
    key = (await ok(await client.get("/api/push/key")))["public_key"]
    service.expected_key = key
    sub = service.subscribe(mode)
    body = {"subscription": sub.json(service.url), **what}
    return sub, await ok(await client.post("/api/events/tam/follows", json=body), status)


async def go_live(client: Client, host_token: str, slot_id: str) -> None:
    response = await client.post(
        f"/api/slots/{slot_id}/live", json={"early": True}, headers=auth(host_token)
    )
    await ok(response)


async def test_going_live_tells_the_followers_of_the_slot_its_channel_and_the_event(
    client: Client, host_token: str, push_service: PushService
) -> None:
    talk, song, _ = await published(client, host_token)
    of_slot, created = await follow(client, push_service, slot_id=talk["id"])
    of_channel, _ = await follow(client, push_service, channel="main")
    of_event, _ = await follow(client, push_service)
    of_other, _ = await follow(client, push_service, slot_id=song["id"])
    assert set(created) == {"id", "unfollow_url"}
    assert created["unfollow_url"].startswith("http://testserver/follows/")

    await go_live(client, host_token, talk["id"])
    await until(lambda: all(len(s.received) == 1 for s in (of_slot, of_channel, of_event)))
    assert push_service.errors == []  # VAPID checked against the server's key
    message = of_slot.received[0]
    assert message["type"] == "slot.live"
    assert message["title"] == "Live now: Small habits"
    assert "Small habits is live now on Main" in message["body"]
    assert message["url"] == f"http://testserver/events/tam/sessions/{talk['id']}"
    assert message["stream_url"] == "https://live.example/main"
    assert message["unfollow_url"] == created["unfollow_url"]
    assert of_slot.headers[0]["urgency"] == "high"
    assert of_other.received == []
    # Each follower its own unfollow link.
    assert len({s.received[0]["unfollow_url"] for s in (of_slot, of_channel, of_event)}) == 3


async def test_one_browser_following_a_slot_and_its_event_gets_one_push(
    client: Client, host_token: str, push_service: PushService
) -> None:
    talk, _, _ = await published(client, host_token)
    sub, of_slot = await follow(client, push_service, slot_id=talk["id"])
    body = {"subscription": sub.json(push_service.url)}
    await ok(await client.post("/api/events/tam/follows", json=body), 201)
    again = await ok(
        await client.post("/api/events/tam/follows", json={**body, "slot_id": talk["id"]}), 201
    )
    assert again["id"] == of_slot["id"]  # following again: the same follow
    other, _ = await follow(client, push_service)
    await go_live(client, host_token, talk["id"])
    await until(lambda: len(other.received) == 1)
    await until(lambda: len(sub.received) >= 1)
    assert len(sub.received) == 1
    assert sub.received[0]["unfollow_url"] == of_slot["unfollow_url"]  # the slot's, most specific


async def test_cancelling_tells_followers(
    client: Client, host_token: str, push_service: PushService
) -> None:
    talk, _, _ = await published(client, host_token)
    sub, _ = await follow(client, push_service, slot_id=talk["id"])
    await ok(await client.post(f"/api/slots/{talk['id']}/cancel", headers=auth(host_token)))
    await until(lambda: len(sub.received) == 1)
    (message,) = sub.received
    assert message["type"] == "slot.cancelled"
    assert message["title"] == "Cancelled: Small habits"
    assert message["body"] == "Small habits on Main is cancelled. (Take A Moment)"


async def test_a_410_drops_the_follow(
    client: Client, host_token: str, push_service: PushService, db: Database
) -> None:
    talk, _, _ = await published(client, host_token)
    gone, _ = await follow(client, push_service, mode="gone")
    kept, _ = await follow(client, push_service)

    async def endpoints() -> set[str]:
        async with db.read() as session:
            return set((await session.execute(select(Follow.endpoint))).scalars())

    assert len(await endpoints()) == 2
    await go_live(client, host_token, talk["id"])
    await until(lambda: len(kept.received) == 1)
    await until(lambda: endpoints_are([kept.json(push_service.url)["endpoint"]], endpoints))
    assert gone.received == []


async def endpoints_are(expected: list[str], endpoints: Any) -> bool:
    return bool(await endpoints() == set(expected))


async def test_unfollow_by_delete_and_by_the_page_button(
    client: Client, host_token: str, push_service: PushService
) -> None:
    talk, _, _ = await published(client, host_token)
    by_delete, first = await follow(client, push_service, slot_id=talk["id"])
    by_page, second = await follow(client, push_service, slot_id=talk["id"])
    kept, _ = await follow(client, push_service, slot_id=talk["id"])
    path = first["unfollow_url"].removeprefix("http://testserver")
    assert (await client.delete(path)).status_code == 204
    assert (await client.delete(path)).status_code == 204  # already gone: harmless
    page = second["unfollow_url"].removeprefix("http://testserver")
    shown = await client.get(page)
    assert shown.status_code == 200 and "Stop notifications" in shown.text
    assert (await client.post(page)).status_code == 200
    assert (await client.delete(path[:-3] + "xyz")).status_code == 404  # forged
    assert (await client.get(page[:-3] + "xyz")).status_code == 404
    await go_live(client, host_token, talk["id"])
    await until(lambda: len(kept.received) == 1)
    assert by_delete.received == [] and by_page.received == []


async def test_follow_bodies_are_checked(
    client: Client, host_token: str, push_service: PushService
) -> None:
    talk, _, _ = await published(client, host_token)
    sub = push_service.subscribe()
    good = sub.json(push_service.url)
    cases: list[tuple[dict[str, Any], int]] = [
        ({"subscription": good, "slot_id": talk["id"], "channel": "main"}, 400),
        ({"subscription": good, "slot_id": "nope"}, 404),
        ({"subscription": good, "channel": "nope"}, 404),
        ({"subscription": {**good, "keys": {"p256dh": "AAAA", "auth": "AAAA"}}}, 400),
        ({"subscription": good, "extra": 1}, 400),
        ({"subscription": {**good, "endpoint": "ftp://x.example/push"}}, 422),
        ({}, 400),
    ]
    for body, status in cases:
        response = await client.post("/api/events/tam/follows", json=body)
        assert response.status_code == status, (body, response.text)
    # The longest endpoint there may be, in characters of several bytes: kept (by its hash).
    long_endpoint = good["endpoint"] + "/" + "é" * (1999 - len(good["endpoint"]))
    body = {"subscription": {**good, "endpoint": long_endpoint}}
    await ok(await client.post("/api/events/tam/follows", json=body), 201)
    await make_channel(client, host_token, "tam", "extra")
    await event_with_channels(client, host_token, slug="draft")
    response = await client.post("/api/events/draft/follows", json={"subscription": good})
    assert response.status_code == 404  # drafts cannot be followed
    other = await make_slot(client, host_token, at(9), at(10), event="draft", title="Other")
    response = await client.post(
        "/api/events/tam/follows", json={"subscription": good, "slot_id": other["id"]}
    )
    assert response.status_code == 404  # a slot of another event
