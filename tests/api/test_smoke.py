from __future__ import annotations

from tests.helpers import (
    Client,
    at,
    auth,
    book,
    make_channel,
    make_event,
    make_person,
    make_slot,
    ok,
    publish,
)


async def test_a_host_builds_and_publishes_a_schedule(client: Client, host_token: str) -> None:
    await make_event(client, host_token)
    await make_channel(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    person = await make_person(client, host_token, "ana")
    booking = await ok(await book(client, host_token, slot["id"], person), 201)
    await ok(
        await client.post(f"/api/bookings/{booking['id']}/accept", headers=auth(person["token"]))
    )
    await publish(client, host_token)
    schedule = await ok(await client.get("/api/events/tam/schedule"))
    assert [p["handle"] for p in schedule["slots"][0]["people"]] == ["ana"]
    changes = await ok(await client.get("/api/events/tam/changes?since=0"))
    assert [c["seq"] for c in changes] == list(range(1, len(changes) + 1))
