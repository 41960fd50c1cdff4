"""Who may call what: 401 without a valid token, 403 for a wrong role or another person."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect

from takeamoment.db.engine import Database
from takeamoment.services.host_tokens import list_host_tokens, revoke_token, token_id_of
from takeamoment.settings import Settings
from tests.api.builders import event_with_channels, invite, slot_with_person
from tests.conftest import ONE_BACKEND
from tests.helpers import Client, at, auth, make_person, ok

pytestmark = ONE_BACKEND  # who may call what

# Every host-only route, with a body that would be valid, so only the token decides the answer.
HOST_ONLY: list[tuple[str, str, Any]] = [
    (
        "POST",
        "/api/events",
        {"slug": "x", "title": "X", "timezone": "UTC", "starts_at": at(0), "ends_at": at(1)},
    ),
    ("PATCH", "/api/events/tam", {"title": "Mine now"}),
    ("POST", "/api/events/tam/publish", None),
    ("POST", "/api/events/tam/channels", {"slug": "side", "name": "Side"}),
    (
        "POST",
        "/api/events/tam/slots",
        {"channel": "main", "title": "X", "starts_at": at(12), "ends_at": at(13)},
    ),
    ("POST", "/api/people", {"name": "Eve", "handle": "eve", "role": "creator"}),
    ("POST", "/api/people/{person}/license/verify", None),
    ("PATCH", "/api/slots/{slot}", {"title": "Mine now"}),
    ("POST", "/api/slots/{slot}/bookings", {"person_id": "{person}", "role": "creator"}),
    ("DELETE", "/api/bookings/{booking}", None),
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests send many bad tokens on purpose; the failure limit has its own tests."""
    return settings.model_copy(update={"auth_failure_limit": 10_000})


def filled(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: filled(item, ids) for key, item in value.items()}
    return value


async def test_every_host_only_route_is_401_without_a_token_and_403_for_a_creator(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    booking = await invite(client, host_token, slot["id"], ana)
    ids = {"person": ana["id"], "slot": slot["id"], "booking": booking["id"]}
    for method, path, body in HOST_ONLY:
        url, json = filled(path, ids), filled(body, ids)
        for headers, status in (({}, 401), (auth(ana["token"]), 403), (auth("tam_nope"), 401)):
            response = await client.request(method, url, json=json, headers=headers)
            assert response.status_code == status, (method, path, headers, response.text)
            assert response.json()["status_code"] == status
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert (event["title"], event["status"], event["last_seq"]) == ("Take A Moment", "draft", 1)


async def test_an_unknown_token_or_another_scheme_is_401_with_a_bearer_challenge(
    client: Client, host_token: str
) -> None:
    for header in (
        "Bearer tam_unknown",
        "Bearer ",
        f"Basic {host_token}",
        host_token,
        f"Bearer {host_token}x",
    ):
        body = {"name": "Eve", "handle": "eve", "role": "creator"}
        response = await client.post("/api/people", json=body, headers={"Authorization": header})
        assert response.status_code == 401, (header, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert (
        await client.post("/api/people", json=body, headers=auth(host_token))
    ).status_code == 201


async def test_self_or_host_routes_are_401_anonymous_and_403_for_another_person(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    bob = await make_person(client, host_token, "bob")
    booking = await invite(client, host_token, slot["id"], ana)
    routes: list[tuple[str, str, Any]] = [
        ("GET", f"/api/people/{ana['id']}", None),
        ("PUT", f"/api/people/{ana['id']}/availability", []),
        ("POST", f"/api/people/{ana['id']}/feed-token/rotate", None),
        ("POST", f"/api/bookings/{booking['id']}/accept", None),
        ("POST", f"/api/bookings/{booking['id']}/decline", None),
    ]
    for method, path, body in routes:
        for headers, status in (({}, 401), (auth("tam_nope"), 401), (auth(bob["token"]), 403)):
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == status, (method, path, headers, response.text)


async def test_a_creator_token_is_no_host_for_reads(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    ana = await make_person(client, host_token, "ana")
    assert await ok(await client.get("/api/events", headers=auth(ana["token"]))) == []
    response = await client.get("/api/events/tam/schedule", headers=auth(ana["token"]))
    assert response.status_code == 404, response.text


CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def sign_in(client: Client, token: str) -> None:
    """Sign in to the host console through its form; the client keeps the session cookie."""
    page = await client.get("/host/login")
    match = CSRF_FIELD.search(page.text)
    assert match, page.text
    form = {"_csrf_token": match.group(1), "token": token, "next": "/host"}
    response = await client.post("/host/login", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text


async def test_a_revoked_host_token_stops_working_at_once_with_its_console_sessions(
    client: Client, db: Database, host_token: str
) -> None:
    body = {"name": "Eve", "handle": "eve", "role": "creator"}
    await ok(await client.post("/api/people", json=body, headers=auth(host_token)), 201)
    await sign_in(client, host_token)
    assert (await client.get("/host", follow_redirects=False)).status_code == 200

    token_id = await token_id_of(db, host_token)
    assert token_id is not None
    info, changed = await revoke_token(db, token_id)
    assert changed and info.revoked_at is not None and info.owner == "Test Host"

    body = {"name": "Fay", "handle": "fay", "role": "creator"}
    refused = await client.post("/api/people", json=body, headers=auth(host_token))
    assert refused.status_code == 401, refused.text
    console = await client.get("/host", follow_redirects=False)
    assert console.status_code == 303
    assert console.headers["location"].startswith("/host/login")
    # Revoking again changes nothing; the listing shows it revoked, never the token or its hash.
    again, changed = await revoke_token(db, token_id)
    assert not changed and again.revoked_at == info.revoked_at
    listed = await list_host_tokens(db)
    assert [(t.id, t.is_active) for t in listed] == [(token_id, False)]
    assert host_token not in repr(listed)


async def test_a_revoked_creator_token_is_401_on_the_api_and_4401_on_their_stream(
    client: Client, db: Database, host_token: str
) -> None:
    ana = await make_person(client, host_token, "ana")
    assert (
        await client.get("/api/me/notifications", headers=auth(ana["token"]))
    ).status_code == 200
    token_id = await token_id_of(db, ana["token"])
    assert token_id is not None
    await revoke_token(db, token_id)

    response = await client.get("/api/me/notifications", headers=auth(ana["token"]))
    assert response.status_code == 401, response.text
    for query in (f"?token={ana['token']}", ""):
        headers = {} if query else auth(ana["token"])
        ws = await client.websocket_connect(f"/ws/me{query}", headers=headers)
        with ws, pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=10)
        assert closed.value.code == 4401
