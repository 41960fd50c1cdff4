"""The editor's schedule routes: a slot, deleting, channels, unpublish, drafts, who is free."""

from __future__ import annotations

import pytest
from litestar.exceptions import WebSocketDisconnect

from tests.api.builders import (
    changes,
    confirmed,
    event_with_channels,
    invite,
    patch_slot,
    schedule,
)
from tests.helpers import (
    Client,
    at,
    auth,
    make_person,
    make_slot,
    make_therapist,
    ok,
    publish,
)


async def test_one_slot_is_public_in_a_published_event_and_a_hosts_in_a_draft(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(
        client, host_token, at(10), at(11), stream_url="https://example.com/live"
    )
    ana = await make_person(client, host_token, "ana")
    await invite(client, host_token, slot["id"], ana)
    path = f"/api/slots/{slot['id']}"

    assert (await client.get(path)).status_code == 404  # a draft's slot does not exist publicly
    hosted = await ok(await client.get(path, headers=auth(host_token)))
    assert [b["status"] for b in hosted["bookings"]] == ["invited"]
    assert hosted["stream_url"] == "https://example.com/live"
    await publish(client, host_token)
    public = await ok(await client.get(path))
    assert public["people"] == [] and "bookings" not in public
    assert (await client.get("/api/slots/nope")).status_code == 404


async def test_stored_urls_must_be_http_or_https_and_at_most_2000_characters(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    for bad in ("javascript:alert(1)", "ftp://example.com/x", "https://", "https://a b.com",
                "https://example.com/" + "x" * 1990):  # fmt: skip
        answer = await client.patch(
            f"/api/slots/{slot['id']}", json={"stream_url": bad}, headers=auth(host_token)
        )
        assert answer.status_code == 400, (bad, answer.text)
    cleared = await client.patch(
        f"/api/slots/{slot['id']}", json={"stream_url": None}, headers=auth(host_token)
    )
    assert (await ok(cleared))["stream_url"] is None


async def test_deleting_a_scheduled_slot_tells_its_people_and_logs_it(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11), title="Small habits")
    ana = await make_person(client, host_token, "ana")
    await confirmed(client, host_token, slot["id"], ana)

    await ok(await client.delete(f"/api/slots/{slot['id']}", headers=auth(host_token)), 204)

    assert (await schedule(client))["slots"] == []
    last = (await changes(client))[-1]
    assert (last["type"], last["slot_id"], last["deleted"]["title"]) == (
        "slot.deleted",
        slot["id"],
        "Small habits",
    )
    notes = await ok(await client.get("/api/me/notifications", headers=auth(ana["token"])))
    assert [n["kind"] for n in notes] == ["booking.invited", "booking.removed"]
    assert notes[-1]["slot"]["title"] == "Small habits"
    # The slot's time is free again, on the channel and for Ana.
    again = await make_slot(client, host_token, at(10), at(11))
    await invite(client, host_token, again["id"], ana)
    assert (
        await client.delete(f"/api/slots/{slot['id']}", headers=auth(host_token))
    ).status_code == 404


async def test_only_a_scheduled_slot_can_be_deleted(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    await ok(await client.post(f"/api/slots/{slot['id']}/cancel", headers=auth(host_token)))
    refused = await client.delete(f"/api/slots/{slot['id']}", headers=auth(host_token))
    assert refused.status_code == 409
    assert refused.json()["extra"][0]["kind"] == "invalid_transition"


async def test_a_slots_bookings_list_every_status_with_the_person(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana, bob, cy = [await make_person(client, host_token, h) for h in ("ana", "bob", "cy")]
    await confirmed(client, host_token, slot["id"], ana)
    declined = await invite(client, host_token, slot["id"], bob)
    await ok(
        await client.post(f"/api/bookings/{declined['id']}/decline", headers=auth(bob["token"]))
    )
    removed = await invite(client, host_token, slot["id"], cy)
    await ok(await client.delete(f"/api/bookings/{removed['id']}", headers=auth(host_token)), 204)

    listed = await ok(
        await client.get(f"/api/slots/{slot['id']}/bookings", headers=auth(host_token))
    )

    assert [(b["person"]["handle"], b["status"]) for b in listed] == [
        ("ana", "confirmed"),
        ("bob", "declined"),
        ("cy", "removed"),
    ]


async def test_channels_are_renamed_reordered_and_given_a_stream_link(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "qa", "calm"))
    path = "/api/events/tam/channels"

    moved = await ok(
        await client.patch(
            f"{path}/calm",
            json={
                "position": 0,
                "name": "Calm corner",
                "stream_url": "https://tiktok.com/@calm/live",
            },
            headers=auth(host_token),
        )
    )
    assert (moved["position"], moved["name"]) == (0, "Calm corner")
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert [(c["slug"], c["position"]) for c in event["channels"]] == [
        ("calm", 0),
        ("main", 1),
        ("qa", 2),
    ]
    await ok(await client.patch(f"{path}/calm", json={"position": 99}, headers=auth(host_token)))
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert [c["slug"] for c in event["channels"]] == ["main", "qa", "calm"]
    logged = [c for c in await changes(client, host_token) if c["type"] == "channel.updated"]
    assert len(logged) == 2 and [c["slug"] for c in logged[-1]["channels"]] == [
        "main",
        "qa",
        "calm",
    ]
    bad = await client.patch(
        f"{path}/main", json={"stream_url": "tiktok"}, headers=auth(host_token)
    )
    assert bad.status_code == 400


async def test_only_an_empty_channel_can_be_deleted(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token, channels=("main", "qa"))
    await make_slot(client, host_token, at(10), at(11))

    refused = await client.delete("/api/events/tam/channels/main", headers=auth(host_token))
    assert refused.status_code == 409 and "Main" in refused.json()["detail"]
    await ok(await client.delete("/api/events/tam/channels/qa", headers=auth(host_token)), 204)
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert [c["slug"] for c in event["channels"]] == ["main"]
    assert (await changes(client, host_token))[-1]["type"] == "channel.deleted"


async def test_unpublishing_hides_the_event_and_only_a_draft_can_be_deleted(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana = await make_person(client, host_token, "ana")
    await confirmed(client, host_token, slot["id"], ana)
    await publish(client, host_token)

    refused = await client.delete("/api/events/tam", headers=auth(host_token))
    assert refused.status_code == 409 and "unpublish" in refused.json()["detail"]
    draft = await ok(await client.post("/api/events/tam/unpublish", headers=auth(host_token)))
    assert draft["status"] == "draft"
    assert (await client.get("/api/events/tam")).status_code == 404
    assert (await client.get("/events/tam/calendar.ics")).status_code == 404

    await ok(await client.delete("/api/events/tam", headers=auth(host_token)), 204)
    assert (await client.get("/api/events/tam", headers=auth(host_token))).status_code == 404
    notes = await ok(await client.get("/api/me/notifications", headers=auth(ana["token"])))
    assert [n["kind"] for n in notes][-1] == "booking.removed"
    await event_with_channels(client, host_token)  # the slug is free again
    assert (await changes(client, host_token)) == []


async def test_candidates_say_who_is_free_and_why_the_others_are_not(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "qa"))
    first = await make_slot(client, host_token, at(10), at(11), title="Small habits")
    second = await make_slot(client, host_token, at(11), at(12), channel="qa", title="Q&A")
    busy = await make_person(client, host_token, "maya", name="Maya Okafor")
    free = await make_person(client, host_token, "mo", name="Mo Free")
    away = await make_person(client, host_token, "mina", name="Mina Away")
    await ok(
        await client.post(
            f"/api/people/{away['id']}/availability",
            json={"starts_at": at(14), "ends_at": at(18)},
            headers=auth(host_token),
        ),
        201,
    )
    unverified = await make_person(
        client,
        host_token,
        "mags",
        "therapist",
        name="Mags Therapist",
        license={"number": "L", "issuer": "I", "jurisdiction": "UK", "expires_on": "2031-01-01"},
    )
    await make_therapist(client, host_token, "maud")
    await invite(client, host_token, first["id"], busy)
    assert unverified and free

    found = await ok(
        await client.get(f"/api/slots/{second['id']}/candidates?q=m", headers=auth(host_token))
    )
    by_handle = {c["person"]["handle"]: c for c in found}

    assert [c["bookable"] for c in found] == sorted((c["bookable"] for c in found), reverse=True)
    assert by_handle["mo"]["bookable"] and by_handle["mo"]["reasons"] == []
    assert by_handle["maud"]["bookable"]
    maya = by_handle["maya"]
    assert not maya["bookable"] and [r["kind"] for r in maya["reasons"]] == ["changeover"]
    assert "“Small habits”" in maya["reasons"][0]["message"]
    assert "Main" in maya["reasons"][0]["message"] and "5 min" in maya["reasons"][0]["message"]
    assert [r["kind"] for r in by_handle["mina"]["reasons"]] == ["outside_availability"]
    assert "verified" in by_handle["mags"]["reasons"][0]["message"]
    here = await ok(
        await client.get(
            f"/api/slots/{first['id']}/candidates?q=maya&role=creator", headers=auth(host_token)
        )
    )
    assert here[0]["booking"]["status"] == "invited" and not here[0]["bookable"]
    # The list never books anyone.
    assert [
        b["person"]["handle"] for b in (await schedule(client, host_token))["slots"][1]["bookings"]
    ] == []


async def test_a_host_follows_a_drafts_stream_and_nobody_else_does(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    ana = await make_person(client, host_token, "ana")
    for headers in ({}, auth(ana["token"]), {**auth(host_token), "Origin": "https://evil.example"}):
        ws = await client.websocket_connect("/ws/events/tam", headers=headers)
        with ws, pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=10)
        assert closed.value.code == 4404

    with await client.websocket_connect("/ws/events/tam", headers=auth(host_token)) as ws:
        snapshot = ws.receive_json(timeout=10)
        slot = await make_slot(client, host_token, at(10), at(11), title="Draft slot")
        change = ws.receive_json(timeout=10)
    assert (snapshot["type"], snapshot["slots"]) == ("snapshot", [])
    assert (change["type"], change["slot"]["id"]) == ("slot.created", slot["id"])


async def test_a_slot_moves_to_another_channel_under_the_same_rules_as_a_new_time(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token, channels=("main", "qa"))
    await publish(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11), title="Small habits")
    ana = await make_person(client, host_token, "ana")
    await confirmed(client, host_token, slot["id"], ana)
    busy = await make_slot(client, host_token, at(10, 30), at(11, 30), channel="qa")

    refused = await patch_slot(client, host_token, slot["id"], channel="qa")
    assert refused.status_code == 409
    assert refused.json()["extra"][0]["conflicting_slot_id"] == busy["id"]
    assert (await patch_slot(client, host_token, slot["id"], channel="nowhere")).status_code == 404

    await ok(await client.delete(f"/api/slots/{busy['id']}", headers=auth(host_token)), 204)
    moved = await ok(await patch_slot(client, host_token, slot["id"], channel="qa"))

    assert (moved["channel"], moved["sequence"]) == ("qa", slot["sequence"] + 1)
    assert (await changes(client))[-1]["type"] == "slot.rescheduled"
    notes = await ok(await client.get("/api/me/notifications", headers=auth(ana["token"])))
    assert notes[-1]["kind"] == "schedule.changed"
    assert notes[-1]["slot"]["channel"] == "qa"


async def test_a_live_slot_stays_on_its_channel(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token, channels=("main", "qa"))
    slot = await make_slot(client, host_token, at(10), at(11))
    await ok(
        await client.post(
            f"/api/slots/{slot['id']}/live", json={"early": True}, headers=auth(host_token)
        )
    )

    refused = await patch_slot(client, host_token, slot["id"], channel="qa")

    assert refused.status_code == 409
    assert "cannot move to another one" in refused.json()["detail"]
