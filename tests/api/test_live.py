"""Slots on air: scheduled → live → ended, scheduled → cancelled, one live slot per channel."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.builders import (
    answer,
    changes,
    confirmed,
    event_with_channels,
    invite,
    kinds,
    last_seq,
    schedule,
)
from tests.helpers import Client, at, auth, book, make_person, make_slot, ok, publish

# The path to reach each state from a new slot, and the commands that must then be refused.
REACH = {"scheduled": [], "live": ["live"], "ended": ["live", "end"], "cancelled": ["cancel"]}
REFUSED = {
    "scheduled": ["end"],
    "live": ["live", "cancel"],
    "ended": ["live", "end", "cancel"],
    "cancelled": ["live", "end", "cancel"],
}


async def command(client: Client, token: str, slot_id: str, verb: str) -> Any:
    """POST live, end or cancel for a slot; the raw response.

    The tests' slots are years ahead, so going live says it is early on purpose.
    """
    body = {"early": True} if verb == "live" else None
    return await client.post(f"/api/slots/{slot_id}/{verb}", json=body, headers=auth(token))


async def notifications(client: Client, person: Any) -> list[Any]:
    response = await client.get("/api/me/notifications", headers=auth(person["token"]))
    found: list[Any] = await ok(response)
    return found


async def slot_in_schedule(client: Client, token: str | None, slot_id: str) -> Any:
    return next(s for s in (await schedule(client, token))["slots"] if s["id"] == slot_id)


async def test_a_slot_goes_live_then_ends_and_each_step_bumps_the_sequence(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    on_air = await ok(await command(client, host_token, slot["id"], "live"))
    assert (on_air["id"], on_air["status"], on_air["sequence"]) == (slot["id"], "live", 1)
    assert on_air["updated_at"] > slot["updated_at"]
    ended = await ok(await command(client, host_token, slot["id"], "end"))
    assert (ended["status"], ended["sequence"]) == ("ended", 2)
    assert (ended["starts_at"], ended["ends_at"]) == (slot["starts_at"], slot["ends_at"])
    listed = await slot_in_schedule(client, host_token, slot["id"])
    assert (listed["status"], listed["sequence"]) == ("ended", 2)


async def test_a_cancelled_slot_stays_in_the_schedule_as_cancelled(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    cancelled = await ok(await command(client, host_token, slot["id"], "cancel"))
    assert (cancelled["status"], cancelled["sequence"]) == ("cancelled", 1)
    (listed,) = (await schedule(client))["slots"]
    assert (listed["id"], listed["status"], listed["sequence"]) == (slot["id"], "cancelled", 1)


@pytest.mark.parametrize("state", list(REFUSED))
async def test_every_other_move_is_409_invalid_transition_and_changes_nothing(
    client: Client, host_token: str, state: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    for verb in REACH[state]:
        await ok(await command(client, host_token, slot["id"], verb))
    before = await slot_in_schedule(client, host_token, slot["id"])
    seq = await last_seq(client, host_token)
    for verb in REFUSED[state]:
        refused = await command(client, host_token, slot["id"], verb)
        assert kinds(refused) == ["invalid_transition"], (state, verb)
        assert refused.json()["extra"][0]["slot_id"] == slot["id"]
        assert state in refused.json()["detail"]
    assert await slot_in_schedule(client, host_token, slot["id"]) == before
    assert await last_seq(client, host_token) == seq


async def test_a_second_live_slot_on_a_channel_is_409_channel_busy_naming_both(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    first = await make_slot(client, host_token, at(10), at(11))
    second = await make_slot(client, host_token, at(11), at(12))
    elsewhere = await make_slot(client, host_token, at(10), at(11), channel="garden")
    await ok(await command(client, host_token, first["id"], "live"))
    busy = await command(client, host_token, second["id"], "live")
    assert kinds(busy) == ["channel_busy"]
    conflict = busy.json()["extra"][0]
    assert (conflict["slot_id"], conflict["conflicting_slot_id"]) == (second["id"], first["id"])
    assert (await slot_in_schedule(client, host_token, second["id"]))["status"] == "scheduled"
    # Another channel is another stream; and once the first slot ends, the channel is free.
    await ok(await command(client, host_token, elsewhere["id"], "live"))
    await ok(await command(client, host_token, first["id"], "end"))
    assert (await ok(await command(client, host_token, second["id"], "live")))["status"] == "live"


async def test_slots_of_a_channel_going_live_at_once_leave_exactly_one_live(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slots = [await make_slot(client, host_token, at(10 + i), at(11 + i)) for i in range(4)]
    answers = await asyncio.gather(
        *(command(client, host_token, slot["id"], "live") for slot in slots)
    )
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409]
    assert all(kinds(r) == ["channel_busy"] for r in answers if r.status_code == 409)
    statuses = [s["status"] for s in (await schedule(client, host_token))["slots"]]
    assert sorted(statuses) == ["live", "scheduled", "scheduled", "scheduled"]


async def test_status_changes_are_logged_in_order_with_consecutive_seqs(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    other = await make_slot(client, host_token, at(12), at(13))
    seq = await last_seq(client, host_token)
    await ok(await command(client, host_token, slot["id"], "live"))
    await ok(await command(client, host_token, slot["id"], "end"))
    await ok(await command(client, host_token, other["id"], "cancel"))
    log = await changes(client, since=seq)
    assert [(c["type"], c["seq"]) for c in log] == [
        ("slot.live", seq + 1),
        ("slot.ended", seq + 2),
        ("slot.cancelled", seq + 3),
    ]
    assert [(c["slot"]["id"], c["slot"]["status"], c["slot"]["sequence"]) for c in log] == [
        (slot["id"], "live", 1),
        (slot["id"], "ended", 2),
        (other["id"], "cancelled", 1),
    ]
    assert log[-1]["slot"] == await slot_in_schedule(client, None, other["id"])


async def test_cancelling_frees_the_channel_and_the_peoples_time(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    slot = await make_slot(client, host_token, at(10), at(11))
    ana = await make_person(client, host_token, "ana")
    bob = await make_person(client, host_token, "bob")
    await confirmed(client, host_token, slot["id"], ana)
    await invite(client, host_token, slot["id"], bob)
    elsewhere = await make_slot(client, host_token, at(10, 30), at(11, 30), channel="garden")
    assert kinds(await book(client, host_token, elsewhere["id"], ana)) == ["person_overlap"]

    cancelled = await ok(await command(client, host_token, slot["id"], "cancel"))
    assert cancelled["people"] == []
    listed = await slot_in_schedule(client, host_token, slot["id"])
    assert (listed["status"], listed["bookings"]) == ("cancelled", [])
    await ok(await book(client, host_token, elsewhere["id"], ana), 201)
    await ok(await book(client, host_token, elsewhere["id"], bob), 201)
    await make_slot(client, host_token, at(10), at(11), title="Instead")


async def test_cancelling_tells_every_booked_person_and_their_bookings_end(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana, bob, cy = [await make_person(client, host_token, h) for h in ("ana", "bob", "cy")]
    await confirmed(client, host_token, slot["id"], ana)
    bob_booking = await invite(client, host_token, slot["id"], bob)
    cy_booking = await invite(client, host_token, slot["id"], cy)
    await ok(await answer(client, cy["token"], cy_booking["id"], "decline"))

    await ok(await command(client, host_token, slot["id"], "cancel"))
    for person in (ana, bob):
        (told,) = [n for n in await notifications(client, person) if n["kind"] == "slot.cancelled"]
        assert (told["slot"]["id"], told["slot"]["status"]) == (slot["id"], "cancelled")
        assert told["type"] == "notification"
    assert not [n for n in await notifications(client, cy) if n["kind"] == "slot.cancelled"]
    assert kinds(await answer(client, bob["token"], bob_booking["id"])) == ["invalid_transition"]


async def test_running_a_slot_is_for_hosts_and_an_unknown_slot_is_404(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana = await make_person(client, host_token, "ana")
    for verb in ("live", "end", "cancel"):
        anonymous = await client.post(f"/api/slots/{slot['id']}/{verb}")
        assert anonymous.status_code == 401, anonymous.text
        assert (await command(client, ana["token"], slot["id"], verb)).status_code == 403
        assert (await command(client, host_token, "nope", verb)).status_code == 404
    assert (await slot_in_schedule(client, host_token, slot["id"]))["status"] == "scheduled"
