"""Bookings: invitations and answers, and the person rules checked on every booking and move."""

from __future__ import annotations

import asyncio

from tests.api.builders import (
    answer,
    confirmed,
    event_with_channels,
    invite,
    kinds,
    patch_slot,
    schedule,
    slot_with_person,
)
from tests.helpers import (
    Client,
    at,
    auth,
    book,
    make_person,
    make_slot,
    make_therapist,
    ok,
    publish,
)


async def test_a_booking_starts_invited_and_the_person_or_a_host_answers_it(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    bob = await make_person(client, host_token, "bob")
    cy = await make_person(client, host_token, "cy")
    ana_booking = await invite(client, host_token, slot["id"], ana)
    assert (ana_booking["status"], ana_booking["slot_id"]) == ("invited", slot["id"])
    assert (ana_booking["person_id"], ana_booking["role"]) == (ana["id"], "creator")
    bob_booking = await invite(client, host_token, slot["id"], bob)
    cy_booking = await invite(client, host_token, slot["id"], cy)

    stranger = await answer(client, bob["token"], ana_booking["id"])
    assert stranger.status_code == 403, stranger.text
    assert (await ok(await answer(client, ana["token"], ana_booking["id"])))[
        "status"
    ] == "confirmed"
    declined = await ok(await answer(client, bob["token"], bob_booking["id"], "decline"))
    assert declined["status"] == "declined"
    assert (await ok(await answer(client, host_token, cy_booking["id"])))["status"] == "confirmed"
    by_host = await ok(await answer(client, host_token, cy_booking["id"], "decline"))
    assert by_host["status"] == "declined"


async def test_answering_a_declined_or_removed_booking_again_is_409(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    booking = await invite(client, host_token, slot["id"], ana)
    await ok(await answer(client, ana["token"], booking["id"], "decline"))
    assert kinds(await answer(client, ana["token"], booking["id"])) == ["invalid_transition"]
    again = await invite(client, host_token, slot["id"], ana)
    response = await client.delete(f"/api/bookings/{again['id']}", headers=auth(host_token))
    assert response.status_code == 204, response.text
    assert kinds(await answer(client, ana["token"], again["id"])) == ["invalid_transition"]


async def test_a_host_removes_a_booking_with_204_and_the_person_leaves_the_schedule(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    booking = await confirmed(client, host_token, slot["id"], ana)
    assert [p["handle"] for p in (await schedule(client))["slots"][0]["people"]] == ["ana"]
    response = await client.delete(f"/api/bookings/{booking['id']}", headers=auth(host_token))
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert (await schedule(client))["slots"][0]["people"] == []
    assert (await schedule(client, host_token))["slots"][0]["bookings"] == []


async def test_a_person_in_two_overlapping_slots_on_two_channels_is_409_person_overlap(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    first, ana = await slot_with_person(client, host_token, at(10), at(11))
    second = await make_slot(client, host_token, at(10, 30), at(11, 30), channel="garden")
    await invite(client, host_token, first["id"], ana)  # invited already holds the time
    response = await book(client, host_token, second["id"], ana)
    assert kinds(response) == ["person_overlap"]
    conflict = response.json()["extra"][0]
    assert (conflict["person_id"], conflict["slot_id"]) == (ana["id"], second["id"])
    assert conflict["conflicting_slot_id"] == first["id"]
    twice = await book(client, host_token, first["id"], ana)
    assert twice.status_code == 409, twice.text


async def test_a_person_in_overlapping_slots_of_two_events_is_409_person_overlap(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, "tam")
    await event_with_channels(client, host_token, "other")
    first, ana = await slot_with_person(client, host_token, at(10), at(11))
    second = await make_slot(client, host_token, at(9), at(12), event="other")
    await confirmed(client, host_token, first["id"], ana)
    response = await book(client, host_token, second["id"], ana)
    assert kinds(response) == ["person_overlap"]
    assert response.json()["extra"][0]["person_id"] == ana["id"]


async def test_a_booking_closer_than_the_changeover_is_409_and_exactly_the_changeover_is_fine(
    client: Client, host_token: str
) -> None:
    await event_with_channels(
        client, host_token, channels=("main", "garden", "roof"), changeover_minutes=10
    )
    first, ana = await slot_with_person(client, host_token, at(10), at(11))
    await invite(client, host_token, first["id"], ana)
    too_soon = await make_slot(client, host_token, at(11, 9), at(12), channel="garden")
    ends_too_late = await make_slot(client, host_token, at(9), at(9, 51), channel="garden")
    for slot in (too_soon, ends_too_late):
        response = await book(client, host_token, slot["id"], ana)
        assert kinds(response) == ["changeover"], slot
        conflict = response.json()["extra"][0]
        assert (conflict["person_id"], conflict["conflicting_slot_id"]) == (ana["id"], first["id"])
    after = await make_slot(client, host_token, at(11, 10), at(12), channel="roof")
    before = await make_slot(client, host_token, at(9), at(9, 50), channel="roof")
    await invite(client, host_token, after["id"], ana)
    await invite(client, host_token, before["id"], ana)


async def test_availability_windows_limit_bookings_and_no_windows_means_always_available(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    outside, ana = await slot_with_person(client, host_token, at(9), at(10, 30))
    inside = await make_slot(client, host_token, at(11), at(12, 30), channel="garden")
    windows = [
        {"starts_at": at(10), "ends_at": at(12)},
        {"starts_at": at(12), "ends_at": at(13)},  # touching windows join into one
    ]
    path = f"/api/people/{ana['id']}/availability"
    await ok(await client.put(path, json=windows, headers=auth(ana["token"])))
    response = await book(client, host_token, outside["id"], ana)
    assert kinds(response) == ["outside_availability"]
    assert response.json()["extra"][0]["person_id"] == ana["id"]
    await invite(client, host_token, inside["id"], ana)
    always = await make_person(client, host_token, "bob")
    await invite(client, host_token, outside["id"], always)


async def test_availability_cannot_shrink_away_from_a_booking_the_person_already_has(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    await invite(client, host_token, slot["id"], ana)
    path = f"/api/people/{ana['id']}/availability"
    morning_only = [{"starts_at": at(8), "ends_at": at(10, 30)}]

    refused = await client.put(path, json=morning_only, headers=auth(ana["token"]))

    assert refused.status_code == 409
    assert kinds(refused) == ["outside_availability"]
    assert refused.json()["extra"][0] == {**refused.json()["extra"][0], "slot_id": slot["id"]}
    afternoon = await make_slot(client, host_token, at(14), at(15))
    await invite(client, host_token, afternoon["id"], ana)  # still always available
    whole_day = [{"starts_at": at(8), "ends_at": at(16)}]
    await ok(await client.put(path, json=whole_day, headers=auth(ana["token"])))


async def test_a_therapist_needs_a_verified_licence_valid_on_the_slot_date(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))  # on 2030-10-10
    licence = {"number": "L-1", "issuer": "HCPC", "jurisdiction": "UK", "expires_on": "2031-01-01"}
    no_licence = await make_person(client, host_token, "nolic", "therapist")
    unverified = await make_person(client, host_token, "unver", "therapist", license=licence)
    expired = await make_therapist(client, host_token, "expired", expires_on="2030-10-09")
    refusals = {no_licence["id"]: "licence", unverified["id"]: "verified", expired["id"]: "expired"}
    for person in (no_licence, unverified, expired):
        response = await book(client, host_token, slot["id"], person)
        assert response.status_code == 422, response.text
        assert refusals[person["id"]] in response.json()["detail"], response.text
    valid = await make_therapist(client, host_token, "valid")
    last_day = await make_therapist(client, host_token, "lastday", expires_on="2030-10-10")
    for person in (valid, last_day):
        assert (await invite(client, host_token, slot["id"], person))["role"] == "therapist"


async def test_a_creator_booked_as_a_therapist_is_422(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    response = await book(client, host_token, slot["id"], {**ana, "role": "therapist"})
    assert response.status_code == 422, response.text
    assert "creator" in response.json()["detail"]


async def test_moving_a_slot_onto_a_booked_persons_other_slot_is_409_and_nothing_moves(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    elsewhere = await make_slot(client, host_token, at(14), at(15), channel="garden")
    await confirmed(client, host_token, slot["id"], ana)
    await confirmed(client, host_token, elsewhere["id"], ana)
    before = await schedule(client, host_token)
    onto = await patch_slot(
        client, host_token, slot["id"], starts_at=at(14, 30), ends_at=at(15, 30)
    )
    assert kinds(onto) == ["person_overlap"]
    conflict = onto.json()["extra"][0]
    assert (conflict["person_id"], conflict["conflicting_slot_id"]) == (ana["id"], elsewhere["id"])
    close = await patch_slot(client, host_token, slot["id"], starts_at=at(13), ends_at=at(13, 58))
    assert kinds(close) == ["changeover"]
    assert (await schedule(client, host_token)) == before


async def test_moving_a_slot_rechecks_availability_and_licences_of_its_people(
    client: Client, host_token: str
) -> None:
    window = {"starts_at": at(0), "ends_at": at(47)}  # two days: 10 and 11 October
    await event_with_channels(client, host_token, **window)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    therapist = await make_therapist(client, host_token, "tia", expires_on="2030-10-10")
    await confirmed(client, host_token, slot["id"], ana)
    await confirmed(client, host_token, slot["id"], therapist)
    windows = [{"starts_at": at(9), "ends_at": at(12)}]
    path = f"/api/people/{ana['id']}/availability"
    await ok(await client.put(path, json=windows, headers=auth(host_token)))
    before = await schedule(client, host_token)

    late = await patch_slot(
        client, host_token, slot["id"], starts_at=at(11, 30), ends_at=at(12, 30)
    )
    assert kinds(late) == ["outside_availability"]
    assert late.json()["extra"][0]["person_id"] == ana["id"]
    await ok(await client.put(path, json=[], headers=auth(host_token)))
    next_day = await patch_slot(client, host_token, slot["id"], starts_at=at(34), ends_at=at(35))
    assert next_day.status_code == 422, next_day.text
    assert "expired" in next_day.json()["detail"]
    assert await schedule(client, host_token) == before


async def test_raising_the_changeover_is_409_when_a_booked_person_would_be_too_close(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    first, ana = await slot_with_person(client, host_token, at(10), at(11))
    second = await make_slot(client, host_token, at(11, 10), at(12), channel="garden")
    await confirmed(client, host_token, first["id"], ana)
    await confirmed(client, host_token, second["id"], ana)
    ten = await client.patch(
        "/api/events/tam", json={"changeover_minutes": 10}, headers=auth(host_token)
    )
    assert (await ok(ten))["changeover_minutes"] == 10
    longer = {"changeover_minutes": 15}
    response = await client.patch("/api/events/tam", json=longer, headers=auth(host_token))
    assert "changeover" in kinds(response)
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert event["changeover_minutes"] == 10
    third = await make_slot(client, host_token, at(12, 5), at(13), channel="main")
    assert kinds(await book(client, host_token, third["id"], ana)) == ["changeover"]


async def test_a_booked_persons_busy_time_moves_with_their_slot(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    await confirmed(client, host_token, slot["id"], ana)
    moved = await ok(
        await patch_slot(client, host_token, slot["id"], starts_at=at(14), ends_at=at(15))
    )
    assert moved["sequence"] == 1
    old_time = await make_slot(client, host_token, at(10), at(11), channel="garden")
    new_time = await make_slot(client, host_token, at(14, 30), at(15, 30), channel="garden")
    await invite(client, host_token, old_time["id"], ana)
    assert kinds(await book(client, host_token, new_time["id"], ana)) == ["person_overlap"]


async def test_declined_and_removed_bookings_free_the_persons_time(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden", "roof"))
    declined_slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    removed_slot = await make_slot(client, host_token, at(10), at(11), channel="garden")
    free_slot = await make_slot(client, host_token, at(10), at(11), channel="roof")
    booking = await invite(client, host_token, declined_slot["id"], ana)
    await ok(await answer(client, ana["token"], booking["id"], "decline"))
    booking = await confirmed(client, host_token, removed_slot["id"], ana)
    assert kinds(await book(client, host_token, free_slot["id"], ana)) == ["person_overlap"]
    await ok(await client.delete(f"/api/bookings/{booking['id']}", headers=auth(host_token)), 204)
    await confirmed(client, host_token, free_slot["id"], ana)


async def test_the_public_sees_confirmed_people_only_and_hosts_see_invitations_too(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    bob = await make_person(client, host_token, "bob", email="bob@example.org")
    therapist = await make_therapist(client, host_token, "tia")
    await confirmed(client, host_token, slot["id"], ana)
    await confirmed(client, host_token, slot["id"], therapist)
    invited = await invite(client, host_token, slot["id"], bob)

    (public,) = (await schedule(client))["slots"]
    assert [p["handle"] for p in public["people"]] == ["ana", "tia"]
    assert all(set(p) == {"id", "name", "handle", "role"} for p in public["people"])
    assert public["people"][1] == {
        "id": therapist["id"],
        "name": "Tia",
        "handle": "tia",
        "role": "therapist",
    }
    assert "bookings" not in public
    assert "bob@example.org" not in str(await schedule(client))

    (hosted,) = (await schedule(client, host_token))["slots"]
    assert [p["handle"] for p in hosted["people"]] == ["ana", "tia"]
    by_handle = {b["person"]["handle"]: b for b in hosted["bookings"]}
    assert {h: b["status"] for h, b in by_handle.items()} == {
        "ana": "confirmed",
        "tia": "confirmed",
        "bob": "invited",
    }
    assert by_handle["bob"]["id"] == invited["id"]
    assert set(by_handle["bob"]["person"]) == {"id", "name", "handle", "role"}
    person_view = await schedule(client, ana["token"])
    assert "bookings" not in person_view["slots"][0]


async def test_concurrent_bookings_of_one_person_at_one_time_let_exactly_one_win(
    client: Client, host_token: str
) -> None:
    channels = ("c1", "c2", "c3", "c4", "c5")
    await event_with_channels(client, host_token, channels=channels)
    slots = [await make_slot(client, host_token, at(10), at(11), channel=c) for c in channels]
    ana = await make_person(client, host_token, "ana")
    answers = await asyncio.gather(*(book(client, host_token, s["id"], ana) for s in slots))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409, 409]
    bookings = [b for s in (await schedule(client, host_token))["slots"] for b in s["bookings"]]
    assert len(bookings) == 1


async def test_concurrent_slots_on_one_channel_at_one_time_let_exactly_one_win(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    body = {"channel": "main", "title": "Race", "starts_at": at(10), "ends_at": at(11)}
    answers = await asyncio.gather(
        *(
            client.post("/api/events/tam/slots", json=body, headers=auth(host_token))
            for _ in range(5)
        )
    )
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409, 409]
    assert len((await schedule(client, host_token))["slots"]) == 1
