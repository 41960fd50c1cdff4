"""The audit log: every write of a host (or a creator) is one entry with who, what, when, before
and after; failed writes, reads and rolled-back transactions leave none; secrets never show."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.audit import Actor, acting_as
from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.people import Host
from takeamoment.services import audit
from takeamoment.services.tokens import hash_token
from tests.api.builders import answer, event_with_channels, invite, patch_slot
from tests.helpers import (
    DAY,
    Client,
    at,
    auth,
    book,
    make_channel,
    make_event,
    make_person,
    make_slot,
    make_therapist,
    ok,
    publish,
)


async def entries(client: Client, token: str, path: str = "/api/audit", **params: Any) -> Any:
    return await ok(await client.get(path, params=params, headers=auth(token)))


async def cursor(client: Client, token: str) -> str | None:
    """The id of the newest entry so far: what comes after it is what the next action did."""
    seen = await entries(client, token, limit=500)
    return seen[-1]["id"] if seen else None


async def entries_after(client: Client, token: str, after: str | None) -> Any:
    return await entries(client, token, **({"after": after} if after else {}))


async def the_entry_after(client: Client, token: str, after: str | None) -> Any:
    """The one entry written since ``after``; fails unless there is exactly one."""
    new = await entries_after(client, token, after)
    assert len(new) == 1, new
    return new[0]


def change_of(entry: Any, entity: str, entity_id: str | None = None) -> Any:
    """The entry's only change to a row of ``entity`` (with that id, when given)."""
    found = [
        c
        for c in entry["changes"]
        if c["entity"] == entity and (entity_id is None or c["id"] == entity_id)
    ]
    assert len(found) == 1, entry["changes"]
    return found[0]


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_building_an_event_leaves_one_entry_per_action_with_the_host_and_the_values(
    client: Client, host_token: str
) -> None:
    event = await make_event(client, host_token, title="Draft title")
    created = await the_entry_after(client, host_token, None)
    assert created["actor"]["role"] == "host"
    assert created["actor"]["name"] == "Test Host" and created["actor"]["id"]
    assert created["actor"]["token_id"]
    assert created["action"] == "POST /api/events"
    assert (created["event_id"], created["target"]) == (event["id"], f"event:{event['id']}")
    row = change_of(created, "event")
    assert (row["op"], row["before"]) == ("created", None)
    assert row["after"]["slug"] == "tam" and row["after"]["title"] == "Draft title"
    assert instant(created["at"]).utcoffset() is not None

    mark = created["id"]
    body = {"title": "Take A Moment"}
    await ok(await client.patch("/api/events/tam", json=body, headers=auth(host_token)))
    patched = await the_entry_after(client, host_token, mark)
    assert patched["action"] == "PATCH /api/events/{slug}"
    assert change_of(patched, "event")["before"] == {"title": "Draft title"}
    assert change_of(patched, "event")["after"] == {"title": "Take A Moment"}

    await publish(client, host_token)
    published = await the_entry_after(client, host_token, patched["id"])
    status = change_of(published, "event")
    assert (status["op"], status["before"], status["after"]) == (
        "updated",
        {"status": "draft"},
        {"status": "published"},
    )
    assert published["target"] == f"event:{event['id']}"

    channel = await make_channel(client, host_token)
    added = await the_entry_after(client, host_token, published["id"])
    assert added["action"] == "POST /api/events/{slug}/channels"
    assert added["event_id"] == event["id"] and added["target"] == f"channel:{channel['id']}"
    assert change_of(added, "channel", channel["id"])["after"]["slug"] == "main"

    by_event = await entries(client, host_token, "/api/events/tam/audit")
    assert [e["id"] for e in by_event] == [
        created["id"],
        patched["id"],
        published["id"],
        added["id"],
    ]


async def test_slot_and_booking_actions_record_before_and_after_and_who_answered(
    client: Client, host_token: str
) -> None:
    event = await event_with_channels(client, host_token)
    ana = await make_person(client, host_token, "ana")
    mark = await cursor(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    added = await the_entry_after(client, host_token, mark)
    assert added["target"] == f"slot:{slot['id']}" and added["event_id"] == event["id"]
    assert change_of(added, "slot")["op"] == "created"

    moved = await ok(await patch_slot(client, host_token, slot["id"], starts_at=at(9, 30)))
    assert moved["sequence"] == 1
    patched = await the_entry_after(client, host_token, added["id"])
    assert patched["action"] == "PATCH /api/slots/{slot_id}"
    times = change_of(patched, "slot", slot["id"])
    assert instant(times["before"]["starts_at"]) == instant(at(10))
    assert instant(times["after"]["starts_at"]) == instant(at(9, 30))
    assert (times["before"]["sequence"], times["after"]["sequence"]) == (0, 1)
    assert "ends_at" not in times["before"]  # only what changed

    booking = await invite(client, host_token, slot["id"], ana)
    booked = await the_entry_after(client, host_token, patched["id"])
    assert booked["target"] == f"slot:{slot['id']}" and booked["event_id"] == event["id"]
    assert change_of(booked, "booking", booking["id"])["after"]["status"] == "invited"

    await ok(await answer(client, ana["token"], booking["id"]))
    accepted = await the_entry_after(client, host_token, booked["id"])
    assert accepted["actor"] == {
        "role": "creator",
        "id": ana["id"],
        "name": "Ana",
        "token_id": accepted["actor"]["token_id"],
    }
    assert accepted["target"] == f"booking:{booking['id']}"
    status = change_of(accepted, "booking")
    assert (status["before"]["status"], status["after"]["status"]) == ("invited", "confirmed")

    response = await client.delete(f"/api/bookings/{booking['id']}", headers=auth(host_token))
    assert response.status_code == 204, response.text
    removed = await the_entry_after(client, host_token, accepted["id"])
    assert removed["actor"]["role"] == "host" and removed["event_id"] == event["id"]
    status = change_of(removed, "booking")
    assert (status["before"]["status"], status["after"]["status"]) == ("confirmed", "removed")


async def test_live_end_and_cancel_each_record_the_status_move(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    first = await make_slot(client, host_token, at(10), at(11))
    second = await make_slot(client, host_token, at(12), at(13))
    mark = await cursor(client, host_token)
    moves = [(first, "live", "scheduled", "live"), (first, "end", "live", "ended")]
    moves.append((second, "cancel", "scheduled", "cancelled"))
    for slot, verb, before, after in moves:
        body = {"early": True} if verb == "live" else None
        path = f"/api/slots/{slot['id']}/{verb}"
        await ok(await client.post(path, json=body, headers=auth(host_token)))
        entry = await the_entry_after(client, host_token, mark)
        assert entry["action"] == f"POST /api/slots/{{slot_id}}/{verb}"
        status = change_of(entry, "slot", slot["id"])
        assert (status["before"]["status"], status["after"]["status"]) == (before, after)
        mark = entry["id"]


async def test_a_cascading_delay_is_one_entry_listing_every_moved_slot(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    first = await make_slot(client, host_token, at(10), at(11))
    second = await make_slot(client, host_token, at(11), at(12))
    later = await make_slot(client, host_token, at(15), at(16))
    mark = await cursor(client, host_token)
    path = f"/api/slots/{first['id']}/delay"
    await ok(await client.post(path, json={"minutes": 15}, headers=auth(host_token)))

    entry = await the_entry_after(client, host_token, mark)
    assert entry["action"] == "POST /api/slots/{slot_id}/delay"
    moved = {c["id"]: c for c in entry["changes"] if c["entity"] == "slot"}
    assert set(moved) == {first["id"], second["id"]}  # the 15:00 slot did not move
    for slot, start in ((first, at(10)), (second, at(11))):
        change = moved[slot["id"]]
        assert instant(change["before"]["starts_at"]) == instant(start)
        pushed = instant(change["after"]["starts_at"]) - instant(change["before"]["starts_at"])
        assert pushed.total_seconds() == 15 * 60
    assert later["id"] not in moved

    dry = {"minutes": 15, "dry_run": True}
    await ok(await client.post(path, json=dry, headers=auth(host_token)))
    assert await entries_after(client, host_token, entry["id"]) == []  # nothing applied


async def test_people_actions_have_no_event_and_never_show_tokens_or_their_hashes(
    client: Client, host_token: str
) -> None:
    ana = await make_person(client, host_token, "ana", email="ana@example.org")
    created = await the_entry_after(client, host_token, None)
    assert (created["event_id"], created["target"]) == (None, f"person:{ana['id']}")
    person = change_of(created, "person")
    assert person["after"]["handle"] == "ana" and person["after"]["email"] == "ana@example.org"
    assert person["redacted"] == ["feed_token_hash"]
    assert change_of(created, "api_token")["redacted"] == ["token_hash"]

    windows = [{"starts_at": at(8), "ends_at": at(12)}]
    path = f"/api/people/{ana['id']}/availability"
    await ok(await client.put(path, json=windows, headers=auth(host_token)))
    available = await the_entry_after(client, host_token, created["id"])
    assert available["target"] == f"person:{ana['id']}" and available["event_id"] is None
    assert change_of(available, "availability_window")["op"] == "created"
    await ok(await client.put(path, json=[], headers=auth(host_token)))
    cleared = await the_entry_after(client, host_token, available["id"])
    window = change_of(cleared, "availability_window")
    assert (window["op"], window["after"]) == ("deleted", None)
    assert instant(window["before"]["starts_at"]) == instant(at(8))

    rotate = f"/api/people/{ana['id']}/feed-token/rotate"
    feed_url = (await ok(await client.post(rotate, headers=auth(host_token))))["feed_url"]
    rotated = await the_entry_after(client, host_token, cleared["id"])
    assert change_of(rotated, "person")["redacted"] == ["feed_token_hash"]
    assert change_of(rotated, "person")["before"] == {}

    therapist = await make_therapist(client, host_token, "theo")
    verified = (await entries_after(client, host_token, rotated["id"]))[-1]
    assert verified["action"] == "POST /api/people/{person_id}/license/verify"
    licence = change_of(verified, "person", therapist["id"])
    assert licence["before"] == {"license_verified_at": None}
    assert licence["after"]["license_verified_at"] is not None

    everything = (await client.get("/api/audit", headers=auth(host_token))).text
    feed_token = re.sub(r"^.*/feeds/|\.ics$", "", ana["feed_url"])
    for secret in (ana["token"], feed_token, feed_url, therapist["token"], host_token):
        assert secret not in everything
        assert hash_token(secret) not in everything
    assert hash_token(re.sub(r"^.*/feeds/|\.ics$", "", feed_url)) not in everything


async def test_failed_writes_and_reads_record_nothing(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    therapist = await make_person(client, host_token, "theo", "therapist")
    mark = await cursor(client, host_token)

    duplicate = await client.post(
        "/api/events",
        json={"slug": "tam", "title": "T", "timezone": "UTC", "starts_at": at(0), "ends_at": at(1)},
        headers=auth(host_token),
    )
    assert duplicate.status_code == 409, duplicate.text
    naive = await patch_slot(client, host_token, slot["id"], starts_at="2030-10-10T09:00:00")
    assert naive.status_code == 400, naive.text
    overlap = await client.post(
        "/api/events/tam/slots",
        json={"channel": "main", "title": "X", "starts_at": at(10, 30), "ends_at": at(12)},
        headers=auth(host_token),
    )
    assert overlap.status_code == 409, overlap.text
    unlicensed = await book(client, host_token, slot["id"], therapist)
    assert unlicensed.status_code == 422, unlicensed.text
    end_early = await client.post(f"/api/slots/{slot['id']}/end", headers=auth(host_token))
    assert end_early.status_code == 409, end_early.text
    for path in ("/api/events/tam", "/api/events/tam/schedule", f"/api/people/{therapist['id']}"):
        assert (await client.get(path, headers=auth(host_token))).status_code == 200

    assert await entries_after(client, host_token, mark) == []


async def test_only_hosts_read_the_audit_log(client: Client, host_token: str) -> None:
    await make_event(client, host_token)
    ana = await make_person(client, host_token, "ana")
    for path in ("/api/audit", "/api/events/tam/audit"):
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=auth("tam_not-a-token"))).status_code == 401
        assert (await client.get(path, headers=auth(ana["token"]))).status_code == 403
    missing = await client.get("/api/events/nope/audit", headers=auth(host_token))
    assert missing.status_code == 404


async def test_the_log_pages_oldest_first_after_a_cursor_and_refuses_naive_times(
    client: Client, host_token: str
) -> None:
    for slug in ("one", "two", "three"):
        await make_event(client, host_token, slug)
    every = await entries(client, host_token)
    assert [change_of(e, "event")["after"]["slug"] for e in every] == ["one", "two", "three"]
    assert await entries(client, host_token, limit=2) == every[:2]
    assert await entries(client, host_token, after=every[0]["id"]) == every[1:]
    assert await entries(client, host_token, since=every[1]["at"]) == every[1:]
    assert await entries(client, host_token, "/api/events/two/audit") == [every[1]]

    naive = await client.get("/api/audit?since=2030-10-10T09:00:00", headers=auth(host_token))
    assert naive.status_code == 400 and "offset" in naive.text
    ancient = {"since": "0001-01-01T00:00:00+01:00"}  # before year 1 in UTC
    assert (
        await client.get("/api/audit", params=ancient, headers=auth(host_token))
    ).status_code == 400
    unknown = await client.get("/api/audit?after=nope", headers=auth(host_token))
    assert unknown.status_code == 404
    too_many = await client.get("/api/audit?limit=100000", headers=auth(host_token))
    assert too_many.status_code == 400


async def test_a_rolled_back_transaction_leaves_no_entry_and_a_retried_one_leaves_one(
    db: Database,
) -> None:
    class SerializationFailure(Exception):
        sqlstate = "40001"

    attempts: list[int] = []

    def an_event(slug: str) -> Event:
        return Event(
            slug=slug, title="T", timezone="UTC", starts_at=DAY, ends_at=DAY.replace(hour=1)
        )

    async def fails(session: AsyncSession) -> None:
        session.add(an_event("rolled-back"))
        await session.flush()
        raise ValueError("the use case refused")

    async def retried(session: AsyncSession) -> None:
        session.add(an_event(f"attempt-{len(attempts)}"))
        await session.flush()
        attempts.append(1)
        if len(attempts) == 1:  # the database asks for a retry once, after the row was written
            raise DBAPIError("COMMIT", None, SerializationFailure())

    with acting_as(Actor(role="cli", action="test")):
        with pytest.raises(ValueError, match="refused"):
            await db.write(fails)
        assert await audit.all_audit(db) == []
        await db.write(retried)

    logged = await audit.all_audit(db)
    assert len(attempts) == 2 and len(logged) == 1
    assert [c.after["slug"] for c in logged[0].changes if c.after] == ["attempt-1"]
    assert (logged[0].actor.role, logged[0].action) == ("cli", "test")


async def test_writes_without_an_actor_or_in_a_task_started_by_one_are_not_audited(
    db: Database,
) -> None:
    """A task inherits the context it starts in: the scheduler re-armed from a request must not
    run its reminders later as if the host had sent them."""

    def work(slug: str) -> Callable[[AsyncSession], Awaitable[None]]:
        async def add(session: AsyncSession) -> None:
            session.add(Event(slug=slug, title="T", timezone="UTC", starts_at=DAY, ends_at=DAY))

        return add

    await db.write(work("quiet"))
    with acting_as(Actor(role="cli", action="test")):
        spawned = asyncio.create_task(db.write(work("spawned")))
    await spawned
    assert await audit.all_audit(db) == []


CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def test_the_host_consoles_cookie_writes_are_audited_as_the_host(
    client: Client, host_token: str
) -> None:
    await make_event(client, host_token)
    mark = await cursor(client, host_token)
    login_page = await client.get("/host/login")
    match = CSRF_FIELD.search(login_page.text)
    assert match, "the login page has no CSRF field"
    csrf = match.group(1)
    form = {"_csrf_token": csrf, "token": host_token, "next": "/host"}
    signed_in = await client.post("/host/login", data=form, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    match = CSRF_FIELD.search((await client.get("/host")).text)  # a new token per session
    assert match, "the host page has no CSRF field"
    csrf = match.group(1)

    body = {"slug": "main", "name": "Main"}
    response = await client.post(
        "/api/events/tam/channels", json=body, headers={"x-csrftoken": csrf}
    )
    assert response.status_code == 201, response.text
    entry = await the_entry_after(client, host_token, mark)
    assert (entry["actor"]["role"], entry["actor"]["name"]) == ("host", "Test Host")
    assert entry["action"] == "POST /api/events/{slug}/channels"


def test_a_command_bound_outside_the_event_loop_is_audited_as_the_command(db_url: str) -> None:
    async def issue() -> list[audit.AuditEntryPublic]:
        database = Database(db_url)
        try:
            await database.write(lambda session: _add_host(session, "Night Host"))
            return await audit.all_audit(database)
        finally:
            await database.dispose()

    with acting_as(Actor(role="cli", action="takeamoment token issue")):
        logged = asyncio.run(issue())
    assert [(e.actor.role, e.action) for e in logged] == [("cli", "takeamoment token issue")]
    assert logged[0].target == f"host:{logged[0].changes[0].id}"


async def _add_host(session: AsyncSession, name: str) -> None:
    session.add(Host(name=name))
