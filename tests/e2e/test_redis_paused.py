"""A Redis that accepts connections and never answers (SIGSTOP) must not hold any write.

Writes publish after commit into a bounded in-process queue that a worker drains into Redis;
viewers on the writing process get each change at once, and every Redis client has connect and
socket timeouts (the request and sign-in limits also stop asking Redis for a while after it
failed). The client below gives up after ``CLIENT_TIMEOUT_S``, less than the 2 s each write
used to wait per message, so a write that waits on Redis fails the test.

Run: ``.venv/bin/pytest tests/e2e/test_redis_paused.py -s -q`` (prints what each write took).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from takeamoment.db.engine import Outbound
from takeamoment.realtime.bus import Bus, make_channels_plugin
from takeamoment.realtime.hub import Hub
from takeamoment.redis_client import redis_client
from tests import plain_http
from tests.e2e.conftest import (
    Server,
    issue_host_token,
    server_env,
    start_server,
    stop_server,
)
from tests.e2e.private_services import PrivateRedis, private_redis
from tests.helpers import at

__all__ = ["private_redis"]  # a fixture, used by name below

pytestmark = [pytest.mark.slow, pytest.mark.redis]

CLIENT_TIMEOUT_S = 1.9
SLOTS = 11  # back to back: a delay of the first moves the ten after it


@pytest.fixture
def paused_redis_server(
    db_url: str, private_redis: PrivateRedis, tmp_path: Path
) -> Iterator[tuple[Server, PrivateRedis]]:
    env = server_env(
        db_url,
        TAKEAMOMENT_REDIS_URL=private_redis.url,
        TAKEAMOMENT_BUS_CHANNEL=f"paused-{uuid.uuid4().hex[:8]}",
        # Every Redis-backed limit in play: requests, failed sign-ins (loopback not exempt).
        TAKEAMOMENT_RATE_LIMIT_PER_MINUTE="1000000",
        TAKEAMOMENT_LIMIT_EXEMPT_ADDRESSES="[]",
    )
    token = issue_host_token(env, tmp_path)
    process, url = start_server(env, tmp_path)
    try:
        yield Server(url, token, env), private_redis
    finally:
        private_redis.resume()  # a stopped process cannot be killed cleanly
        stop_server(process)


async def timed(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> float:
    """Send one request (failing past the client timeout); how long it took, in seconds."""
    started = time.perf_counter()
    response = await client.request(method, path, **kwargs)
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 201), response.text
    return elapsed


async def seqs_until(ws: ClientConnection, last: int, seen: list[int]) -> None:
    """Read the stream until ``last`` arrives (at most 20 s)."""
    async with asyncio.timeout(20):
        while not seen or seen[-1] < last:
            seen.append(json.loads(await ws.recv())["seq"])


async def test_writes_never_wait_on_a_paused_redis_and_local_viewers_get_every_change(
    paused_redis_server: tuple[Server, PrivateRedis],
) -> None:
    server, redis = paused_redis_server
    headers = server.headers()
    event = {"slug": "p", "title": "P", "timezone": "UTC", "starts_at": at(0), "ends_at": at(23)}
    async with plain_http.AsyncClient(base_url=server.url, timeout=30) as setup:
        for path, body in [
            ("/api/events", event),
            ("/api/events/p/channels", {"slug": "main", "name": "Main"}),
            ("/api/events/p/publish", None),
        ]:
            assert (await setup.post(path, json=body, headers=headers)).status_code in (200, 201)
        slots = []
        for n in range(SLOTS):
            body = {"channel": "main", "title": f"S{n}", "starts_at": at(8, 15 * n)}
            body["ends_at"] = at(8, 15 * n + 15)
            response = await setup.post("/api/events/p/slots", json=body, headers=headers)
            slots.append(response.json())
    ws_url = server.url.replace("http://", "ws://") + "/ws/events/p"
    async with (
        connect(ws_url) as viewer,
        plain_http.AsyncClient(base_url=server.url, timeout=CLIENT_TIMEOUT_S) as client,
    ):
        snapshot = json.loads(await viewer.recv())
        seen: list[int] = [snapshot["seq"]]
        redis.pause()
        took: dict[str, list[float]] = {"slot": [], "delay": [], "read": []}
        for n in range(3):
            body = {"channel": "main", "title": f"Late {n}", "starts_at": at(20, 10 * n)}
            body["ends_at"] = at(20, 10 * n + 5)
            took["slot"].append(
                await timed(client, "POST", "/api/events/p/slots", json=body, headers=headers)
            )
            delay = {"minutes": 1, "cascade": True}
            path = f"/api/slots/{slots[0]['id']}/delay"
            took["delay"].append(await timed(client, "POST", path, json=delay, headers=headers))
            took["read"].append(await timed(client, "GET", "/api/events/p/schedule"))
        last = (await client.get("/api/events/p/changes?since=0")).json()[-1]["seq"]
        # Still paused: the viewer on the writing process got every change anyway.
        await seqs_until(viewer, last, seen)
        redis.resume()
        await timed(client, "POST", path, json=delay, headers=headers)
        await seqs_until(viewer, last + SLOTS, seen)
    assert seen == list(range(snapshot["seq"], last + SLOTS + 1))
    print(
        "[redis paused] seconds per request: "
        + "; ".join(f"{kind}: {', '.join(f'{t:.3f}' for t in ts)}" for kind, ts in took.items())
    )


async def test_when_the_queue_is_full_the_oldest_go_counted_and_the_rest_follow_in_order(
    private_redis: PrivateRedis,
) -> None:
    channel = f"queue-{uuid.uuid4().hex[:8]}"
    writer_hub, reader_hub = Hub(max_backlog=100), Hub(max_backlog=100)
    buses = []
    for hub, max_pending in ((writer_hub, 3), (reader_hub, 3)):
        redis = redis_client(private_redis.url)
        bus = Bus(make_channels_plugin(redis, channel), hub, channel, redis, max_pending)
        await bus.start()
        buses.append(bus)
    writer, reader = buses
    try:
        async with asyncio.timeout(10):
            while not (writer.subscribed and reader.subscribed):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        with writer_hub.subscribe("event:x") as here, reader_hub.subscribe("event:x") as there:
            private_redis.pause()
            outbox = [
                Outbound("event:x", {"seq": seq, "type": "slot.updated"}) for seq in range(1, 6)
            ]
            await asyncio.wait_for(writer.publish(outbox), 0.5)  # never waits on Redis
            assert [m.seq for m in here.take_waiting()] == [1, 2, 3, 4, 5]
            assert writer.dropped == 2
            assert [envelope["message"]["seq"] for envelope in writer.pending] == [3, 4, 5]
            private_redis.resume()
            received: list[int] = []
            async with asyncio.timeout(15):
                while len(received) < 3:  # noqa: ASYNC110 - a subscription without a stream
                    received += [m.seq for m in there.take_waiting()]
                    await asyncio.sleep(0.05)
            assert received == [3, 4, 5]  # the oldest were dropped; a hole fills from the log
            assert not here.take_waiting()  # the writer's own echo is not dispatched twice
    finally:
        for bus in buses:
            await bus.stop()
            assert bus.redis is not None
            await bus.redis.aclose()
