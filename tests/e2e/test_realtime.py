"""Live streams over real WebSockets against a real server process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from tests import plain_http
from tests.conftest import ONE_BACKEND
from tests.e2e.conftest import Server, issue_host_token, server_env, start_server, stop_server
from tests.helpers import at

pytestmark = [ONE_BACKEND, pytest.mark.slow]  # the stream's protocol on the wire


def ws_url(server: Server, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


async def recv(ws: ClientConnection, wait: float = 10) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait))
    return message


async def closed_code(ws: ClientConnection, wait: float = 10) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), wait)
    return closed.value.rcvd.code if closed.value.rcvd else None


class Host:
    def __init__(self, client: httpx.AsyncClient, server: Server) -> None:
        self.client, self.server = client, server

    async def post(self, path: str, body: Any = None, token: str | None = None) -> Any:
        response = await self.client.post(path, json=body, headers=self.server.headers(token))
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def patch(self, path: str, body: Any) -> Any:
        response = await self.client.patch(path, json=body, headers=self.server.headers())
        assert response.status_code == 200, response.text
        return response.json()

    async def published_event(self, slug: str = "live") -> None:
        body = {
            "slug": slug,
            "title": "Live",
            "timezone": "UTC",
            "starts_at": at(0),
            "ends_at": at(23),
        }
        await self.post("/api/events", body)
        await self.post(f"/api/events/{slug}/channels", {"slug": "main", "name": "Main"})
        await self.post(f"/api/events/{slug}/publish")

    async def slot(self, hour: int, slug: str = "live") -> Any:
        body = {
            "channel": "main",
            "title": f"At {hour}",
            "starts_at": at(hour),
            "ends_at": at(hour + 1),
        }
        return await self.post(f"/api/events/{slug}/slots", body)


@pytest.fixture
async def host(server: Server) -> Any:
    async with plain_http.AsyncClient(base_url=server.url, timeout=30) as client:
        yield Host(client, server)


async def test_a_viewer_gets_a_snapshot_then_every_change_in_order(
    server: Server, host: Host
) -> None:
    await host.published_event()
    await host.slot(9)
    async with connect(ws_url(server, "/ws/events/live")) as ws:
        snapshot = await recv(ws)
        assert snapshot["type"] == "snapshot" and snapshot["event"] == "live"
        assert [s["title"] for s in snapshot["slots"]] == ["At 9"]
        slot = await host.slot(10)
        await host.patch(f"/api/slots/{slot['id']}", {"title": "Renamed"})
        created, updated = await recv(ws), await recv(ws)
    assert (created["type"], created["seq"]) == ("slot.created", snapshot["seq"] + 1)
    assert (updated["type"], updated["seq"]) == ("slot.updated", snapshot["seq"] + 2)
    assert updated["slot"]["title"] == "Renamed" and updated["event"] == "live"


async def test_a_viewer_who_reconnects_with_since_misses_nothing(
    server: Server, host: Host
) -> None:
    await host.published_event()
    async with connect(ws_url(server, "/ws/events/live")) as ws:
        last_seen = (await recv(ws))["seq"]
    # Changes made while the viewer was away arrive first, in order, then live ones.
    for hour in (8, 9, 10):
        await host.slot(hour)
    async with connect(ws_url(server, f"/ws/events/live?since={last_seen}")) as ws:
        replayed = [await recv(ws) for _ in range(3)]
        await host.slot(11)
        live = await recv(ws)
    seqs = [m["seq"] for m in [*replayed, live]]
    assert seqs == list(range(last_seen + 1, last_seen + 5))
    assert [m["slot"]["title"] for m in replayed] == ["At 8", "At 9", "At 10"]


async def test_since_beyond_the_log_gets_a_fresh_snapshot(server: Server, host: Host) -> None:
    await host.published_event()
    async with connect(ws_url(server, "/ws/events/live?since=999999")) as ws:
        assert (await recv(ws))["type"] == "snapshot"


async def test_drafts_and_unknown_events_have_no_stream(server: Server, host: Host) -> None:
    body = {
        "slug": "draft",
        "title": "Draft",
        "timezone": "UTC",
        "starts_at": at(0),
        "ends_at": at(23),
    }
    await host.post("/api/events", body)
    for slug in ("draft", "nope"):
        async with connect(ws_url(server, f"/ws/events/{slug}")) as ws:
            assert await closed_code(ws) == 4404


async def test_an_oversized_message_closes_the_connection_with_1009(
    server: Server, host: Host
) -> None:
    await host.published_event()
    async with connect(ws_url(server, "/ws/events/live"), max_size=None) as ws:
        await recv(ws)
        await ws.send("x" * (64 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(3):
                await asyncio.wait_for(ws.recv(), 10)
    codes = {c.code for c in (closed.value.rcvd, closed.value.sent) if c is not None}
    assert 1009 in codes


async def test_me_refuses_missing_wrong_and_host_tokens(server: Server) -> None:
    for suffix, headers, code in (
        ("", {}, 4401),
        ("?token=tam_wrong", {}, 4401),
        ("", {"Authorization": "Bearer tam_wrong"}, 4401),
        ("", server.headers(), 4403),
    ):
        async with connect(ws_url(server, f"/ws/me{suffix}"), additional_headers=headers) as ws:
            assert await closed_code(ws) == code


async def test_a_person_gets_notifications_sent_while_offline_then_live_ones(
    server: Server, host: Host
) -> None:
    await host.published_event()
    first, second = await host.slot(9), await host.slot(11)
    person = await host.post("/api/people", {"name": "Ana", "handle": "ana", "role": "creator"})
    body = {"person_id": person["id"], "role": "creator"}
    await host.post(f"/api/slots/{first['id']}/bookings", body)  # while Ana is offline
    headers = {"Authorization": f"Bearer {person['token']}"}
    async with connect(ws_url(server, "/ws/me"), additional_headers=headers) as ws:
        offline = await recv(ws)
        await host.post(f"/api/slots/{second['id']}/bookings", body)
        live = await recv(ws)
    assert (offline["type"], offline["kind"], offline["seq"]) == (
        "notification",
        "booking.invited",
        1,
    )
    assert offline["slot"]["id"] == first["id"]
    assert (live["kind"], live["seq"], live["slot"]["id"]) == ("booking.invited", 2, second["id"])
    # Reconnecting with since=1 (token in the query this time) sends only what came after.
    async with connect(ws_url(server, f"/ws/me?since=1&token={person['token']}")) as ws:
        assert (await recv(ws))["seq"] == 2
    stored = await host.client.get("/api/me/notifications?since=0", headers=headers)
    assert [n["seq"] for n in stored.json()] == [1, 2]


async def test_a_foreign_origin_is_refused_where_an_allow_list_is_set(
    db_url: str, tmp_path: Path
) -> None:
    env = server_env(db_url, TAKEAMOMENT_WS_ALLOWED_ORIGINS='["https://tam.example"]')
    token = issue_host_token(env, tmp_path)
    process, url = start_server(env, tmp_path)
    try:
        server = Server(url, token, env)
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            await Host(client, server).published_event()
        path = ws_url(server, "/ws/events/live")
        async with connect(path, origin=Origin("https://evil.example")) as ws:
            assert await closed_code(ws) == 4403
        async with connect(path, origin=Origin("https://tam.example")) as ws:
            assert (await recv(ws))["type"] == "snapshot"
    finally:
        stop_server(process)
