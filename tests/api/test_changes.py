"""The change log: one message per change of an event, numbered without gaps, oldest first."""

from __future__ import annotations

from datetime import datetime

from tests.api.builders import (
    answer,
    changes,
    confirmed,
    event_with_channels,
    invite,
    last_seq,
    patch_slot,
    schedule,
    slot_with_person,
)
from tests.helpers import Client, at, auth, book, make_person, make_slot, ok, publish


async def test_changes_since_n_come_oldest_first_with_seq_growing_by_one(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)  # 1 event.updated
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))  # 2 slot.created
    await ok(await patch_slot(client, host_token, slot["id"], title="Renamed"))  # 3 slot.updated
    await ok(await patch_slot(client, host_token, slot["id"], starts_at=at(9)))  # 4 rescheduled
    booking = await confirmed(client, host_token, slot["id"], ana)  # 5 booking.confirmed
    await ok(await client.delete(f"/api/bookings/{booking['id']}", headers=auth(host_token)), 204)
    body = {"title": "Take Two"}  # 6 booking.removed, then 7 event.updated
    await ok(await client.patch("/api/events/tam", json=body, headers=auth(host_token)))

    log = await changes(client)
    assert [c["type"] for c in log] == [
        "event.updated",
        "slot.created",
        "slot.updated",
        "slot.rescheduled",
        "booking.confirmed",
        "booking.removed",
        "event.updated",
    ]
    assert [c["seq"] for c in log] == list(range(1, 8))
    assert all(c["event"] == "tam" for c in log)
    assert all(datetime.fromisoformat(c["at"]).tzinfo is not None for c in log)
    assert log[3]["slot"]["sequence"] == 1 and log[2]["slot"]["title"] == "Renamed"
    assert log[4]["booking"]["person"]["handle"] == "ana"
    assert log[4]["slot"]["people"] == [
        {"id": ana["id"], "name": "Ana", "handle": "ana", "role": "creator"}
    ]
    assert log[6]["details"]["title"] == "Take Two"
    assert log[0]["details"]["status"] == "published"
    assert [c["seq"] for c in await changes(client, since=4)] == [5, 6, 7]
    assert await changes(client, since=7) == []
    assert (await ok(await client.get("/api/events/tam")))["last_seq"] == 7


async def test_the_logged_slot_has_the_shape_of_the_public_schedule(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    await make_slot(client, host_token, at(10), at(11), tags=["calm"])
    (created,) = await changes(client, since=1)
    (listed,) = (await schedule(client))["slots"]
    assert created["type"] == "slot.created"
    assert created["slot"] == listed


async def test_a_refused_request_writes_no_change(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    other = await make_slot(client, host_token, at(12), at(13))
    elsewhere = await make_slot(client, host_token, at(10), at(11), channel="garden")
    await confirmed(client, host_token, slot["id"], ana)
    bob = await make_person(client, host_token, "bob")
    invited = await invite(client, host_token, other["id"], bob)
    seq = await last_seq(client, host_token)
    log = await changes(client, host_token)

    slot_body = {"channel": "main", "title": "x", "starts_at": at(10), "ends_at": at(11)}
    refused = [
        await client.post("/api/events/tam/slots", json=slot_body, headers=auth(host_token)),
        await patch_slot(client, host_token, other["id"], starts_at=at(10, 30)),
        await patch_slot(client, host_token, other["id"], title="x", ends_at=at(23, 30)),
        await book(client, host_token, elsewhere["id"], ana),
        await book(client, host_token, elsewhere["id"], {**bob, "role": "therapist"}),
        await answer(client, ana["token"], invited["id"]),
        await client.patch("/api/events/tam", json={"ends_at": at(10)}, headers=auth(host_token)),
        await client.post("/api/events/tam/publish", headers=auth(ana["token"])),
    ]
    assert [r.status_code for r in refused] == [409, 409, 400, 409, 422, 403, 400, 403]
    assert await last_seq(client, host_token) == seq
    assert await changes(client, host_token) == log


async def test_an_invitation_changes_nothing_public_and_a_decline_is_logged_without_names(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    seq = await last_seq(client, host_token)
    booking = await invite(client, host_token, slot["id"], ana)
    assert await last_seq(client, host_token) == seq
    await ok(await answer(client, ana["token"], booking["id"], "decline"))
    (declined,) = await changes(client, host_token, since=seq)
    assert declined["type"] == "booking.declined"
    assert declined["booking"] == {
        "id": booking["id"],
        "slot_id": slot["id"],
        "role": "creator",
        "status": "declined",
    }
    assert "Ana" not in str(declined) and ana["id"] not in str(declined)
    assert declined["slot"]["people"] == []


async def test_a_patch_that_changes_nothing_writes_no_change(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11), title="Same", tags=["a"])
    seq = await last_seq(client, host_token)
    same_slot = {"title": "Same", "tags": ["a"], "starts_at": at(10), "ends_at": at(11)}
    unchanged = await ok(await patch_slot(client, host_token, slot["id"], **same_slot))
    assert unchanged == slot
    assert await ok(await patch_slot(client, host_token, slot["id"])) == slot
    same_event = {"title": "Take A Moment", "changeover_minutes": 5, "starts_at": at(0)}
    await ok(await client.patch("/api/events/tam", json=same_event, headers=auth(host_token)))
    assert await last_seq(client, host_token) == seq
