"""The API around delivery: /api/me, preferences, push subscriptions and key, tokens, links."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.app import create_app
from takeamoment.db.delivery import AccessLink
from takeamoment.db.engine import Database
from takeamoment.services.access import AccessLinkRefused, redeem_access_link
from takeamoment.settings import Settings
from tests.api.builders import event_with_channels, invite
from tests.delivery.receivers import PushService, new_subscription
from tests.helpers import Client, at, auth, make_person, make_slot, ok, publish


async def test_me_lists_the_person_and_their_bookings_with_slot_and_event(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11), title="Small habits")
    ana = await make_person(client, host_token, "ana", email="ana@example.com")
    booking = await invite(client, host_token, slot["id"], ana)
    me = await ok(await client.get("/api/me", headers=auth(ana["token"])))
    assert me["person"]["id"] == ana["id"] and me["person"]["email"] == "ana@example.com"
    assert me["preferences"] == {"email": True, "push": True, "push_subscriptions": 0}
    (mine,) = me["bookings"]
    assert (mine["id"], mine["status"], mine["role"]) == (booking["id"], "invited", "creator")
    assert mine["slot"]["title"] == "Small habits" and mine["event"]["slug"] == "tam"
    assert (await client.get("/api/me", headers=auth(host_token))).status_code == 403
    assert (await client.get("/api/me")).status_code == 401


async def test_preferences_turn_channels_on_and_off(client: Client, host_token: str) -> None:
    ana = await make_person(client, host_token, "ana")
    path, headers = "/api/me/preferences", auth(ana["token"])
    changed = await ok(await client.patch(path, json={"email": False}, headers=headers))
    assert changed == {"email": False, "push": True, "push_subscriptions": 0}
    changed = await ok(await client.patch(path, json={"push": False}, headers=headers))
    assert (changed["email"], changed["push"]) == (False, False)
    for bad in ({"email": "no"}, {"email": 0}):
        assert (await client.patch(path, json=bad, headers=headers)).status_code == 400
    assert (await client.patch(path, json={}, headers=auth(host_token))).status_code == 403


async def test_the_vapid_key_is_made_once_and_kept(client: Client) -> None:
    first = await ok(await client.get("/api/push/key"))
    again = await ok(await client.get("/api/push/key"))
    assert first == again
    raw = first["public_key"]
    assert "=" not in raw and len(raw) == 87  # 65 bytes, base64url without padding


async def test_push_subscriptions_are_kept_and_forgotten(
    client: Client, host_token: str, push_service: PushService
) -> None:
    ana = await make_person(client, host_token, "ana")
    headers = auth(ana["token"])
    sub = push_service.subscribe().json(push_service.url)
    path = "/api/me/push-subscriptions"
    created = await ok(await client.post(path, json=sub, headers=headers), 201)
    assert created["endpoint"] == sub["endpoint"]
    me = await ok(await client.get("/api/me", headers=headers))
    assert me["preferences"]["push_subscriptions"] == 1
    again = await client.post(path, json=sub, headers=headers)  # the same browser again
    assert again.status_code == 201
    gone = await client.request("DELETE", path, json={"endpoint": sub["endpoint"]}, headers=headers)
    assert gone.status_code == 204
    me = await ok(await client.get("/api/me", headers=headers))
    assert me["preferences"]["push_subscriptions"] == 0


@pytest.mark.parametrize(
    ("endpoint", "status"),
    [
        ("https://127.0.0.1/push/x", 422),  # loopback
        ("https://10.0.0.8/push/x", 422),  # private
        ("https://169.254.169.254/latest", 422),  # link-local (cloud metadata)
        ("http://93.184.216.34/push", 422),  # not https
        ("not a url", 422),
    ],
)
async def test_an_unsafe_endpoint_is_422_when_registered(
    settings: Settings, host_token: str, endpoint: str, status: int
) -> None:
    strict = settings.model_copy(update={"outbound_allow_private": False})  # production's guard
    async with AsyncTestClient(app=create_app(strict)) as client:
        ana = await make_person(client, host_token, "ana")
        body = {"endpoint": endpoint, "keys": new_subscription().json("x")["keys"]}
        response = await client.post(
            "/api/me/push-subscriptions", json=body, headers=auth(ana["token"])
        )
        assert response.status_code == status, response.text
        me = await ok(await client.get("/api/me", headers=auth(ana["token"])))
        assert me["preferences"]["push_subscriptions"] == 0


async def test_bad_keys_are_400(client: Client, host_token: str) -> None:
    ana = await make_person(client, host_token, "ana")
    body = {"endpoint": "https://push.example.com/x", "keys": {"p256dh": "abc", "auth": "!!"}}
    response = await client.post(
        "/api/me/push-subscriptions", json=body, headers=auth(ana["token"])
    )
    assert response.status_code == 400


async def test_a_new_token_ends_every_earlier_one(client: Client, host_token: str) -> None:
    ana = await make_person(client, host_token, "ana")
    path = f"/api/people/{ana['id']}/token"
    first = (await ok(await client.post(path, headers=auth(host_token))))["token"]
    second = (await ok(await client.post(path, headers=auth(host_token))))["token"]
    assert (await client.get("/api/me", headers=auth(ana["token"]))).status_code == 401
    assert (await client.get("/api/me", headers=auth(first))).status_code == 401
    assert (await client.get("/api/me", headers=auth(second))).status_code == 200
    assert (await client.post(path, headers=auth(second))).status_code == 403
    missing = await client.post("/api/people/nobody/token", headers=auth(host_token))
    assert missing.status_code == 404


async def test_an_access_link_signs_in_once_within_a_day(
    client: Client, host_token: str, db: Database
) -> None:
    ana = await make_person(client, host_token, "ana")
    path = f"/api/people/{ana['id']}/access-link"
    link = await ok(await client.post(path, headers=auth(host_token)), 201)
    assert link["url"].startswith("http://testserver/me/access/tama_")
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=24)
    token = link["url"].rsplit("/", 1)[-1]
    assert await redeem_access_link(db, token) == ana["id"]
    with pytest.raises(AccessLinkRefused, match="already used"):
        await redeem_access_link(db, token)
    with pytest.raises(AccessLinkRefused, match="unknown"):
        await redeem_access_link(db, "tama_nope")

    later = await ok(await client.post(path, headers=auth(host_token)), 201)
    later_token = later["url"].rsplit("/", 1)[-1]

    async def expire(session: AsyncSession) -> None:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(update(AccessLink).values(expires_at=past))

    await db.write(expire)
    with pytest.raises(AccessLinkRefused, match="expired"):
        await redeem_access_link(db, later_token)
    assert (await client.post(path, headers=auth(ana["token"]))).status_code == 403


async def test_two_redeems_at_once_sign_in_once(
    client: Client, host_token: str, db: Database
) -> None:
    ana = await make_person(client, host_token, "ana")
    link = await ok(
        await client.post(f"/api/people/{ana['id']}/access-link", headers=auth(host_token)), 201
    )
    token = link["url"].rsplit("/", 1)[-1]
    results = await asyncio.gather(
        *(redeem_access_link(db, token) for _ in range(5)), return_exceptions=True
    )
    assert [r for r in results if r == ana["id"]] == [ana["id"]]
    assert all(isinstance(r, AccessLinkRefused) for r in results if r != ana["id"])
