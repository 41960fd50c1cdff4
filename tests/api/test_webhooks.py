"""Webhooks through the API, outbound rules as in production (no private addresses)."""

from __future__ import annotations

from typing import Any

from standardwebhooks import Webhook

from tests.api.builders import event_with_channels
from tests.helpers import Client, auth, make_person, ok

PUBLIC_URL = "https://1.1.1.1/hooks/tam"  # a public address literal: nothing to resolve


async def register(client: Client, token: str, body: dict[str, object], slug: str = "tam") -> Any:
    return await client.post(f"/api/events/{slug}/webhooks", json=body, headers=auth(token))


async def test_registering_shows_a_standard_webhooks_secret_once(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    body = {"url": PUBLIC_URL, "types": ["slot.live", "slot.cancelled", "slot.live"]}
    created = await ok(await register(client, host_token, body), 201)
    assert set(created) == {"id", "secret"} and created["secret"].startswith("whsec_")
    Webhook(created["secret"])  # the package reads it
    (listed,) = await ok(await client.get("/api/events/tam/webhooks", headers=auth(host_token)))
    assert listed["id"] == created["id"] and listed["url"] == PUBLIC_URL
    assert listed["types"] == ["slot.cancelled", "slot.live"]
    assert listed["last_attempt"] is None and listed["pending"] == 0
    assert "secret" not in str(listed) and created["secret"] not in str(listed)


async def test_bad_input_is_a_400_and_an_unsafe_url_a_422_changing_nothing(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    for body in (
        {"url": PUBLIC_URL, "types": ["slot.exploded"]},
        {"url": PUBLIC_URL, "types": []},
        {"url": "ftp://example.com/hook"},
        {"url": "x" * 2001},
        {"types": ["slot.live"]},
        {"url": PUBLIC_URL, "secret": "mine"},
    ):
        response = await register(client, host_token, body)
        assert response.status_code == 400, (body, response.text)
    for url in ("http://1.1.1.1/hook", "https://127.0.0.1/hook", "https://10.0.0.7/hook"):
        response = await register(client, host_token, {"url": url})
        assert response.status_code == 422, (url, response.text)
    listed = await ok(await client.get("/api/events/tam/webhooks", headers=auth(host_token)))
    assert listed == []
    missing = await register(client, host_token, {"url": PUBLIC_URL}, slug="nope")
    assert missing.status_code == 404


async def test_only_hosts_see_or_change_webhooks(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    created = await ok(await register(client, host_token, {"url": PUBLIC_URL}), 201)
    ana = await make_person(client, host_token, "ana")
    calls = [
        ("POST", "/api/events/tam/webhooks", {"url": PUBLIC_URL}),
        ("GET", "/api/events/tam/webhooks", None),
        ("GET", f"/api/webhooks/{created['id']}/deliveries", None),
        ("DELETE", f"/api/webhooks/{created['id']}", None),
    ]
    for method, path, body in calls:
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
        creator = await client.request(method, path, json=body, headers=auth(ana["token"]))
        assert creator.status_code == 403, (method, path)
    assert len(await ok(await client.get("/api/events/tam/webhooks", headers=auth(host_token))))


async def test_removing_a_webhook_or_its_event_forgets_it(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    first = await ok(await register(client, host_token, {"url": PUBLIC_URL}), 201)
    second = await ok(await register(client, host_token, {"url": PUBLIC_URL}), 201)
    path = f"/api/webhooks/{first['id']}"
    await ok(await client.delete(path, headers=auth(host_token)), 204)
    assert (await client.delete(path, headers=auth(host_token))).status_code == 404
    gone = await client.get(f"{path}/deliveries", headers=auth(host_token))
    assert gone.status_code == 404
    listed = await ok(await client.get("/api/events/tam/webhooks", headers=auth(host_token)))
    assert [w["id"] for w in listed] == [second["id"]]
    await ok(await client.delete("/api/events/tam", headers=auth(host_token)), 204)
    deliveries = f"/api/webhooks/{second['id']}/deliveries"
    assert (await client.get(deliveries, headers=auth(host_token))).status_code == 404


async def test_deliveries_of_a_new_webhook_are_an_empty_page(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    created = await ok(await register(client, host_token, {"url": PUBLIC_URL}), 201)
    path = f"/api/webhooks/{created['id']}/deliveries"
    assert await ok(await client.get(path, headers=auth(host_token))) == []
    too_many = await client.get(f"{path}?limit=1000", headers=auth(host_token))
    assert too_many.status_code == 400
