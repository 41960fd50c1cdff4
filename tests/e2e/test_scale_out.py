"""Past one process: two servers sharing the database and Redis, and a bus that loses messages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from takeamoment.db.engine import Database
from takeamoment.services import slots
from takeamoment.services.inputs import SlotCreate
from tests import plain_http
from tests.e2e.conftest import (
    Server,
    bus_env,
    issue_host_token,
    server_env,
    start_server,
    stop_server,
)
from tests.e2e.test_realtime import Host, recv, ws_url
from tests.helpers import at

pytestmark = pytest.mark.slow


@pytest.fixture
def two_servers(db_url: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    env = server_env(db_url, **bus_env(redis_url))
    token = issue_host_token(env, tmp_path)
    first, first_url = start_server(env, tmp_path)
    try:
        second, second_url = start_server(env, tmp_path)
        try:
            yield Server(first_url, token, env), Server(second_url, token, env)
        finally:
            stop_server(second)
    finally:
        stop_server(first)


@pytest.mark.redis
async def test_changes_made_through_either_server_reach_a_viewer_of_the_other_in_order(
    two_servers: tuple[Server, Server],
) -> None:
    writer, watched = two_servers
    async with (
        plain_http.AsyncClient(base_url=writer.url, timeout=30) as to_writer,
        plain_http.AsyncClient(base_url=watched.url, timeout=30) as to_watched,
    ):
        via_writer, via_watched = Host(to_writer, writer), Host(to_watched, watched)
        await via_writer.published_event()
        async with connect(ws_url(watched, "/ws/events/live")) as ws:
            start = (await recv(ws))["seq"]
            # Both servers write concurrently; the viewer still sees one gap-free sequence.
            await asyncio.gather(
                *(via_writer.slot(hour) for hour in range(0, 20, 2)),
                *(via_watched.slot(hour) for hour in range(1, 20, 2)),
            )
            received = [await recv(ws) for _ in range(20)]
    assert [m["seq"] for m in received] == list(range(start + 1, start + 21))
    assert sorted(m["slot"]["title"] for m in received) == sorted(f"At {h}" for h in range(20))


async def test_a_change_committed_but_never_published_still_reaches_viewers(
    server: Server, db_url: str
) -> None:
    """As if a process died between its commit and its publish: the next change fills the gap."""
    async with plain_http.AsyncClient(base_url=server.url, timeout=30) as client:
        host = Host(client, server)
        await host.published_event()
        async with connect(ws_url(server, "/ws/events/live")) as ws:
            start = (await recv(ws))["seq"]
            silent = Database(db_url)  # no bus attached: commits, publishes nothing
            try:
                body = {"channel": "main", "title": "Silent", "starts_at": at(5), "ends_at": at(6)}
                await slots.create_slot(silent, "live", SlotCreate.model_validate(body))
            finally:
                await silent.dispose()
            await host.slot(7)
            first, second = await recv(ws), await recv(ws)
    assert [(first["seq"], first["slot"]["title"]), (second["seq"], second["slot"]["title"])] == [
        (start + 1, "Silent"),
        (start + 2, "At 7"),
    ]
