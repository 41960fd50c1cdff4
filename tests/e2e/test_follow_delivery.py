"""Followers' pushes from a real server process, across SIGKILL and restart: each once.

As ``test_delivery.py`` does for people: the push service holds the first send before accepting
it, the server is SIGKILLed while it is under way and the other followers' deliveries are
committed (claimed or not); after a restart every follower gets the go-live exactly once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import plain_http
from tests.delivery.receivers import PushService, Subscription
from tests.e2e.conftest import (
    Server,
    issue_host_token,
    kill_hard,
    server_env,
    start_server,
    stop_server,
    until,
)
from tests.e2e.test_delivery import push_service

pytestmark = pytest.mark.slow
__all__ = ["push_service"]  # the fixture, shared with test_delivery.py

FOLLOWERS = 40  # more than a worker claims at once with one send at a time (32)


async def world(client: httpx.AsyncClient, server: Server, service: PushService) -> Any:
    """A published event with a slot, followed by every browser (some the slot, some its
    channel, some the event)."""
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
    assert (await client.post("/api/events/tam/channels", json=channel, headers=headers)).is_success
    assert (await client.post("/api/events/tam/publish", headers=headers)).is_success
    slot_body = {
        "channel": "main",
        "title": "Small habits that carried me through",
        "starts_at": "2030-10-10T09:30:00Z",
        "ends_at": "2030-10-10T10:00:00Z",
    }
    slot = (await client.post("/api/events/tam/slots", json=slot_body, headers=headers)).json()
    service.expected_key = (await client.get("/api/push/key")).json()["public_key"]
    targets: list[dict[str, str]] = [{"slot_id": slot["id"]}, {"channel": "main"}, {}]
    for i in range(FOLLOWERS):
        sub = service.subscribe()
        body = {"subscription": sub.json(service.url), **targets[i % 3]}
        followed = await client.post("/api/events/tam/follows", json=body)
        assert followed.status_code == 201, followed.text
    return slot


async def test_a_kill_between_commit_and_send_tells_every_follower_once(
    db_url: str, tmp_path: Path, push_service: PushService
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
            slot = await world(client, server, push_service)
            push_service.hold()
            live = await client.post(
                f"/api/slots/{slot['id']}/live", json={"early": True}, headers=server.headers()
            )
            assert live.status_code == 200, live.text
        await until(push_service.held.is_set)
        kill_hard(process)  # mid-send, with other deliveries claimed or not yet claimed
        push_service.release()
        assert list(push_service.all_received()) == []

        process, url = start_server(env, tmp_path, port=int(url.rsplit(":", 1)[1]))
        subs: list[Subscription] = list(push_service.subscriptions.values())
        await until(lambda: all(len(sub.received) >= 1 for sub in subs))
        await until_rows_settle(db_url)
        for sub in subs:
            assert [m["type"] for m in sub.received] == ["slot.live"], sub.id
        assert len({sub.received[0]["unfollow_url"] for sub in subs}) == FOLLOWERS
        assert push_service.errors == []
        rows = await follow_delivery_rows(db_url)
        assert sorted(state for state, _ in rows) == ["sent"] * FOLLOWERS
        assert {attempts for _, attempts in rows} == {1, 2}  # some claimed again after the kill
    finally:
        stop_server(process)


async def until_rows_settle(db_url: str) -> None:
    """Until every row is recorded sent, then past a lease (3 s) and several polls: a
    duplicate would have arrived by then."""

    async def all_sent() -> bool:
        return all(state == "sent" for state, _ in await follow_delivery_rows(db_url))

    for _ in range(600):
        if await all_sent():
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(4)


async def follow_delivery_rows(db_url: str) -> list[tuple[str, int]]:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT state, attempts FROM follow_delivery"))
            return [(row[0], row[1]) for row in result]
    finally:
        await engine.dispose()
