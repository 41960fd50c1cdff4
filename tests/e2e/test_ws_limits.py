"""WebSocket limits against a real server: connections per address, and whose pages may open
the authenticated stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from takeamoment.realtime.limits import ConnectionCounter
from tests import plain_http
from tests.conftest import ONE_BACKEND
from tests.e2e.conftest import Server, issue_host_token, server_env, start_server, stop_server
from tests.e2e.test_realtime import Host, closed_code, recv, ws_url

pytestmark = ONE_BACKEND  # limits on connections, not storage


PUBLIC_URL = "https://tam.example"


def test_the_counter_admits_up_to_the_limit_per_address_and_zero_means_no_limit() -> None:
    counter = ConnectionCounter(2)
    assert [counter.acquire("10.0.0.1") for _ in range(3)] == [True, True, False]
    assert counter.acquire("10.0.0.2")  # another address has its own count
    counter.release("10.0.0.1")
    assert counter.acquire("10.0.0.1")
    for _ in range(2):
        counter.release("10.0.0.1")
    assert counter.open("10.0.0.1") == 0
    unlimited = ConnectionCounter(0)
    assert all(unlimited.acquire("10.0.0.1") for _ in range(1000))


@pytest.fixture
def limited_server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    """At most 2 WebSockets per address; the public URL is https://tam.example."""
    env = server_env(
        db_url,
        TAKEAMOMENT_WS_MAX_PER_CLIENT="2",
        TAKEAMOMENT_PUBLIC_URL=PUBLIC_URL,
        TAKEAMOMENT_LIMIT_EXEMPT_ADDRESSES="[]",  # the test's clients are on loopback
    )
    token = issue_host_token(env, tmp_path)
    process, url = start_server(env, tmp_path)
    try:
        yield Server(url, token, env)
    finally:
        stop_server(process)


@pytest.fixture
async def limited_host(limited_server: Server) -> AsyncIterator[Host]:
    async with plain_http.AsyncClient(base_url=limited_server.url, timeout=30) as client:
        host = Host(client, limited_server)
        await host.published_event()
        yield host


@pytest.mark.slow
async def test_an_address_past_its_connection_limit_is_told_to_try_again_later(
    limited_server: Server, limited_host: Host
) -> None:
    path = ws_url(limited_server, "/ws/events/live")
    async with AsyncExitStack() as held:
        first = await held.enter_async_context(connect(path))
        second = await held.enter_async_context(connect(path))
        for ws in (first, second):
            assert (await recv(ws))["type"] == "snapshot"
        async with connect(path) as third:
            with pytest.raises(ConnectionClosed) as closed:
                await third.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
        assert closed.value.rcvd.reason == "too many connections from your address (limit 2)"
        await second.close()  # /ws/me counts against the same limit; a freed place is reusable
        async with connect(ws_url(limited_server, "/ws/me")) as me:
            assert await closed_code(me) == 4401  # let in: refused only for having no token
        async with connect(path) as again:
            assert (await recv(again))["type"] == "snapshot"


async def _person_with_a_notification(host: Host) -> Any:
    slot = await host.slot(9)
    person = await host.post("/api/people", {"name": "Ana", "handle": "ana", "role": "creator"})
    body = {"person_id": person["id"], "role": "creator"}
    await host.post(f"/api/slots/{slot['id']}/bookings", body)
    return person


@pytest.mark.slow
async def test_the_personal_stream_takes_only_the_sites_own_pages_and_non_browsers(
    limited_server: Server, limited_host: Host
) -> None:
    person = await _person_with_a_notification(limited_host)
    path = ws_url(limited_server, f"/ws/me?token={person['token']}")
    async with connect(path, origin=Origin("https://evil.example")) as ws:
        assert await closed_code(ws) == 4403
    async with connect(path, origin=Origin(PUBLIC_URL)) as ws:
        assert (await recv(ws))["kind"] == "booking.invited"
    async with connect(path) as ws:  # no Origin: `takeamoment watch`, scripts
        assert (await recv(ws))["kind"] == "booking.invited"


@pytest.mark.slow
async def test_the_public_stream_takes_any_origin_by_default(
    limited_server: Server, limited_host: Host
) -> None:
    path = ws_url(limited_server, "/ws/events/live")
    async with connect(path, origin=Origin("https://elsewhere.example")) as ws:
        assert (await recv(ws))["type"] == "snapshot"


@pytest.mark.slow
async def test_a_configured_allow_list_governs_the_personal_stream_too(
    db_url: str, tmp_path: Path
) -> None:
    env = server_env(db_url, TAKEAMOMENT_WS_ALLOWED_ORIGINS='["https://app.example"]')
    token = issue_host_token(env, tmp_path)
    process, url = start_server(env, tmp_path)
    try:
        server = Server(url, token, env)
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            host = Host(client, server)
            await host.published_event()
            person = await _person_with_a_notification(host)
        path = ws_url(server, f"/ws/me?token={person['token']}")
        async with connect(path, origin=Origin("http://127.0.0.1:8000")) as ws:
            assert await closed_code(ws) == 4403  # the public URL no longer counts
        async with connect(path, origin=Origin("https://app.example")) as ws:
            assert (await recv(ws))["kind"] == "booking.invited"
    finally:
        stop_server(process)
