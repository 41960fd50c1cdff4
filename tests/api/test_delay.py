"""Running late: a delay moves a slot, pushes later slots of its channel just enough, or nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.api.builders import changes, event_with_channels, kinds, last_seq, schedule
from tests.helpers import Client, at, auth, make_person, make_slot, ok, publish


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def delay(client: Client, token: str, slot_id: str, **body: Any) -> Any:
    """POST a delay for a slot; the raw response."""
    return await client.post(f"/api/slots/{slot_id}/delay", json=body, headers=auth(token))


async def times(client: Client, token: str) -> dict[str, tuple[datetime, datetime, int]]:
    """Every slot's start, end and sequence, by id."""
    slots = (await schedule(client, token))["slots"]
    return {s["id"]: (when(s["starts_at"]), when(s["ends_at"]), s["sequence"]) for s in slots}


async def a_channel_with_gaps(client: Client, token: str) -> list[Any]:
    """10-11, 11-12 back to back, then 12:10-13 after a 10-minute gap, 14-15 after an hour."""
    await event_with_channels(client, token, channels=("main", "garden"))
    spans = [(at(10), at(11)), (at(11), at(12)), (at(12, 10), at(13)), (at(14), at(15))]
    return [await make_slot(client, token, start, end) for start, end in spans]


async def test_a_cascade_pushes_later_slots_only_as_far_as_the_gaps_require(
    client: Client, host_token: str
) -> None:
    a, b, c, d = await a_channel_with_gaps(client, host_token)
    answer = await ok(await delay(client, host_token, a["id"], minutes=30))
    assert answer["applied"] is True and answer["conflicts"] == []
    expected = {
        a["id"]: (at(10, 30), at(11, 30)),
        b["id"]: (at(11, 30), at(12, 30)),
        c["id"]: (at(12, 30), at(13, 20)),  # the 10-minute gap absorbed a third of the delay
    }
    assert [m["id"] for m in answer["moved"]] == list(expected)
    for move in answer["moved"]:
        start, end = expected[move["id"]]
        assert (when(move["starts_at"]), when(move["ends_at"])) == (when(start), when(end))
    assert when(answer["moved"][2]["previous_starts_at"]) == when(at(12, 10))
    now = await times(client, host_token)
    for slot_id, (start, end) in expected.items():
        assert now[slot_id] == (when(start), when(end), 1)
    assert now[d["id"]] == (when(at(14)), when(at(15)), 0)  # after an hour's gap: untouched


async def test_each_moved_slot_is_one_rescheduled_change_with_consecutive_seqs(
    client: Client, host_token: str
) -> None:
    a, b, c, _ = await a_channel_with_gaps(client, host_token)
    await publish(client, host_token)
    seq = await last_seq(client, host_token)
    await ok(await delay(client, host_token, a["id"], minutes=30))
    log = await changes(client, since=seq)
    assert [c["type"] for c in log] == ["slot.rescheduled"] * 3
    assert [c["seq"] for c in log] == [seq + 1, seq + 2, seq + 3]
    assert [(m["slot"]["id"], m["slot"]["sequence"]) for m in log] == [
        (a["id"], 1),
        (b["id"], 1),
        (c["id"], 1),
    ]
    listed = {s["id"]: s for s in (await schedule(client))["slots"]}
    assert all(m["slot"] == listed[m["slot"]["id"]] for m in log)


async def test_without_cascade_only_the_slot_moves_and_running_into_the_next_is_409(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    first = await make_slot(client, host_token, at(10), at(11))
    second = await make_slot(client, host_token, at(11, 30), at(12))
    answer = await ok(await delay(client, host_token, first["id"], minutes=30, cascade=False))
    assert [m["id"] for m in answer["moved"]] == [first["id"]]
    before = await times(client, host_token)
    assert before[second["id"]] == (when(at(11, 30)), when(at(12)), 0)
    for force in (False, True):
        refused = await delay(
            client, host_token, first["id"], minutes=1, cascade=False, force=force
        )
        assert kinds(refused) == ["channel_overlap"]
        assert refused.json()["extra"][0]["conflicting_slot_id"] == second["id"]
        assert "nothing was applied" in refused.json()["detail"]
    assert await times(client, host_token) == before


async def test_a_dry_run_answers_the_same_and_applies_nothing(
    client: Client, host_token: str
) -> None:
    a, *_ = await a_channel_with_gaps(client, host_token)
    await publish(client, host_token)
    before, log = await times(client, host_token), await changes(client)
    preview = await ok(await delay(client, host_token, a["id"], minutes=30, dry_run=True))
    assert preview["applied"] is False
    assert await times(client, host_token) == before
    assert await changes(client) == log
    overlap = await ok(
        await delay(client, host_token, a["id"], minutes=30, cascade=False, dry_run=True)
    )
    assert [c["kind"] for c in overlap["conflicts"]] == ["channel_overlap"]
    assert await times(client, host_token) == before
    applied = await ok(await delay(client, host_token, a["id"], minutes=30))
    # The same answer, at the seq the change itself made (one per moved slot).
    assert {**preview, "applied": True, "seq": applied["seq"]} == applied
    assert applied["seq"] == preview["seq"] + len(applied["moved"])


async def test_a_delay_past_the_event_end_is_400_and_applies_nothing(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)  # the event ends at 23:00
    first = await make_slot(client, host_token, at(20), at(21))
    last = await make_slot(client, host_token, at(21), at(22, 30))
    before = await times(client, host_token)
    for body in ({}, {"force": True}, {"dry_run": True}):
        refused = await delay(client, host_token, first["id"], minutes=31, **body)
        assert refused.status_code == 400, refused.text
        # Named by title and time, as a host reads it.
        assert "“Session” (Thu 10 Oct 22:00–23:30 BST)" in refused.json()["detail"]
        assert last["id"] not in refused.json()["detail"]
    assert await times(client, host_token) == before
    await ok(await delay(client, host_token, first["id"], minutes=30))  # ends at 23:00 sharp


async def test_only_scheduled_or_live_slots_can_be_delayed(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    ended = await make_slot(client, host_token, at(8), at(9))
    cancelled = await make_slot(client, host_token, at(9), at(10))
    on_air = await make_slot(client, host_token, at(10), at(11))
    for slot, verbs in ((ended, ("live", "end")), (cancelled, ("cancel",)), (on_air, ("live",))):
        for verb in verbs:
            path = f"/api/slots/{slot['id']}/{verb}"
            body = {"early": True} if verb == "live" else None
            await ok(await client.post(path, json=body, headers=auth(host_token)))
    for slot in (ended, cancelled):
        refused = await delay(client, host_token, slot["id"], minutes=5)
        assert kinds(refused) == ["invalid_transition"]
        assert refused.json()["extra"][0]["slot_id"] == slot["id"]
    moved = await ok(await delay(client, host_token, on_air["id"], minutes=5))
    assert [m["id"] for m in moved["moved"]] == [on_air["id"]]
    # A live slot's start is what happened: the delay extends its end only.
    assert (await times(client, host_token))[on_air["id"]] == (
        when(at(10)),
        when(at(11, 5)),
        2,  # once for going live, once for the move
    )


async def test_a_cascade_never_moves_an_ended_slot_and_skips_cancelled_ones(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    first = await make_slot(client, host_token, at(10), at(11))
    dropped = await make_slot(client, host_token, at(11), at(12))
    await ok(await client.post(f"/api/slots/{dropped['id']}/cancel", headers=auth(host_token)))
    after = await make_slot(client, host_token, at(12, 30), at(13))
    answer = await ok(await delay(client, host_token, first["id"], minutes=100))
    assert [m["id"] for m in answer["moved"]] == [first["id"], after["id"]]
    assert (await times(client, host_token))[dropped["id"]][:2] == (when(at(11)), when(at(12)))
    # A slot that already ended is history: a cascade that would push it is refused.
    for verb in ("live", "end"):
        body = {"early": True} if verb == "live" else None
        path = f"/api/slots/{after['id']}/{verb}"
        await ok(await client.post(path, json=body, headers=auth(host_token)))
    refused = await delay(client, host_token, first["id"], minutes=5)
    assert kinds(refused) == ["invalid_transition"]
    assert refused.json()["extra"][0]["slot_id"] == after["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"minutes": 0},
        {"minutes": 0},
        {"minutes": -24 * 60 - 1},
        {"minutes": 24 * 60 + 1},
        {"minutes": "10"},
        {"minutes": 1.5},
        {"minutes": True},
        {},
        {"minutes": 5, "cascade": "no"},
        {"minutes": 5, "dry_run": 1},
    ],
)
async def test_a_delay_must_be_whole_non_zero_minutes_up_to_a_day_either_way(
    client: Client, host_token: str, body: dict[str, Any]
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    refused = await delay(client, host_token, slot["id"], **body)
    assert refused.status_code == 400, (body, refused.text)


async def test_delaying_is_for_hosts_and_an_unknown_slot_is_404(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana = await make_person(client, host_token, "ana")
    path = f"/api/slots/{slot['id']}/delay"
    assert (await client.post(path, json={"minutes": 5})).status_code == 401
    assert (await delay(client, ana["token"], slot["id"], minutes=5)).status_code == 403
    assert (await delay(client, host_token, "nope", minutes=5)).status_code == 404
