"""Slots on channels: one at a time per channel, inside the event, with a sequence for calendars."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.builders import event_with_channels, kinds, patch_slot, schedule
from tests.helpers import DAY, Client, at, auth, make_slot, ok


def slot_body(start: str, end: str, channel: str = "main") -> dict[str, str]:
    return {"channel": channel, "title": "Session", "starts_at": start, "ends_at": end}


async def test_a_new_slot_is_scheduled_with_sequence_zero(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(
        client,
        host_token,
        "2030-10-10T12:00:00+02:00",
        at(11),
        title="Breathe",
        description="Slow down.",
        tags=["calm"],
    )
    assert slot["id"]
    assert (slot["status"], slot["sequence"]) == ("scheduled", 0)
    assert (slot["event"], slot["channel"], slot["title"]) == ("tam", "main", "Breathe")
    assert (slot["description"], slot["tags"], slot["kind"]) == ("Slow down.", ["calm"], "session")
    assert datetime.fromisoformat(slot["starts_at"]) == DAY + timedelta(hours=10)
    assert datetime.fromisoformat(slot["starts_at"]).utcoffset() == timedelta(0)
    assert slot["people"] == []


async def test_an_overlap_on_a_channel_is_409_naming_both_slots(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    first = await make_slot(client, host_token, at(10), at(11))
    for start, end in ((at(10, 30), at(11, 30)), (at(9, 30), at(10, 1)), (at(9), at(12))):
        body = slot_body(start, end)
        response = await client.post("/api/events/tam/slots", json=body, headers=auth(host_token))
        assert kinds(response) == ["channel_overlap"], (start, end)
        conflict = response.json()["extra"][0]
        assert conflict["conflicting_slot_id"] == first["id"]
        assert conflict["slot_id"] and conflict["slot_id"] != first["id"]
    assert [s["id"] for s in (await schedule(client, host_token))["slots"]] == [first["id"]]


async def test_back_to_back_slots_and_the_same_time_on_another_channel_are_fine(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    await make_slot(client, host_token, at(10), at(11))
    await make_slot(client, host_token, at(11), at(12))
    await make_slot(client, host_token, at(9), at(10))
    await make_slot(client, host_token, at(10), at(11), channel="garden")
    assert len((await schedule(client, host_token))["slots"]) == 4


async def test_a_slot_outside_the_event_window_is_400(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)  # the event runs 00:00 to 23:00
    for start, end in ((at(-1), at(1)), (at(22), at(24)), (at(-3), at(-2))):
        body = slot_body(start, end)
        response = await client.post("/api/events/tam/slots", json=body, headers=auth(host_token))
        assert response.status_code == 400, (start, end, response.text)
    assert (await schedule(client, host_token))["slots"] == []


async def test_a_slot_on_an_unknown_channel_or_event_is_404(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    body = slot_body(at(10), at(11), channel="nope")
    response = await client.post("/api/events/tam/slots", json=body, headers=auth(host_token))
    assert response.status_code == 404, response.text
    body = slot_body(at(10), at(11))
    response = await client.post("/api/events/nope/slots", json=body, headers=auth(host_token))
    assert response.status_code == 404, response.text


async def test_patching_the_title_keeps_the_sequence(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    body = {"title": "Renamed", "description": "New words", "tags": ["a", "b"]}
    patched = await ok(await patch_slot(client, host_token, slot["id"], **body))
    assert {key: patched[key] for key in body} == body
    assert patched["sequence"] == 0
    same_times = {"starts_at": at(10), "ends_at": at(11)}
    unmoved = await ok(await patch_slot(client, host_token, slot["id"], **same_times))
    assert unmoved["sequence"] == 0


async def test_patching_the_times_bumps_the_sequence_by_one_each_time(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    moved = await ok(
        await patch_slot(client, host_token, slot["id"], starts_at=at(12), ends_at=at(13))
    )
    assert moved["sequence"] == 1
    assert datetime.fromisoformat(moved["starts_at"]) == DAY + timedelta(hours=12)
    longer = await ok(await patch_slot(client, host_token, slot["id"], ends_at=at(14)))
    assert longer["sequence"] == 2
    assert datetime.fromisoformat(longer["ends_at"]) == DAY + timedelta(hours=14)
    (listed,) = (await schedule(client, host_token))["slots"]
    assert listed["sequence"] == 2


async def test_a_refused_move_is_409_or_400_and_changes_nothing(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    other = await make_slot(client, host_token, at(12), at(13))
    before = (await schedule(client, host_token))["slots"]
    overlap = await patch_slot(client, host_token, slot["id"], starts_at=at(12, 30), ends_at=at(14))
    assert kinds(overlap) == ["channel_overlap"]
    assert overlap.json()["extra"][0]["conflicting_slot_id"] == other["id"]
    assert overlap.json()["extra"][0]["slot_id"] == slot["id"]
    outside = await patch_slot(client, host_token, slot["id"], ends_at=at(23, 30))
    assert outside.status_code == 400, outside.text
    inverted = await patch_slot(client, host_token, slot["id"], ends_at=at(9))
    assert inverted.status_code == 400, inverted.text
    with_title = await patch_slot(
        client, host_token, slot["id"], title="Never", starts_at=at(12), ends_at=at(13)
    )
    assert kinds(with_title) == ["channel_overlap"]
    assert (await schedule(client, host_token))["slots"] == before


async def test_the_schedule_lists_slots_of_every_channel_sorted_by_start(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "garden"))
    await make_slot(client, host_token, at(15), at(16), title="c")
    await make_slot(client, host_token, at(9), at(10), title="a", channel="garden")
    await make_slot(client, host_token, at(12), at(13), title="b")
    slots = (await schedule(client, host_token))["slots"]
    assert [(s["title"], s["channel"]) for s in slots] == [
        ("a", "garden"),
        ("b", "main"),
        ("c", "main"),
    ]
    public_keys = {"id", "channel", "title", "starts_at", "ends_at", "status", "sequence", "tags"}
    assert public_keys | {"people"} <= set(slots[0])
