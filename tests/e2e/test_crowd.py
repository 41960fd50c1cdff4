"""Crowds against real servers: what the arrival-storm and slow-consumer optimisations must keep.

Viewers arriving while the schedule changes each get a snapshot that is true at its seq (served
from memory while the process trusts it), then every later change once and in order; a viewer
whose client stops reading is dropped with 4008 without delaying anyone, and resumes with
``since`` missing nothing.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests import plain_http
from tests.conftest import ONE_BACKEND
from tests.e2e.conftest import Server, _serve, server_env
from tests.e2e.test_realtime import Host, recv, ws_url

pytestmark = [ONE_BACKEND, pytest.mark.slow]  # fan-out to a crowd of sockets

VIEWERS = 30
CHANGES = 12


@pytest.fixture
def small_backlog_server(db_url: str, tmp_path: Path) -> Any:
    """One process whose viewers may fall 5 messages behind before they are dropped."""
    yield from _serve(server_env(db_url, TAKEAMOMENT_WS_MAX_BACKLOG="5"), tmp_path, workers=1)


async def _view_until(ws: ClientConnection, last_seq: int) -> tuple[dict[str, Any], list[Any]]:
    snapshot = await recv(ws, 30)
    changes: list[dict[str, Any]] = []
    seq = snapshot["seq"]
    while seq < last_seq:
        message = await recv(ws, 30)
        changes.append(message)
        seq = message["seq"]
    return snapshot, changes


def _apply(snapshot: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, str]:
    """Slot id: title, as a viewer holds it after applying every change to its snapshot."""
    titles = {slot["id"]: slot["title"] for slot in snapshot["slots"]}
    for change in changes:
        if "slot" in change:
            titles[change["slot"]["id"]] = change["slot"]["title"]
    return titles


async def _storm(server: Server, host: Host, viewer_urls: list[str]) -> None:
    await host.published_event()
    slots = [await host.slot(hour) for hour in (9, 11, 13)]
    connected = asyncio.Event()

    async def viewer(url: str) -> tuple[dict[str, Any], list[Any]]:
        async with connect(url) as ws:
            connected.set()
            await final_seq
            return await _view_until(ws, final_seq.result())

    final_seq: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    viewers = [asyncio.create_task(viewer(url)) for url in viewer_urls]
    await connected.wait()
    for index in range(CHANGES):  # while the crowd is still arriving
        slot = slots[index % len(slots)]
        await host.patch(f"/api/slots/{slot['id']}", {"title": f"Take {index}"})
    changes = (await host.client.get("/api/events/live/changes")).json()
    final_seq.set_result(changes[-1]["seq"])
    seen = await asyncio.gather(*viewers)

    schedule = (await host.client.get("/api/events/live/schedule")).json()
    expected = {slot["id"]: slot["title"] for slot in schedule["slots"]}
    for snapshot, received in seen:
        seqs = [message["seq"] for message in received]
        assert seqs == list(range(snapshot["seq"] + 1, final_seq.result() + 1))
        assert _apply(snapshot, received) == expected


async def _storm_on(server: Server) -> None:
    async with plain_http.AsyncClient(base_url=server.url, timeout=30) as client:
        await _storm(server, Host(client, server), [ws_url(server, "/ws/events/live")] * VIEWERS)


async def test_a_crowd_arriving_during_changes_gets_true_snapshots_then_every_change(
    server: Server,
) -> None:
    await _storm_on(server)


async def test_the_same_across_two_worker_processes(workers_server: Server) -> None:
    await _storm_on(workers_server)


def _slow_socket(url: str) -> socket.socket:
    """A client socket that takes little before the server must keep the rest."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return sock


async def test_a_viewer_that_stops_reading_is_dropped_with_4008_and_resumes_with_since(
    small_backlog_server: Server,
) -> None:
    server = small_backlog_server
    async with plain_http.AsyncClient(base_url=server.url, timeout=30) as client:
        host = Host(client, server)
        await host.published_event()
        slot = await host.slot(9)
        url = ws_url(server, "/ws/events/live")
        async with (
            connect(url) as healthy,
            connect(url, sock=_slow_socket(server.url), max_queue=1) as slow,
        ):
            start = (await recv(healthy))["seq"]
            assert (await recv(slow))["seq"] == start
            # The slow client reads nothing more: its buffers, then its backlog, fill up.
            changes = 120
            for index in range(changes):
                text = f"{index} " + "x" * 4000
                await host.patch(f"/api/slots/{slot['id']}", {"description": text[:4000]})
                got = await recv(healthy)
                assert got["seq"] == start + 1 + index  # never held back by the slow one
            seen: list[int] = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:  # now read what had reached it, then the close
                    seen.append(json.loads(await asyncio.wait_for(slow.recv(), 30))["seq"])
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
        assert seen == list(range(start + 1, start + 1 + len(seen)))
        assert len(seen) < changes  # it was dropped, not served to the end
        async with connect(f"{url}?since={seen[-1] if seen else start}") as resumed:
            rest = [(await recv(resumed))["seq"] for _ in range(changes - len(seen))]
        assert seen + rest == list(range(start + 1, start + changes + 1))
