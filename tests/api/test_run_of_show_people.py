"""Everyone affected is told, in words a host reads; previews are not applied blindly; tags."""

from __future__ import annotations

from typing import Any

from tests.api.builders import (
    answer,
    changes,
    confirmed,
    event_with_channels,
    invite,
    kinds,
    last_seq,
    patch_slot,
)
from tests.api.show import SLUG, delay, event_around_now, kinds_of, run, slot_at
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


async def test_a_removed_booking_tells_the_person(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11), title="Tips")
    ana, bob = (
        await make_person(client, host_token, "ana"),
        await make_person(client, host_token, "bob"),
    )
    kept = await confirmed(client, host_token, slot["id"], ana)
    invited = await invite(client, host_token, slot["id"], bob)
    for booking in (kept, invited):
        await ok(
            await client.delete(f"/api/bookings/{booking['id']}", headers=auth(host_token)), 204
        )
        await ok(
            await client.delete(f"/api/bookings/{booking['id']}", headers=auth(host_token)), 204
        )
    for person, booking in ((ana, kept), (bob, invited)):
        found = await ok(await client.get("/api/me/notifications", headers=auth(person["token"])))
        (removed,) = [n for n in found if n["kind"] == "booking.removed"]  # once, not twice
        assert (removed["booking_id"], removed["slot"]["id"]) == (booking["id"], slot["id"])
        assert (removed["booking_status"], removed["reason"]) == ("removed", "removed")


async def test_a_decline_is_in_the_log_and_in_readiness_named_only_for_the_host(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana, bob = (
        await make_person(client, host_token, "ana"),
        await make_person(client, host_token, "bob"),
    )
    invited = await invite(client, host_token, slot["id"], ana)
    was_on = await confirmed(client, host_token, slot["id"], bob)
    seq = await last_seq(client, host_token)
    await ok(await answer(client, ana["token"], invited["id"], "decline"))
    await ok(await answer(client, bob["token"], was_on["id"], "decline"))
    log = await changes(client, since=seq)
    assert [c["type"] for c in log] == ["booking.declined", "booking.declined"]
    assert "person" not in log[0]["booking"] and "Ana" not in str(log[0])
    assert log[1]["booking"]["person"]["name"] == "Bob"  # the public had seen Bob confirmed
    rows = await ok(await client.get("/api/events/tam/readiness", headers=auth(host_token)))
    (entry,) = [row for row in rows if row["id"] == slot["id"]]
    assert sorted((p["person"]["name"], p["booking_status"]) for p in entry["people"]) == [
        ("Ana", "declined"),
        ("Bob", "declined"),
    ]
    assert all(p["notices"] == [] for p in entry["people"])


async def test_a_preview_applied_after_the_schedule_changed_is_refused_with_the_new_preview(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    first = await make_slot(client, host_token, at(10), at(11), title="First")
    second = await make_slot(client, host_token, at(11), at(12), title="Second")
    preview = await ok(await delay(client, host_token, first["id"], 30, dry_run=True))
    assert preview["seq"] == await last_seq(client, host_token)
    assert [m["id"] for m in preview["moved"]] == [first["id"], second["id"]]
    await ok(await patch_slot(client, host_token, second["id"], starts_at=at(12), ends_at=at(13)))
    seq = await last_seq(client, host_token)
    stale = await delay(client, host_token, first["id"], 30, seq=preview["seq"])
    assert kinds(stale) == ["stale_preview"]
    found = stale.json()["extra"][0]
    assert found["seq"] == seq
    assert [m["id"] for m in found["preview"]["moved"]] == [first["id"]]  # the gap absorbs it now
    assert found["preview"]["applied"] is False and found["preview"]["seq"] == seq
    assert await last_seq(client, host_token) == seq  # nothing was applied
    applied = await ok(await delay(client, host_token, first["id"], 30, seq=found["seq"]))
    assert applied["applied"] is True and applied["moved"] == found["preview"]["moved"]


async def test_refusals_name_slots_by_title_and_time_and_people_by_name(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    tips = await make_slot(client, host_token, at(10), at(11), title="Tips")
    talk = await make_slot(
        client, host_token, at(10, 30), at(11, 30), title="Talk", channel="garden"
    )
    ana = await make_person(client, host_token, "ana")
    await confirmed(client, host_token, tips["id"], ana)
    messages: list[str] = []
    overlap = await book(client, host_token, talk["id"], ana)
    assert kinds(overlap) == ["person_overlap"]
    messages += [overlap.json()["detail"], overlap.json()["extra"][0]["message"]]
    assert "Ana is already booked in “Tips” (Thu 10 Oct 11:00–12:00 BST)" in messages[-1]
    clash = await client.post(
        "/api/events/tam/slots",
        json={"channel": "main", "title": "Clash", "starts_at": at(10), "ends_at": at(11)},
        headers=auth(host_token),
    )
    messages.append(clash.json()["extra"][0]["message"])
    assert "“Tips” (Thu 10 Oct 11:00–12:00 BST)" in messages[-1]
    twice = await book(client, host_token, tips["id"], ana)
    messages.append(twice.json()["detail"])
    assert messages[-1] == "Ana is already booked in “Tips” (Thu 10 Oct 11:00–12:00 BST)"
    lee = await make_therapist(client, host_token, "lee", expires_on="2030-10-09")
    expired = await book(client, host_token, talk["id"], lee)
    assert expired.status_code == 422
    messages.append(expired.json()["detail"])
    assert messages[-1].startswith("Lee cannot answer as a therapist in “Talk”")
    ended = await make_slot(client, host_token, at(14), at(15), title="Done")
    await ok(await run(client, host_token, ended["id"], "live", {"early": True}))
    await ok(await run(client, host_token, ended["id"], "end"))
    again = await run(client, host_token, ended["id"], "live")
    messages.append(again.json()["detail"])
    assert messages[-1].startswith("“Done” (Thu 10 Oct 15:00–16:00 BST) has ended")
    ids = [tips["id"], talk["id"], ana["id"], lee["id"], ended["id"]]
    assert not [m for m in messages if any(i in m for i in ids)], messages
    assert not [m for m in messages if " a ended " in m]


async def test_tags_and_hashtags_are_stored_without_hash_once_regardless_of_case(
    client: Client, host_token: str
) -> None:
    event = await event_with_channels(
        client, host_token, hashtags=["#BookTok", "booktok", "##MentalHealth", " #SelfCare "]
    )
    assert event["hashtags"] == ["BookTok", "MentalHealth", "SelfCare"]
    await publish(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11), tags=["#BookTok", "booktok", "Calm"])
    assert slot["tags"] == ["BookTok", "Calm"]
    renamed = await ok(await patch_slot(client, host_token, slot["id"], tags=["#CALM"]))
    assert renamed["tags"] == ["CALM"]
    assert (await patch_slot(client, host_token, slot["id"], tags=["#"])).status_code == 400
    for tag in ("calm", "%23Calm"):
        feed = await client.get(f"/events/tam/calendar.ics?tag={tag}")
        assert feed.status_code == 200 and slot["id"] in feed.text, tag
    page = (await client.get("/events/tam")).text
    assert "#BookTok" in page and "##" not in page and "#CALM" in page


async def _confirmed_now(client: Client, token: str, slot: Any, handle: str) -> Any:
    person = await make_person(client, token, handle)
    await confirmed(client, token, slot["id"], person)
    return person


async def test_people_are_told_go_live_when_their_channel_frees_not_before(
    client: Client, host_token: str
) -> None:
    await event_around_now(client, host_token)
    overrunning = await slot_at(client, host_token, -30, -1, title="Overrunning")
    mine = await slot_at(client, host_token, -1, 30, title="Mine")
    await ok(await run(client, host_token, overrunning["id"], "live"))
    ana = await _confirmed_now(client, host_token, mine, "ana")
    assert "go_live" not in await kinds_of(client, ana)  # the channel is busy
    await ok(await run(client, host_token, overrunning["id"], "end"))
    assert (await kinds_of(client, ana)).count("go_live") == 1  # told at once, by the end
    await ok(await run(client, host_token, mine["id"], "live"))
    assert (await kinds_of(client, ana)).count("go_live") == 1  # never twice


async def test_taking_a_slot_live_early_tells_its_people_then(
    client: Client, host_token: str
) -> None:
    await event_around_now(client, host_token)
    later = await slot_at(client, host_token, 30, 60)
    ana = await _confirmed_now(client, host_token, later, "ana")
    await ok(await run(client, host_token, later["id"], "live"))
    found = await ok(await client.get("/api/me/notifications", headers=auth(ana["token"])))
    (told,) = [n for n in found if n["kind"] == "go_live"]
    assert told["slot"]["status"] == "live"
    restored = await ok(await client.get(f"/api/events/{SLUG}/changes?since=0"))
    assert restored[-1]["type"] == "slot.live"


async def test_restoring_brings_back_each_booking_as_it_stood_and_tells_them(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    slot = await make_slot(client, host_token, at(10), at(11), title="Back")
    ana, bob = (
        await make_person(client, host_token, "ana"),
        await make_person(client, host_token, "bob"),
    )
    await confirmed(client, host_token, slot["id"], ana)
    await invite(client, host_token, slot["id"], bob)
    await ok(await run(client, host_token, slot["id"], "cancel"))
    elsewhere = await make_slot(client, host_token, at(10), at(11), channel="garden", title="Else")
    bob_there = await invite(client, host_token, elsewhere["id"], bob)
    refused = await run(client, host_token, slot["id"], "restore")
    assert kinds(refused) == ["person_overlap"]
    assert "Bob is already booked in “Else”" in refused.json()["extra"][0]["message"]
    await ok(await client.delete(f"/api/bookings/{bob_there['id']}", headers=auth(host_token)), 204)
    restored = await ok(await run(client, host_token, slot["id"], "restore"))
    assert [p["name"] for p in restored["people"]] == ["Ana"]
    for person, status in ((ana, "confirmed"), (bob, "invited")):
        found = await ok(await client.get("/api/me/notifications", headers=auth(person["token"])))
        told = found[-1]
        assert (told["kind"], told["restored"], told["booking_status"]) == (
            "schedule.changed",
            True,
            status,
        )


async def test_confirming_into_a_slot_already_on_air_tells_go_live_at_once(
    client: Client, host_token: str
) -> None:
    await event_around_now(client, host_token)
    early = await slot_at(client, host_token, 20, 50, title="Early")
    ana = await make_person(client, host_token, "ana")
    booking = await invite(client, host_token, early["id"], ana)
    await ok(await run(client, host_token, early["id"], "live"))
    assert await kinds_of(client, ana) == ["booking.invited"]  # not confirmed: not prompted
    await ok(await answer(client, ana["token"], booking["id"]))
    assert await kinds_of(client, ana) == ["booking.invited", "go_live"]
