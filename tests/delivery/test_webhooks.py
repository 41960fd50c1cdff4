"""Webhooks delivered to a real receiver that verifies every signature with standardwebhooks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from takeamoment.settings import Settings
from tests.api.builders import event_with_channels
from tests.delivery.conftest import until
from tests.delivery.webhook_receiver import Endpoint, WebhookReceiver
from tests.helpers import Client, at, auth, make_slot, ok


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Retries after 0.05 s, 0.2 s, 0.8 s…: the schedule's shape, without the waiting.
    return settings.model_copy(
        update={"webhook_first_retry_seconds": 0.05, "delivery_poll_seconds": 0.2}
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    service = WebhookReceiver().start()
    yield service
    service.stop()


async def hook(
    client: Client, token: str, point: Endpoint, types: list[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": point.url, **({"types": types} if types else {})}
    response = await client.post("/api/events/tam/webhooks", json=body, headers=auth(token))
    created: dict[str, Any] = await ok(response, 201)
    point.secret = created["secret"]
    return created


async def attempts(client: Client, token: str, webhook_id: str, count: int) -> Any:
    """The webhook's attempts, once ``count`` of them are recorded (just after they were made)."""
    path = f"/api/webhooks/{webhook_id}/deliveries"
    found: list[Any] = []

    async def recorded() -> bool:
        found[:] = await ok(await client.get(path, headers=auth(token)))
        return len(found) >= count

    await until(recorded)
    return found


async def test_every_change_arrives_signed_in_order_as_on_the_change_log(
    client: Client, host_token: str, receiver: WebhookReceiver
) -> None:
    await event_with_channels(client, host_token)
    point = receiver.endpoint("all")
    created = await hook(client, host_token, point)
    first = await make_slot(client, host_token, at(9), at(10), title="Small habits")
    await make_slot(client, host_token, at(10), at(11))
    path = f"/api/slots/{first['id']}"
    await ok(await client.patch(path, json={"title": "Tiny habits"}, headers=auth(host_token)))
    await until(lambda: len(point.received) == 3)
    assert receiver.errors == []  # every signature and timestamp verified
    log = await ok(await client.get("/api/events/tam/changes", headers=auth(host_token)))
    assert point.received == log  # the change log's JSON, in seq order
    ids = [h["webhook-id"] for h in point.headers]
    assert len(set(ids)) == 3 and all(i.startswith("msg_") for i in ids)
    assert all(h["webhook-signature"].startswith("v1,") for h in point.headers)
    tries = await attempts(client, host_token, created["id"], 3)
    assert sorted(t["seq"] for t in tries) == [1, 2, 3]
    assert all(t["ok"] and t["status_code"] == 204 and t["attempt"] == 1 for t in tries)
    assert {t["message_id"] for t in tries} == set(ids)


async def test_a_receiver_failing_three_times_sees_the_same_id_four_times(
    client: Client, host_token: str, receiver: WebhookReceiver
) -> None:
    await event_with_channels(client, host_token)
    point = receiver.endpoint("flaky", fail_first=3)
    created = await hook(client, host_token, point)
    await make_slot(client, host_token, at(9), at(10))
    await until(lambda: len(point.received) == 1)
    assert receiver.errors == []
    assert len(point.headers) == 4
    assert len({h["webhook-id"] for h in point.headers}) == 1
    tries = await attempts(client, host_token, created["id"], 4)  # newest first
    assert [t["attempt"] for t in tries] == [4, 3, 2, 1]
    assert [t["status_code"] for t in tries] == [204, 500, 500, 500]
    assert [t["ok"] for t in tries] == [True, False, False, False]
    assert tries[1]["error"] == "HTTP 500" and tries[0]["error"] is None
    assert all(t["duration_ms"] >= 0 for t in tries)
    (listed,) = await ok(await client.get("/api/events/tam/webhooks", headers=auth(host_token)))
    assert listed["last_attempt"]["ok"] is True and listed["pending"] == 0
    page = await ok(
        await client.get(
            f"/api/webhooks/{created['id']}/deliveries?limit=2&offset=2",
            headers=auth(host_token),
        )
    )
    assert [t["attempt"] for t in page] == [2, 1]


async def test_types_filter_what_a_webhook_receives(
    client: Client, host_token: str, receiver: WebhookReceiver
) -> None:
    await event_with_channels(client, host_token)
    everything, removals = receiver.endpoint("all"), receiver.endpoint("removals")
    await hook(client, host_token, everything)
    await hook(client, host_token, removals, types=["slot.deleted"])
    slot = await make_slot(client, host_token, at(9), at(10))
    await ok(await client.delete(f"/api/slots/{slot['id']}", headers=auth(host_token)), 204)
    await until(lambda: len(everything.received) == 2 and len(removals.received) == 1)
    assert [m["type"] for m in everything.received] == ["slot.created", "slot.deleted"]
    assert [m["type"] for m in removals.received] == ["slot.deleted"]
    assert removals.received[0] == everything.received[1] and receiver.errors == []


async def test_a_removed_webhook_receives_nothing_more(
    client: Client, host_token: str, receiver: WebhookReceiver
) -> None:
    await event_with_channels(client, host_token)
    broken, kept = receiver.endpoint("broken", fail_first=10**6), receiver.endpoint("kept")
    removed = await hook(client, host_token, broken)
    await hook(client, host_token, kept)
    await make_slot(client, host_token, at(9), at(10))
    await until(lambda: len(broken.headers) >= 2)  # failing and being retried
    await ok(await client.delete(f"/api/webhooks/{removed['id']}", headers=auth(host_token)), 204)
    await make_slot(client, host_token, at(10), at(11))
    await until(lambda: len(kept.received) == 2)
    assert {h["webhook-id"] for h in broken.headers} == {broken.headers[0]["webhook-id"]}
    listed = await ok(await client.get("/api/events/tam/webhooks", headers=auth(host_token)))
    assert [w["url"] for w in listed] == [kept.url]
