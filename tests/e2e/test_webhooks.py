"""Webhooks from a real server process, across SIGKILL and restart: nothing committed is lost.

The receiver (``tests/delivery/webhook_receiver.py``) holds the first POST before accepting it;
the server is SIGKILLed while that POST is under way and the other messages are committed but
not yet sent (one send at a time; some claimed, some not). After a restart every change reaches
every webhook, each under the ``webhook-id`` it was committed with, every signature verified.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import plain_http
from tests.delivery.webhook_receiver import WebhookReceiver
from tests.e2e.conftest import (
    Server,
    issue_host_token,
    kill_hard,
    server_env,
    start_server,
    stop_server,
    until,
)

pytestmark = pytest.mark.slow

HOOKS = ("a", "b", "c")
SLOTS = 10


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    service = WebhookReceiver().start()
    yield service
    service.stop()


async def world(client: httpx.AsyncClient, server: Server, receiver: WebhookReceiver) -> None:
    headers = server.headers()
    event = {
        "slug": "tam",
        "title": "Take A Moment",
        "timezone": "Europe/London",
        "starts_at": "2030-10-10T08:00:00Z",
        "ends_at": "2030-10-10T20:00:00Z",
    }
    assert (await client.post("/api/events", json=event, headers=headers)).status_code == 201
    channel = {"slug": "main", "name": "Main Stage"}
    response = await client.post("/api/events/tam/channels", json=channel, headers=headers)
    assert response.status_code == 201
    for name in HOOKS:
        point = receiver.endpoint(name)
        response = await client.post(
            "/api/events/tam/webhooks", json={"url": point.url}, headers=headers
        )
        assert response.status_code == 201, response.text
        point.secret = response.json()["secret"]


async def add_slots(client: httpx.AsyncClient, server: Server) -> None:
    for i in range(SLOTS):
        slot = {
            "channel": "main",
            "title": f"Session {i}",
            "starts_at": f"2030-10-10T{9 + i:02d}:00:00Z",
            "ends_at": f"2030-10-10T{9 + i:02d}:30:00Z",
        }
        response = await client.post("/api/events/tam/slots", json=slot, headers=server.headers())
        assert response.status_code == 201, response.text


async def test_a_kill_between_commit_and_send_loses_no_webhook_message(
    db_url: str, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    env = server_env(
        db_url,
        TAKEAMOMENT_OUTBOUND_ALLOW_PRIVATE="true",
        TAKEAMOMENT_DELIVERY_CONCURRENCY="1",
        TAKEAMOMENT_DELIVERY_LEASE_SECONDS="3",
        TAKEAMOMENT_DELIVERY_POLL_SECONDS="0.5",
    )
    token = issue_host_token(env, tmp_path)
    process, url = start_server(env, tmp_path)
    server = Server(url, token, env)
    try:
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            await world(client, server, receiver)
            receiver.hold()
            await add_slots(client, server)  # 10 changes, 30 messages committed
        await until(receiver.held.is_set)
        kill_hard(process)  # mid-send, the others claimed or not yet
        receiver.release()
        assert receiver.counts()["received"] == 0

        process, url = start_server(env, tmp_path, port=int(url.rsplit(":", 1)[1]))
        points = [receiver.endpoints[name] for name in HOOKS]
        expected = set(range(1, SLOTS + 1))  # seq 1..10 (channels are not changes)
        await until(lambda: all({m["seq"] for m in p.received} == expected for p in points))
        assert receiver.errors == []  # every signature verified
        for point in points:
            ids_by_seq: dict[int, set[str]] = {}
            for message, headers in zip(point.received, point.headers, strict=True):
                ids_by_seq.setdefault(message["seq"], set()).add(headers["webhook-id"])
            # A message sent again after the restart carries the id it was committed with.
            all_ids = {i for ids in ids_by_seq.values() for i in ids}
            assert len(all_ids) == SLOTS, (point.name, ids_by_seq)
        for _ in range(100):  # the last sends' outcomes are recorded just after them
            if set(await message_states(db_url)) == {"sent"}:
                break
            await asyncio.sleep(0.1)
        assert set(await message_states(db_url)) == {"sent"}
    finally:
        stop_server(process)


async def message_states(db_url: str) -> list[str]:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT state FROM webhook_message"))
            return [row[0] for row in result]
    finally:
        await engine.dispose()
