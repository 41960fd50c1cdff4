"""Every feed shape, read by icalendar, vobject and ics, matches the schedule the API shows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.calendar.builders import (
    Festival,
    feed_text,
    host_slots,
    path_of,
    public_slots,
)
from tests.calendar.readers import ReadEvent, assert_well_formed, read_everywhere
from tests.conftest import ONE_BACKEND
from tests.helpers import Client

pytestmark = ONE_BACKEND  # what three parsers read of our bytes

REMINDERS = (timedelta(minutes=-15), timedelta(minutes=-5))


def expected_event(
    slot: Any, uid: str, alarms: tuple[timedelta, ...] = (), invited: bool = False
) -> dict[str, Any]:
    """What a reader must find for a slot of the schedule (``invited``: the owner's answer
    is still awaited, so their feed says TENTATIVE)."""
    status = "TENTATIVE" if invited else "CONFIRMED"
    return {
        "uid": uid,
        "summary": slot["title"],
        "starts_at": datetime.fromisoformat(slot["starts_at"]),
        "ends_at": datetime.fromisoformat(slot["ends_at"]),
        "status": "CANCELLED" if slot["status"] == "cancelled" else status,
        "sequence": slot["sequence"],
        "categories": frozenset(slot["tags"]),
        "alarms": () if slot["status"] == "cancelled" else alarms,
    }


def as_read(event: ReadEvent) -> dict[str, Any]:
    fields = ("uid", "summary", "starts_at", "ends_at", "status", "sequence", "categories")
    return {**{name: getattr(event, name) for name in fields}, "alarms": event.alarms}


PUBLIC_SHAPES = {
    "whole event": ("tam", "", lambda slot: True),
    "one channel": ("tam", "?channel=garden", lambda slot: slot["channel"] == "garden"),
    "one tag, any case": ("tam", "?tag=CALM", lambda slot: "calm" in slot["tags"]),
    "channel and tag": (
        "tam",
        "?channel=main&tag=q%26a",
        lambda slot: slot["channel"] == "main" and "Q&A" in slot["tags"],
    ),
    "no slot matches": ("tam", "?tag=nothing-has-this", lambda slot: False),
    "another zone": ("kol", "", lambda slot: True),
}


@pytest.mark.parametrize("shape", PUBLIC_SHAPES)
async def test_every_public_feed_reads_the_same_in_three_parsers_and_matches_the_schedule(
    client: Client, festival: Festival, shape: str
) -> None:
    event, query, keep = PUBLIC_SHAPES[shape]
    text = await feed_text(client, f"/events/{event}/calendar.ics{query}")

    assert_well_formed(text.encode())
    read = {uid: as_read(e) for uid, e in read_everywhere(text).items()}
    expected = {
        f"{slot['id']}@testserver": expected_event(slot, f"{slot['id']}@testserver")
        for slot in await public_slots(client, event)
        if keep(slot)
    }
    assert read == expected
    if shape == "whole event":  # the cancelled slot stays, and the DST slots kept their length
        assert {e["status"] for e in read.values()} == {"CONFIRMED", "CANCELLED"}
        night = read[f"{festival.slots['night']['id']}@testserver"]
        assert night["ends_at"] - night["starts_at"] == timedelta(hours=3, minutes=30)


# Whose slots each private feed holds: active bookings, and "dropped", cancelled after ana was
# invited (her booking was released with it, and the slot stays in her calendar as CANCELLED).
BOOKED = {"ana": ("calm", "repeat", "dropped", "kolkata"), "bo": ("night",), "cy": ()}
INVITED = {"repeat"}  # ana has not answered yet


@pytest.mark.parametrize("who", BOOKED)
async def test_every_private_feed_reads_the_same_in_three_parsers_and_matches_the_bookings(
    client: Client, host_token: str, festival: Festival, who: str
) -> None:
    person = getattr(festival, who)
    text = await feed_text(client, path_of(person["feed_url"]))

    assert_well_formed(text.encode())
    read = {uid: as_read(e) for uid, e in read_everywhere(text).items()}
    schedule = {slot["id"]: slot for slot in await host_slots(client, host_token, "tam", "kol")}
    mine = [(name, schedule[festival.slots[name]["id"]]) for name in BOOKED[who]]
    expected = {
        f"{slot['id']}.{person['id']}@testserver": expected_event(
            slot, f"{slot['id']}.{person['id']}@testserver", REMINDERS, name in INVITED
        )
        for name, slot in mine
    }
    assert read == expected
