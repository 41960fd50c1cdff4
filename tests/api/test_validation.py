"""Bad input is refused with a 4xx and Litestar's error shape, never a 500."""

from __future__ import annotations

from typing import Any

from tests.api.builders import event_with_channels, slot_with_person
from tests.helpers import Client, at, auth, make_slot, ok

SLOT_BODY = {"channel": "main", "title": "Session", "starts_at": at(10), "ends_at": at(11)}


async def test_malformed_json_is_400(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    headers = {**auth(host_token), "Content-Type": "application/json"}
    for method, path in (
        ("POST", "/api/events"),
        ("POST", "/api/events/tam/slots"),
        ("PATCH", f"/api/slots/{slot['id']}"),
        ("POST", "/api/people"),
    ):
        for content in (b"{bad", b'{"title": "x"', b"", b"\xff\xfe"):
            response = await client.request(method, path, content=content, headers=headers)
            assert response.status_code == 400, (method, path, content, response.text)
            assert response.json()["status_code"] == 400


async def test_a_body_over_one_mib_is_413(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    body = {**SLOT_BODY, "description": "x" * (1024 * 1024)}
    response = await client.post("/api/events/tam/slots", json=body, headers=auth(host_token))
    assert response.status_code == 413, response.text[:200]
    response = await client.post(
        "/api/events/tam/slots",
        content=b" " * (1024 * 1024 + 1),
        headers={**auth(host_token), "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text[:200]


async def test_wrong_types_and_values_are_400(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    refused: list[tuple[str, str, Any]] = [
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "title": 5}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "starts_at": 1_700_000_000}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "starts_at": "tomorrow"}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "tags": "calm"}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "title": ""}),
        ("POST", "/api/events/tam/slots", {"title": "no channel, no times"}),
        ("POST", "/api/events/tam/slots", [SLOT_BODY]),
        ("PATCH", "/api/events/tam", {"changeover_minutes": "five"}),
        ("PATCH", "/api/events/tam", {"changeover_minutes": -1}),
        ("PATCH", "/api/events/tam", {"reminder_minutes": [0]}),
        ("PATCH", f"/api/slots/{slot['id']}", {"starts_at": None, "ends_at": "2030-10-10T11:00"}),
        ("PATCH", f"/api/slots/{slot['id']}", {"tags": [1, 2]}),
        ("POST", f"/api/slots/{slot['id']}/bookings", {"person_id": ana["id"], "role": "host"}),
        ("POST", f"/api/slots/{slot['id']}/bookings", {"person_id": ana["id"]}),
        ("POST", "/api/people", {"name": "X", "handle": "has space", "role": "creator"}),
        ("POST", "/api/people", {"name": "X", "handle": "x", "role": "creator", "email": "nope"}),
        ("POST", "/api/people", {"name": "X", "handle": "x", "role": "therapist", "license": {}}),
        ("PUT", f"/api/people/{ana['id']}/availability", {"starts_at": at(9), "ends_at": at(10)}),
        ("PUT", f"/api/people/{ana['id']}/availability", [{"starts_at": at(9), "ends_at": at(8)}]),
        ("GET", "/api/events/tam/changes?since=-1", None),
        ("GET", "/api/events/tam/changes?since=two", None),
    ]
    for method, path, body in refused:
        response = await client.request(method, path, json=body, headers=auth(host_token))
        assert response.status_code == 400, (method, path, body, response.text)
        assert response.json()["status_code"] == 400


async def test_unknown_ids_are_404(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    channel = {"slug": "side", "name": "Side"}
    licence_free = {"name": "X", "handle": "x", "role": "creator"}
    unknown: list[tuple[str, str, Any]] = [
        ("GET", "/api/events/nope", None),
        ("GET", "/api/events/nope/schedule", None),
        ("GET", "/api/events/nope/changes", None),
        ("PATCH", "/api/events/nope", {"title": "x"}),
        ("POST", "/api/events/nope/publish", None),
        ("POST", "/api/events/nope/channels", channel),
        ("POST", "/api/events/nope/slots", SLOT_BODY),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "channel": "nope"}),
        ("GET", "/api/people/nope", None),
        ("POST", "/api/people/nope/license/verify", None),
        ("PUT", "/api/people/nope/availability", []),
        ("POST", "/api/people/nope/feed-token/rotate", None),
        ("PATCH", "/api/slots/nope", {"title": "x"}),
        ("POST", "/api/slots/nope/bookings", {"person_id": ana["id"], "role": "creator"}),
        ("POST", f"/api/slots/{slot['id']}/bookings", {"person_id": "nope", "role": "creator"}),
        ("POST", "/api/bookings/nope/accept", None),
        ("POST", "/api/bookings/nope/decline", None),
        ("DELETE", "/api/bookings/nope", None),
        ("GET", "/api/nothing-here", None),
    ]
    for method, path, body in unknown:
        response = await client.request(method, path, json=body, headers=auth(host_token))
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["status_code"] == 404
    assert (
        await client.post("/api/people", json=licence_free, headers=auth(host_token))
    ).is_success


async def test_nul_characters_anywhere_are_400(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(14), at(15))
    refused: list[tuple[str, str, Any]] = [
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "title": "a\x00b"}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "channel": "ma\x00in"}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "tags": ["\x00"]}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "kind": "\x00"}),
        ("PATCH", f"/api/slots/{slot['id']}", {"description": "\x00"}),
        ("PATCH", "/api/events/tam", {"title": "\x00", "hashtags": ["a\x00"]}),
        ("PATCH", "/api/events/tam", {"safety_resources": [{"name": "\x00"}]}),
        ("POST", f"/api/slots/{slot['id']}/bookings", {"person_id": "\x00", "role": "creator"}),
        ("POST", "/api/people", {"name": "\x00", "handle": "x", "role": "creator"}),
        ("GET", "/api/events/t%00am", None),
        ("GET", "/api/people/a%00b", None),
        ("PATCH", "/api/slots/a%00b", {"title": "x"}),
        ("POST", "/api/bookings/a%00b/accept", None),
    ]
    for method, path, body in refused:
        response = await client.request(method, path, json=body, headers=auth(host_token))
        assert response.status_code == 400, (method, path, body, response.text)
    (listed,) = await ok(await client.get("/api/events", headers=auth(host_token)))
    assert listed["title"] == "Take A Moment"
    assert (
        len(
            (await ok(await client.get("/api/events/tam/schedule", headers=auth(host_token))))[
                "slots"
            ]
        )
        == 1
    )


async def test_datetimes_and_numbers_out_of_range_are_400(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    far = {"starts_at": "9999-12-31T20:00:00-05:00", "ends_at": "9999-12-31T23:00:00+00:00"}
    early = {"starts_at": "0001-01-01T00:00:00+01:00", "ends_at": "0001-01-02T00:00:00+00:00"}
    event = {"slug": "far", "title": "Far", "timezone": "UTC"}
    refused: list[tuple[str, str, Any]] = [
        ("POST", "/api/events", {**event, **far}),
        ("POST", "/api/events", {**event, **early}),
        ("POST", "/api/events", {**event, "starts_at": at(0), "ends_at": far["ends_at"]}),
        ("PATCH", f"/api/slots/{slot['id']}", early),
        ("GET", f"/api/events/tam/changes?since={2**31}", None),
        ("GET", f"/api/events/tam/changes?since={2**64}", None),
    ]
    for method, path, body in refused:
        response = await client.request(method, path, json=body, headers=auth(host_token))
        assert response.status_code == 400, (method, path, body, response.text)
