"""The run of show matches what happens on air: actual times, live delays, pull forward, undo."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from takeamoment.db.engine import Database
from takeamoment.db.slots import Slot
from takeamoment.realtime.snapshots import Snapshots
from tests.api.builders import event_with_channels, kinds, last_seq, patch_slot
from tests.api.show import (
    delay,
    event_around_now,
    listed,
    minutes_from_now,
    run,
    slot_at,
    when,
)
from tests.helpers import Client, at, auth, make_slot, ok


async def test_going_live_records_the_real_start_and_a_delay_never_moves_it(
    client: Client, host_token: str
) -> None:
    await event_around_now(client, host_token)
    slot = await slot_at(client, host_token, 2, 12, title="Tips")
    after = await slot_at(client, host_token, 12, 22, title="After")
    before_live = datetime.now(UTC)
    on_air = await ok(await run(client, host_token, slot["id"], "live"))
    started = when(on_air["actual_started_at"])
    assert before_live <= started <= datetime.now(UTC)
    assert on_air["starts_at"] == slot["starts_at"] and on_air["actual_ended_at"] is None

    moved = await ok(await delay(client, host_token, slot["id"], 10))
    first, pushed = moved["moved"]
    assert first["starts_at"] == first["previous_starts_at"] == slot["starts_at"]
    assert when(first["ends_at"]) == when(slot["ends_at"]) + timedelta(minutes=10)
    assert (pushed["id"], when(pushed["starts_at"])) == (after["id"], when(first["ends_at"]))
    shown = await listed(client, slot["id"])
    assert (shown["starts_at"], shown["actual_started_at"]) == (
        slot["starts_at"],
        on_air["actual_started_at"],
    )


async def test_a_live_slot_may_change_only_its_end_and_text_and_history_only_text(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    live = await make_slot(client, host_token, at(10), at(11), title="Live")
    ended = await make_slot(client, host_token, at(12), at(13), title="Ended")
    cancelled = await make_slot(client, host_token, at(14), at(15), title="Cancelled")
    await ok(await run(client, host_token, ended["id"], "live", {"early": True}))
    await ok(await run(client, host_token, ended["id"], "end"))
    await ok(await run(client, host_token, live["id"], "live", {"early": True}))
    await ok(await run(client, host_token, cancelled["id"], "cancel"))
    seq = await last_seq(client, host_token)

    refused = await patch_slot(client, host_token, live["id"], starts_at=at(10, 5))
    assert kinds(refused) == ["invalid_transition"]
    assert (
        "“Live” (Thu 10 Oct 11:00–12:00 BST) is live, so its start cannot move"
        in (refused.json()["detail"])
    )
    for slot in (ended, cancelled):
        for times in ({"starts_at": at(16)}, {"ends_at": at(17)}):
            assert kinds(await patch_slot(client, host_token, slot["id"], **times)) == [
                "invalid_transition"
            ]
    assert await last_seq(client, host_token) == seq
    extended = await ok(await patch_slot(client, host_token, live["id"], ends_at=at(11, 30)))
    assert (extended["starts_at"], extended["ends_at"]) == (
        live["starts_at"],
        at(11, 30).replace("+00:00", "Z"),
    )
    for slot in (ended, cancelled):
        renamed = await ok(await patch_slot(client, host_token, slot["id"], title="Renamed"))
        assert renamed["title"] == "Renamed"


async def test_ending_early_gives_the_time_back_and_the_rest_is_pulled_forward(
    client: Client, host_token: str
) -> None:
    await event_around_now(client, host_token)
    first = await slot_at(client, host_token, -10, 20, title="First")
    second = await slot_at(client, host_token, 20, 50, title="Second")
    third = await slot_at(client, host_token, 50, 80, title="Third")
    await ok(await run(client, host_token, first["id"], "live"))
    ended = await ok(await run(client, host_token, first["id"], "end"))
    assert ended["ends_at"] == ended["actual_ended_at"]  # the rest of its time is free again
    assert when(ended["ends_at"]) < when(first["ends_at"])

    preview = await ok(await delay(client, host_token, second["id"], -20, dry_run=True))
    pulled = await ok(await delay(client, host_token, second["id"], -20, seq=preview["seq"]))
    assert [m["id"] for m in pulled["moved"]] == [second["id"], third["id"]]
    starts = when(pulled["moved"][0]["starts_at"])
    # Never before now (rounded up to the next minute), nor before the slot that ended.
    assert starts >= when(ended["actual_ended_at"]) and starts <= minutes_from_now(1)
    assert starts.second == 0 and starts.microsecond == 0
    assert when(pulled["moved"][1]["starts_at"]) == when(pulled["moved"][0]["ends_at"])
    for move in pulled["moved"]:
        assert when(move["ends_at"]) - when(move["starts_at"]) == timedelta(minutes=30)
    again = await ok(await delay(client, host_token, second["id"], -20))
    assert again["moved"] == []  # nothing left to win: it already starts now


async def test_a_live_slot_pulled_forward_keeps_its_start_and_ends_no_earlier_than_now(
    client: Client, host_token: str
) -> None:
    await event_around_now(client, host_token)
    live = await slot_at(client, host_token, -5, 30, title="Live")
    later = await slot_at(client, host_token, 30, 40, title="Later")
    await ok(await run(client, host_token, live["id"], "live"))
    pulled = await ok(await delay(client, host_token, live["id"], -60))
    first, second = pulled["moved"]
    assert first["starts_at"] == live["starts_at"]
    assert minutes_from_now(0) <= when(first["ends_at"]) <= minutes_from_now(1)
    assert (second["id"], second["starts_at"]) == (later["id"], first["ends_at"])


async def test_reopen_within_fifteen_minutes_while_the_channel_is_free(
    client: Client, host_token: str, db: Database
) -> None:
    await event_around_now(client, host_token)
    slot = await slot_at(client, host_token, -10, 20, title="Oops")
    nxt = await slot_at(client, host_token, 20, 30, title="Next")
    await ok(await run(client, host_token, slot["id"], "live"))
    ended = await ok(await run(client, host_token, slot["id"], "end"))
    reopened = await ok(await run(client, host_token, slot["id"], "reopen"))
    assert reopened["status"] == "live" and reopened["actual_ended_at"] is None
    assert reopened["actual_started_at"] == ended["actual_started_at"]
    assert reopened["ends_at"] == slot["ends_at"]  # the time it gave back, back again
    assert reopened["sequence"] == ended["sequence"] + 1

    await ok(await run(client, host_token, slot["id"], "end"))
    await ok(await run(client, host_token, nxt["id"], "live"))
    busy = await run(client, host_token, slot["id"], "reopen")
    assert kinds(busy) == ["channel_busy"]
    assert "“Next”" in busy.json()["detail"]
    await ok(await run(client, host_token, nxt["id"], "end"))
    # The clock is the one input a test cannot wait for: move the end back 16 minutes.
    async with db.write_engine.begin() as connection:
        long_ago = datetime.now(UTC) - timedelta(minutes=16)
        await connection.execute(
            update(Slot).where(Slot.id == nxt["id"]).values(actual_ended_at=long_ago)  # type: ignore[arg-type]
        )
    late = await run(client, host_token, nxt["id"], "reopen")
    assert kinds(late) == ["invalid_transition"]
    assert "more than 15 minutes ago" in late.json()["detail"]


async def test_going_live_far_ahead_is_too_early_unless_the_host_says_so(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11), title="Next week")
    seq = await last_seq(client, host_token)
    for body in (None, {"early": False}):
        refused = await run(client, host_token, slot["id"], "live", body)
        assert kinds(refused) == ["too_early"]
        assert refused.json()["extra"][0]["slot_id"] == slot["id"]
        assert "“Next week” (Thu 10 Oct 11:00–12:00 BST) starts in" in refused.json()["detail"]
        assert slot["id"] not in refused.json()["detail"]
    assert await last_seq(client, host_token) == seq
    assert (await ok(await run(client, host_token, slot["id"], "live", {"early": True})))[
        "status"
    ] == "live"
    assert (await run(client, host_token, slot["id"], "live", {"early": "yes"})).status_code == 400


async def test_within_the_hour_a_slot_goes_live_without_saying_early(
    client: Client, host_token: str
) -> None:
    await event_around_now(client, host_token)
    soon = await slot_at(client, host_token, 59, 70)
    assert (await ok(await run(client, host_token, soon["id"], "live")))["status"] == "live"


async def test_a_cancelled_slot_is_restored_with_its_people_or_refused_if_its_time_is_taken(
    client: Client, host_token: str
) -> None:
    await event_around_now(client, host_token)
    slot = await slot_at(client, host_token, 30, 60, title="Back")
    await ok(await run(client, host_token, slot["id"], "cancel"))
    taken = await slot_at(client, host_token, 40, 50, title="Instead")
    seq = await last_seq(client, host_token, "now")
    refused = await run(client, host_token, slot["id"], "restore")
    assert kinds(refused) == ["channel_overlap"]
    assert "“Instead”" in refused.json()["extra"][0]["message"]
    assert (await listed(client, slot["id"]))["status"] == "cancelled"
    assert await last_seq(client, host_token, "now") == seq
    await ok(await run(client, host_token, taken["id"], "cancel"))
    restored = await ok(await run(client, host_token, slot["id"], "restore"))
    assert (restored["status"], restored["sequence"]) == ("scheduled", 2)
    changes = await ok(await client.get(f"/api/events/now/changes?since={seq + 1}"))
    assert [(c["type"], c.get("restored")) for c in changes] == [("slot.updated", True)]
    assert kinds(await run(client, host_token, slot["id"], "restore")) == ["invalid_transition"]


async def test_a_scheduled_slot_whose_start_passed_is_overdue_until_it_goes_live(
    client: Client, host_token: str
) -> None:
    await event_around_now(client, host_token)
    late = await slot_at(client, host_token, -2, 28)
    later = await slot_at(client, host_token, 28, 40)
    assert (await listed(client, late["id"]))["overdue"] is True
    assert (await listed(client, later["id"]))["overdue"] is False
    page = (await client.get("/events/now")).text
    assert "Starting soon" in page and "Up next at" not in page
    on_air = await ok(await run(client, host_token, late["id"], "live"))
    assert on_air["overdue"] is False
    page = (await client.get("/events/now")).text
    assert "Up next at" in page and "Starting soon" not in page


async def test_a_shared_snapshot_is_rebuilt_once_a_slot_it_holds_becomes_overdue(
    client: Client, host_token: str, db: Database
) -> None:
    await event_around_now(client, host_token)
    starts = datetime.now(UTC) + timedelta(seconds=2)
    body = {
        "channel": "main",
        "title": "Any second",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(minutes=30)).isoformat(),
    }
    await ok(await client.post("/api/events/now/slots", json=body, headers=auth(host_token)), 201)
    snapshots = Snapshots(db)
    before = await snapshots.current("now")
    assert [s["overdue"] for s in json.loads(before.text)["slots"]] == [False]
    assert await snapshots.current("now") is before  # shared while nothing changed
    schedule = await ok(await client.get("/api/events/now/schedule"))  # the public one, cached
    assert [s["overdue"] for s in schedule["slots"]] == [False]
    deadline = asyncio.get_running_loop().time() + 30
    while datetime.now(UTC) <= starts:  # the clock, not a change, makes it overdue
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    after = await snapshots.current("now")
    assert after.seq == before.seq
    assert [s["overdue"] for s in json.loads(after.text)["slots"]] == [True]
    schedule = await ok(await client.get("/api/events/now/schedule"))
    assert [s["overdue"] for s in schedule["slots"]] == [True]
