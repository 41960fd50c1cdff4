"""A delay and the people in the moved slots: re-checked, refused, forced, and told."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.builders import (
    answer,
    changes,
    confirmed,
    event_with_channels,
    invite,
    kinds,
    patch_slot,
    schedule,
)
from tests.helpers import Client, at, auth, book, make_person, make_slot, ok


async def delay(client: Client, token: str, slot_id: str, **body: Any) -> Any:
    """POST a delay for a slot; the raw response."""
    return await client.post(f"/api/slots/{slot_id}/delay", json=body, headers=auth(token))


async def told(client: Client, person: Any, kind: str = "schedule.changed") -> list[Any]:
    """The person's notifications of one kind, oldest first."""
    response = await client.get("/api/me/notifications", headers=auth(person["token"]))
    return [n for n in await ok(response) if n["kind"] == kind]


async def booked_handles(client: Client, token: str, slot_id: str) -> list[str]:
    slots = (await schedule(client, token))["slots"]
    (slot,) = [s for s in slots if s["id"] == slot_id]
    return sorted(b["person"]["handle"] for b in slot["bookings"])


async def two_channels(client: Client, token: str) -> tuple[Any, Any, Any]:
    """main: 10-11 (nobody) then 11-12 with ana; garden: 12:05-13 with ana (a 5-minute changeover).

    Any delay of the first main slot pushes ana's main slot onto her garden slot.
    """
    await event_with_channels(client, token, channels=("main", "garden"))
    first = await make_slot(client, token, at(10), at(11), title="Opening")
    pushed = await make_slot(client, token, at(11), at(12), title="Tips")
    garden = await make_slot(client, token, at(12, 5), at(13), channel="garden", title="Q&A")
    return first, pushed, garden


async def test_a_cascade_that_pushes_a_person_onto_their_other_booking_is_409_and_applies_nothing(
    client: Client, host_token: str
) -> None:
    first, pushed, garden = await two_channels(client, host_token)
    ana = await make_person(client, host_token, "ana")
    await confirmed(client, host_token, pushed["id"], ana)
    await confirmed(client, host_token, garden["id"], ana)
    before, log = await schedule(client, host_token), await changes(client, host_token)

    for minutes, kind in ((3, "changeover"), (30, "person_overlap")):
        refused = await delay(client, host_token, first["id"], minutes=minutes)
        assert kinds(refused) == [kind], minutes
        conflict = refused.json()["extra"][0]
        assert (conflict["slot_id"], conflict["person_id"]) == (pushed["id"], ana["id"])
        assert conflict["conflicting_slot_id"] == garden["id"]
        assert "nothing was applied" in refused.json()["detail"]
    assert await schedule(client, host_token) == before
    assert await changes(client, host_token) == log
    assert await told(client, ana) == []

    preview = await ok(await delay(client, host_token, first["id"], minutes=30, dry_run=True))
    assert [c["kind"] for c in preview["conflicts"]] == ["person_overlap"]
    assert [m["id"] for m in preview["moved"]] == [first["id"], pushed["id"]]
    assert (preview["applied"], preview["released"]) == (False, [])


async def test_force_applies_the_delay_and_releases_only_the_booking_that_cannot_follow(
    client: Client, host_token: str
) -> None:
    first, pushed, garden = await two_channels(client, host_token)
    ana, bob, cy = [await make_person(client, host_token, h) for h in ("ana", "bob", "cy")]
    ana_tips = await confirmed(client, host_token, pushed["id"], ana)
    await confirmed(client, host_token, garden["id"], ana)
    await invite(client, host_token, pushed["id"], bob)
    await confirmed(client, host_token, first["id"], cy)

    forced = await ok(await delay(client, host_token, first["id"], minutes=30, force=True))
    assert forced["applied"] is True
    assert [c["kind"] for c in forced["conflicts"]] == ["person_overlap"]
    assert forced["released"] == [
        {"id": ana_tips["id"], "slot_id": pushed["id"], "person_id": ana["id"]}
    ]
    assert await booked_handles(client, host_token, pushed["id"]) == ["bob"]
    assert await booked_handles(client, host_token, garden["id"]) == ["ana"]
    assert await booked_handles(client, host_token, first["id"]) == ["cy"]
    (to_ana,) = await told(client, ana)
    assert (to_ana["booking_id"], to_ana["booking_status"]) == (ana_tips["id"], "conflicted")
    assert [c["kind"] for c in to_ana["conflicts"]] == ["person_overlap"]
    assert [n.get("booking_status") for n in await told(client, bob)] == [None]
    # The released booking is over: it cannot be accepted back into a clash.
    assert kinds(await answer(client, ana["token"], ana_tips["id"])) == ["invalid_transition"]


async def test_slots_of_one_person_that_move_together_are_checked_at_their_new_times(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    first = await make_slot(client, host_token, at(10), at(11))
    await make_slot(client, host_token, at(11), at(12))
    last = await make_slot(client, host_token, at(12), at(13))
    ana = await make_person(client, host_token, "ana")
    await confirmed(client, host_token, first["id"], ana)
    await confirmed(client, host_token, last["id"], ana)
    # Checked against the last slot's old time, the first one's new 11-12 would break the
    # changeover; both move by the hour, so nothing does.
    answer_ = await ok(await delay(client, host_token, first["id"], minutes=60))
    assert (len(answer_["moved"]), answer_["conflicts"]) == (3, [])


async def test_a_cascade_that_closes_the_changeover_between_a_persons_slots_is_a_conflict(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    first = await make_slot(client, host_token, at(10), at(11))
    second = await make_slot(client, host_token, at(11, 5), at(12))
    ana = await make_person(client, host_token, "ana")
    await confirmed(client, host_token, first["id"], ana)
    await confirmed(client, host_token, second["id"], ana)
    refused = await delay(client, host_token, first["id"], minutes=10)
    assert kinds(refused) == ["changeover"]
    conflict = refused.json()["extra"][0]
    assert (conflict["slot_id"], conflict["conflicting_slot_id"]) == (second["id"], first["id"])
    forced = await ok(await delay(client, host_token, first["id"], minutes=10, force=True))
    assert [r["slot_id"] for r in forced["released"]] == [second["id"]]  # the earlier slot wins
    assert await booked_handles(client, host_token, first["id"]) == ["ana"]


async def test_a_delay_out_of_a_persons_availability_is_a_conflict(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana = await make_person(client, host_token, "ana")
    window = [{"starts_at": at(9), "ends_at": at(11, 15)}]
    path = f"/api/people/{ana['id']}/availability"
    await ok(await client.put(path, json=window, headers=auth(host_token)))
    await invite(client, host_token, slot["id"], ana)
    await ok(await delay(client, host_token, slot["id"], minutes=15))
    refused = await delay(client, host_token, slot["id"], minutes=1)
    assert kinds(refused) == ["outside_availability"]
    assert refused.json()["extra"][0]["person_id"] == ana["id"]


async def test_the_people_move_with_their_slot_and_the_time_they_left_is_free(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    slot = await make_slot(client, host_token, at(10), at(11))
    ana = await make_person(client, host_token, "ana")
    await confirmed(client, host_token, slot["id"], ana)
    await ok(await delay(client, host_token, slot["id"], minutes=60))
    earlier = await make_slot(client, host_token, at(9), at(10, 55), channel="garden")
    await ok(await book(client, host_token, earlier["id"], ana), 201)
    clash = await make_slot(client, host_token, at(11, 30), at(12, 30), channel="garden")
    assert kinds(await book(client, host_token, clash["id"], ana)) == ["person_overlap"]


async def test_every_booked_person_of_every_moved_slot_hears_where_it_went(
    client: Client, host_token: str
) -> None:
    first, pushed, _ = await two_channels(client, host_token)
    ana, bob = (
        await make_person(client, host_token, "ana"),
        await make_person(client, host_token, "bob"),
    )
    await invite(client, host_token, first["id"], ana)
    await confirmed(client, host_token, pushed["id"], bob)
    await ok(await delay(client, host_token, first["id"], minutes=3))
    for person, slot, start in ((ana, first, at(10, 3)), (bob, pushed, at(11, 3))):
        (notice,) = await told(client, person)
        assert notice["slot"]["id"] == slot["id"]
        assert notice["slot"]["sequence"] == 1
        assert notice["previous_starts_at"] == slot["starts_at"]
        assert notice["starts_at"] == notice["slot"]["starts_at"]
        assert notice["starts_at"].replace("Z", "+00:00") == start


async def test_a_patch_that_moves_a_slot_tells_its_people_too(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana = await make_person(client, host_token, "ana")
    await invite(client, host_token, slot["id"], ana)
    await ok(await patch_slot(client, host_token, slot["id"], title="Renamed"))
    assert await told(client, ana) == []
    await ok(await patch_slot(client, host_token, slot["id"], starts_at=at(9), ends_at=at(10)))
    (notice,) = await told(client, ana)
    assert (notice["previous_starts_at"], notice["slot"]["title"]) == (slot["starts_at"], "Renamed")
    assert notice["starts_at"].replace("Z", "+00:00") == at(9)


async def test_a_delay_and_a_booking_that_cannot_both_hold_race_and_exactly_one_wins(
    client: Client, host_token: str
) -> None:
    first, pushed, garden = await two_channels(client, host_token)
    ana = await make_person(client, host_token, "ana")
    await confirmed(client, host_token, garden["id"], ana)
    delayed, booked = await asyncio.gather(
        delay(client, host_token, first["id"], minutes=30),
        book(client, host_token, pushed["id"], ana),
    )
    assert sorted((delayed.status_code, booked.status_code)) in ([200, 409], [201, 409])
    loser = booked if delayed.status_code == 200 else delayed
    assert kinds(loser) == ["person_overlap"]
    slots = {s["id"]: s for s in (await schedule(client, host_token))["slots"]}
    assert slots[pushed["id"]]["sequence"] == (1 if delayed.status_code == 200 else 0)
