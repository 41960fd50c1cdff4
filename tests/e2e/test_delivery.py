"""Push and email from a real server process, across SIGKILL and restart: once per channel.

The receivers (``tests/delivery/receivers.py``) hold the first send before accepting it; the
server is SIGKILLed while that send is under way and the other deliveries are committed but not
yet sent (one send of each channel at a time; some claimed, some not). After a restart every
notice arrives once on each channel: the claimed ones when their lease runs out, the others at
the first claim.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import plain_http
from tests.delivery.receivers import MailCatcher, PushService
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

PEOPLE = tuple(f"p{i}" for i in range(40))  # more than a worker claims at once (32)


@pytest.fixture
def mail_catcher() -> Iterator[MailCatcher]:
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService().start()
    yield service
    service.stop()


async def world(client: httpx.AsyncClient, server: Server, service: PushService) -> list[Any]:
    """An event with a slot and the people, each with an email and a browser subscribed."""
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
    service.expected_key = (await client.get("/api/push/key")).json()["public_key"]
    people = []
    for handle in PEOPLE:
        body = {
            "name": handle.title(),
            "handle": handle,
            "role": "creator",
            "email": f"{handle}@example.com",
        }
        person = (await client.post("/api/people", json=body, headers=headers)).json()
        sub = service.subscribe()
        subscribed = await client.post(
            "/api/me/push-subscriptions",
            json=sub.json(service.url),
            headers=server.headers(person["token"]),
        )
        assert subscribed.status_code == 201, subscribed.text
        people.append((person, sub))
    return people


async def invite_all(client: httpx.AsyncClient, server: Server, people: list[Any]) -> None:
    slot_body = {
        "channel": "main",
        "title": "Small habits that carried me through",
        "starts_at": "2030-10-10T09:30:00Z",
        "ends_at": "2030-10-10T10:00:00Z",
    }
    slot = (
        await client.post("/api/events/tam/slots", json=slot_body, headers=server.headers())
    ).json()
    for person, _ in people:
        booked = await client.post(
            f"/api/slots/{slot['id']}/bookings",
            json={"person_id": person["id"], "role": "creator"},
            headers=server.headers(),
        )
        assert booked.status_code == 201, booked.text


async def test_a_kill_between_commit_and_send_loses_nothing_and_sends_nothing_twice(
    db_url: str, tmp_path: Path, mail_catcher: MailCatcher, push_service: PushService
) -> None:
    env = server_env(
        db_url,
        TAKEAMOMENT_SMTP_URL=mail_catcher.url,
        TAKEAMOMENT_MAIL_FROM="takeamoment <notices@takeamoment.test>",
        TAKEAMOMENT_OUTBOUND_ALLOW_PRIVATE="true",
        # One send of each channel at a time, 32 claimed ahead: of 40, 8 stay unclaimed.
        TAKEAMOMENT_DELIVERY_CONCURRENCY="1",
        TAKEAMOMENT_SMTP_CONNECTIONS="1",
        TAKEAMOMENT_DELIVERY_LEASE_SECONDS="3",
        TAKEAMOMENT_DELIVERY_POLL_SECONDS="0.5",
    )
    token = issue_host_token(env, tmp_path)
    process, url = start_server(env, tmp_path)
    server = Server(url, token, env)
    try:
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            people = await world(client, server, push_service)
            mail_catcher.hold()
            push_service.hold()
            await invite_all(client, server, people)  # 40 notices, 80 deliveries committed
        await until(lambda: mail_catcher.held.is_set() or push_service.held.is_set())
        kill_hard(process)  # mid-send, with other deliveries claimed or not yet claimed
        mail_catcher.release()
        push_service.release()
        assert mail_catcher.received() == [] and list(push_service.all_received()) == []

        process, url = start_server(env, tmp_path, port=int(url.rsplit(":", 1)[1]))

        def all_arrived() -> bool:
            mails = len(mail_catcher.received())
            return mails >= len(PEOPLE) and all(len(sub.received) >= 1 for _, sub in people)

        await until(all_arrived)
        await asyncio.sleep(4)  # past a lease and several polls: a duplicate would be here now
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            for person, sub in people:
                mails = [
                    m for m in mail_catcher.received() if f"<{person['email']}>" in str(m["To"])
                ]
                assert len(mails) == 1, (person["handle"], len(mails))
                assert [m["kind"] for m in sub.received] == ["booking.invited"]
                notes = await client.get(
                    "/api/me/notifications", headers=server.headers(person["token"])
                )
                assert [n["kind"] for n in notes.json()] == ["booking.invited"]
                assert sub.received[0]["id"] == notes.json()[0]["id"]
        assert push_service.errors == []
        rows = await delivery_rows(db_url)
        assert sorted(state for state, _ in rows) == ["sent"] * 2 * len(PEOPLE)
        # Those claimed when the server died (under way, or waiting their turn) were claimed
        # again after their lease; the others once. None arrived twice (checked above).
        attempts = sorted(attempts for _, attempts in rows)
        assert set(attempts) == {1, 2}, attempts
    finally:
        stop_server(process)


async def delivery_rows(db_url: str) -> list[tuple[str, int]]:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT state, attempts FROM delivery"))
            return [(row[0], row[1]) for row in result]
    finally:
        await engine.dispose()
