"""The event as one document: export, import as a new draft (all or nothing), CSV of slots."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from takeamoment.db.engine import Database
from takeamoment.demo import seed_demo
from takeamoment.services.importing import import_csv_slots
from takeamoment.settings import Settings
from tests.api.builders import changes, event_with_channels, schedule
from tests.helpers import Client, at, auth, make_person, make_slot, make_therapist, ok

TODAY = date(2030, 6, 1)


async def export(client: Client, token: str, slug: str) -> Any:
    return await ok(await client.get(f"/api/events/{slug}/export", headers=auth(token)))


async def test_the_demo_exported_imported_and_exported_again_is_the_same_document(
    client: Client, db: Database, settings: Settings
) -> None:
    token = (await seed_demo(db, settings, today=TODAY)).host_token
    first = await export(client, token, "take-a-moment")
    document = {**copy.deepcopy(first), "slug": "take-a-moment-again"}
    # Its people are still booked at those times: the original goes first (draft, then gone).
    await ok(await client.post("/api/events/take-a-moment/unpublish", headers=auth(token)))
    await ok(await client.delete("/api/events/take-a-moment", headers=auth(token)), 204)

    created = await ok(
        await client.post("/api/events/import", json=document, headers=auth(token)), 201
    )
    second = await export(client, token, "take-a-moment-again")

    assert created["event"]["status"] == "draft"
    assert (created["channels"], created["slots"]) == (3, len(first["slots"]))
    assert created["people_created"] == []  # the demo's people exist: used as they are
    assert {**second, "slug": "take-a-moment"} == first
    hosted = await schedule(client, token, "take-a-moment-again")
    assert sum(len(slot["bookings"]) for slot in hosted["slots"]) == created["bookings"]
    assert [c["type"] for c in await changes(client, token, "take-a-moment-again")] == [
        "slot.created"
    ] * len(first["slots"])


def broken(document: dict[str, Any]) -> dict[str, Any]:
    """Five different mistakes, in five places."""
    bad = copy.deepcopy(document)
    bad["slug"] = "broken"
    bad["live_url"] = "https://example.com"  # 1: a field the format does not have
    bad["slots"][1]["channel"] = "no-such-channel"  # 2: a channel the document lacks
    bad["slots"][3]["starts_at"] = "2030-10-10 11:15"  # 3: no offset
    bad["slots"][4]["ends_at"] = bad["slots"][5]["ends_at"]  # 4: slot 5 now overlaps it
    bad["slots"][0]["bookings"][0]["person"] = "nobody.here"  # 5: a person nobody listed
    return bad


async def test_a_document_with_five_mistakes_reports_all_five_with_places_and_creates_nothing(
    client: Client, db: Database, settings: Settings
) -> None:
    token = (await seed_demo(db, settings, today=TODAY)).host_token
    document = await export(client, token, "take-a-moment")
    slots = [s for s in document["slots"] if s["channel"] == "main-stage"]
    document["slots"] = slots  # main stage only: back to back, so moving one overlaps the next
    await ok(await client.post("/api/events/take-a-moment/unpublish", headers=auth(token)))
    await ok(await client.delete("/api/events/take-a-moment", headers=auth(token)), 204)

    for dry_run in ("?dry_run=true", ""):
        refused = await client.post(
            f"/api/events/import{dry_run}", json=broken(document), headers=auth(token)
        )
        assert refused.status_code == 400, refused.text
        problems = refused.json()["extra"]
        places = sorted(tuple(p["loc"]) for p in problems)
        assert places == sorted(
            [
                ("live_url",),
                ("slots", 0, "bookings", 0, "person"),
                ("slots", 1, "channel"),
                ("slots", 3, "starts_at"),
                ("slots", 5, "starts_at"),
            ]
        ), problems
        assert refused.json()["detail"] == "the document has 5 problems"
        assert all(p["message"] for p in problems)
        overlap = next(p for p in problems if p["loc"] == ["slots", 5, "starts_at"])
        assert slots[4]["title"] in overlap["message"]
    missing = await client.get("/api/events/broken", headers=auth(token))
    assert missing.status_code == 404


async def test_a_dry_run_says_what_it_would_create_and_creates_nothing(
    client: Client, host_token: str
) -> None:
    document = {
        "slug": "plan",
        "title": "Plan",
        "timezone": "Europe/London",
        "starts_at": at(9),
        "ends_at": at(18),
        "channels": [{"slug": "main", "name": "Main"}],
        "people": [
            {"handle": "newbie", "name": "New Bie", "role": "creator"},
            {
                "handle": "doc",
                "name": "Doc",
                "role": "therapist",
                "license": {
                    "number": "1",
                    "issuer": "I",
                    "jurisdiction": "UK",
                    "expires_on": "2031-01-01",
                    "verified": True,
                },
            },  # fmt: skip
        ],
        "slots": [
            {
                "channel": "main",
                "title": "A",
                "starts_at": at(10),
                "ends_at": at(11),
                "bookings": [{"person": "@newbie", "status": "confirmed"}],
            },
            {
                "channel": "Main",
                "title": "B",
                "starts_at": at(11),
                "ends_at": at(12),
                "bookings": [{"person": "doc"}],
            },
        ],  # fmt: skip
    }
    answer = await ok(
        await client.post(
            "/api/events/import?dry_run=true", json=document, headers=auth(host_token)
        )
    )
    assert answer == {
        "dry_run": True,
        "event": None,
        "channels": 1,
        "slots": 2,
        "bookings": 2,
        "people_created": ["doc", "newbie"],
    }
    assert (await client.get("/api/events/plan", headers=auth(host_token))).status_code == 404
    assert await ok(await client.get("/api/people", headers=auth(host_token))) == []

    created = await ok(
        await client.post("/api/events/import", json=document, headers=auth(host_token)), 201
    )
    hosted = await schedule(client, host_token, "plan")
    assert [
        (b["person"]["handle"], b["status"]) for s in hosted["slots"] for b in s["bookings"]
    ] == [
        ("newbie", "confirmed"),
        ("doc", "invited"),
    ]
    assert created["event"]["slug"] == "plan"
    people = await ok(await client.get("/api/people?q=doc", headers=auth(host_token)))
    assert people[0]["license"]["verified"] is True


async def test_the_rules_hold_against_what_the_database_already_has(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11), title="Already on")
    ana = await make_person(client, host_token, "ana", name="Ana")
    unverified = await make_person(
        client, host_token, "theo", "therapist",
        license={"number": "L", "issuer": "I", "jurisdiction": "UK", "expires_on": "2031-01-01"},
    )  # fmt: skip
    await make_therapist(client, host_token, "tess")
    body = {"person_id": ana["id"], "role": "creator"}
    path = f"/api/slots/{slot['id']}/bookings"
    await ok(await client.post(path, json=body, headers=auth(host_token)), 201)
    assert unverified
    document = {
        "slug": "second",
        "title": "Second",
        "timezone": "UTC",
        "starts_at": at(0),
        "ends_at": at(23),
        "channels": [{"slug": "main", "name": "Main"}],
        "people": [{"handle": "ana", "name": "Ana", "role": "therapist"}],
        "slots": [
            {
                "channel": "main",
                "title": "Clash",
                "starts_at": at(10, 30),
                "ends_at": at(11, 30),
                "bookings": [{"person": "ANA"}, {"person": "theo"}, {"person": "tess"}],
            },
        ],  # fmt: skip
    }
    refused = await client.post("/api/events/import", json=document, headers=auth(host_token))
    problems = refused.json()["extra"]
    assert [(tuple(p["loc"]), p["message"].split(" ")[0]) for p in problems] == [
        (("people", 0, "role"), "@ana"),
        (("slots", 0, "bookings", 0, "person"), "Ana"),
        (("slots", 0, "bookings", 1, "person"), "Theo:"),
    ], problems
    assert "verified" in problems[2]["message"]


CSV = """channel,title,starts_at,ends_at,kind,tags,people
main,Morning stretch,2030-10-10 09:00,2030-10-10 09:30,session,#SelfCare tips,@ana
Main,Book club,2030-10-10T09:30:00+01:00,2030-10-10T10:15:00+01:00,,BookTok,
"""


async def test_a_csv_of_slots_is_added_to_an_event_all_or_nothing(
    client: Client, db: Database, settings: Settings, host_token: str
) -> None:
    await event_with_channels(client, host_token)  # Europe/London: 09:00 local is 08:00 UTC
    ana = await make_person(client, host_token, "ana")

    result = await import_csv_slots(db, "tam", CSV, settings.public_url)

    assert (result.slots, result.bookings) == (2, 1)
    slots = (await schedule(client, host_token))["slots"]
    assert [(s["title"], s["starts_at"], s["tags"], s["kind"]) for s in slots] == [
        ("Morning stretch", "2030-10-10T08:00:00Z", ["SelfCare", "tips"], "session"),
        ("Book club", "2030-10-10T08:30:00Z", ["BookTok"], "session"),
    ]
    assert [b["person"]["id"] for b in slots[0]["bookings"]] == [ana["id"]]
    clash = CSV.replace("Morning stretch", "Twice").replace("Book club", "Again")
    again = await client.get("/api/events/tam/schedule", headers=auth(host_token))
    try:
        await import_csv_slots(db, "tam", clash, settings.public_url)
    except Exception as error:  # noqa: BLE001 - the exception's problems are what is checked
        problems = getattr(error, "problems", [])
    assert [p["loc"] for p in problems] == [
        ["slots", 0, "starts_at"],
        ["slots", 0, "bookings", 0, "person"],
        ["slots", 1, "starts_at"],
    ]
    assert (
        await client.get("/api/events/tam/schedule", headers=auth(host_token))
    ).json() == again.json()
