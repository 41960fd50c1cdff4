"""The host's directory of people: search, edit, delete, windows one by one, new tokens."""

from __future__ import annotations

from typing import Any

from tests.api.builders import event_with_channels, invite
from tests.helpers import Client, at, auth, make_person, make_slot, make_therapist, ok

LICENCE = {"number": "LIC-7", "issuer": "HCPC", "jurisdiction": "UK", "expires_on": "2031-06-30"}


async def test_deleting_a_person_with_an_upcoming_booking_is_409_and_changes_nothing(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana = await make_person(client, host_token, "ana")
    await invite(client, host_token, slot["id"], ana)

    refused = await client.delete(f"/api/people/{ana['id']}", headers=auth(host_token))

    assert refused.status_code == 409, refused.text
    assert "Ana" in refused.json()["detail"] and "Session" in refused.json()["detail"]
    assert (
        await client.get(f"/api/people/{ana['id']}", headers=auth(ana["token"]))
    ).status_code == 200


async def test_the_directory_finds_people_by_name_or_handle_in_any_case_and_by_role(
    client: Client, host_token: str
) -> None:
    await make_person(client, host_token, "maya.breathes", name="Maya Okafor")
    await make_person(client, host_token, "sam_rivera", name="Sam 100% Rivera")
    await make_therapist(client, host_token, "dr.hannah")

    async def names(query: str) -> list[str]:
        found = await ok(await client.get(f"/api/people?{query}", headers=auth(host_token)))
        return [person["name"] for person in found]

    assert await names("q=OKAFOR") == ["Maya Okafor"]
    assert await names("q=%40maya") == ["Maya Okafor"]  # "@maya": a handle as people write it
    assert await names("q=100%25") == ["Sam 100% Rivera"]  # "%" is a character, not a wildcard
    assert await names("q=_") == ["Sam 100% Rivera"]
    assert await names("role=therapist") == ["Dr.Hannah"]
    assert await names("") == ["Dr.Hannah", "Maya Okafor", "Sam 100% Rivera"]
    listed = await ok(await client.get("/api/people", headers=auth(host_token)))
    assert "token" not in str(listed) and all("email" in p for p in listed)
    assert (await client.get("/api/people?role=host", headers=auth(host_token))).status_code == 400


async def test_a_person_may_change_only_their_name_email_and_time_zone(
    client: Client, host_token: str
) -> None:
    ana = await make_person(client, host_token, "ana", email="ana@example.org")
    path = f"/api/people/{ana['id']}"
    mine = await ok(
        await client.patch(
            path,
            json={"name": "Ana B", "email": None, "timezone": "Europe/Paris"},
            headers=auth(ana["token"]),
        )
    )
    assert (mine["name"], mine["email"], mine["timezone"]) == ("Ana B", None, "Europe/Paris")

    for body in ({"handle": "ana2"}, {"license": LICENCE}, {"name": "X", "handle": "ana3"}):
        refused = await client.patch(path, json=body, headers=auth(ana["token"]))
        assert refused.status_code == 403, refused.text
    assert (await ok(await client.get(path, headers=auth(host_token))))["handle"] == "ana"

    bob = await make_person(client, host_token, "bob")
    taken = await client.patch(path, json={"handle": "BOB"}, headers=auth(host_token))
    assert taken.status_code == 409, taken.text
    other = await client.patch(
        f"/api/people/{bob['id']}", json={"name": "B"}, headers=auth(ana["token"])
    )
    assert other.status_code == 403
    bad = await client.patch(path, json={"timezone": "Mars/Olympus"}, headers=auth(host_token))
    assert bad.status_code == 400


async def test_a_changed_licence_loses_its_verification_and_an_equal_one_keeps_it(
    client: Client, host_token: str
) -> None:
    hannah = await make_therapist(client, host_token, "hannah")
    path = f"/api/people/{hannah['id']}"
    licence = (await ok(await client.get(path, headers=auth(host_token))))["license"]
    same = {k: licence[k] for k in ("number", "issuer", "jurisdiction", "expires_on")}

    kept = await ok(await client.patch(path, json={"license": same}, headers=auth(host_token)))
    assert kept["license"]["verified"] is True
    renewed = {**same, "expires_on": "2033-01-31"}
    changed = await ok(
        await client.patch(path, json={"license": renewed}, headers=auth(host_token))
    )
    assert changed["license"]["verified"] is False
    assert changed["license"]["expires_on"] == "2033-01-31"
    removed = await ok(await client.patch(path, json={"license": None}, headers=auth(host_token)))
    assert removed["license"] is None


async def test_deleting_a_person_without_upcoming_bookings_removes_them_and_their_tokens(
    client: Client, host_token: str
) -> None:
    ana = await make_person(client, host_token, "ana")
    await ok(
        await client.post(
            f"/api/people/{ana['id']}/availability",
            json={"starts_at": at(9), "ends_at": at(12)},
            headers=auth(host_token),
        ),
        201,
    )
    await ok(await client.delete(f"/api/people/{ana['id']}", headers=auth(host_token)), 204)

    assert (
        await client.get(f"/api/people/{ana['id']}", headers=auth(host_token))
    ).status_code == 404
    assert (
        await client.get("/api/me/notifications", headers=auth(ana["token"]))
    ).status_code == 401
    feed = str(ana["feed_url"]).removeprefix("http://testserver")
    assert (await client.get(feed)).status_code == 404


async def test_windows_are_added_and_removed_one_at_a_time_without_leaving_a_booking_outside(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana = await make_person(client, host_token, "ana")
    path = f"/api/people/{ana['id']}/availability"

    morning = await ok(
        await client.post(
            path, json={"starts_at": at(9), "ends_at": at(12)}, headers=auth(ana["token"])
        ),
        201,
    )
    evening = await ok(
        await client.post(
            path, json={"starts_at": at(18), "ends_at": at(20)}, headers=auth(host_token)
        ),
        201,
    )
    await invite(client, host_token, slot["id"], ana)
    listed = await ok(await client.get(path, headers=auth(ana["token"])))
    assert [w["id"] for w in listed] == [morning["id"], evening["id"]]

    refused = await client.delete(f"{path}/{morning['id']}", headers=auth(host_token))
    assert refused.status_code == 409
    assert [c["kind"] for c in refused.json()["extra"]] == ["outside_availability"]
    await ok(await client.delete(f"{path}/{evening['id']}", headers=auth(ana["token"])), 204)
    assert [w["id"] for w in await ok(await client.get(path, headers=auth(host_token)))] == [
        morning["id"]
    ]
    gone = await client.delete(f"{path}/{evening['id']}", headers=auth(host_token))
    assert gone.status_code == 404
    backwards = await client.post(
        path, json={"starts_at": at(12), "ends_at": at(11)}, headers=auth(host_token)
    )
    assert backwards.status_code == 400


async def test_a_new_token_works_and_every_earlier_one_stops(
    client: Client, host_token: str
) -> None:
    ana = await make_person(client, host_token, "ana")
    first = await ok(await client.post(f"/api/people/{ana['id']}/token", headers=auth(host_token)))
    second = await ok(await client.post(f"/api/people/{ana['id']}/token", headers=auth(host_token)))

    async def status(token: str) -> int:
        response = await client.get("/api/me/notifications", headers=auth(token))
        return response.status_code

    assert [await status(t) for t in (ana["token"], first["token"], second["token"])] == [
        401,
        401,
        200,
    ]
    entries = await ok(await client.get("/api/audit", headers=auth(host_token)))
    revoked: list[Any] = [
        change
        for entry in entries
        if entry["action"] == "POST /api/people/{person_id}/token"
        for change in entry["changes"]
        if change["op"] == "updated"
    ]
    assert revoked and all(change["redacted"] == [] for change in revoked)


async def test_deleting_a_person_takes_them_off_past_slots_and_logs_it(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana = await make_person(client, host_token, "ana")
    booking = await invite(client, host_token, slot["id"], ana)
    await ok(await client.post(f"/api/bookings/{booking['id']}/accept", headers=auth(ana["token"])))
    live = f"/api/slots/{slot['id']}/live"
    await ok(await client.post(live, json={"early": True}, headers=auth(host_token)))
    await ok(await client.post(f"/api/slots/{slot['id']}/end", headers=auth(host_token)))

    await ok(await client.delete(f"/api/people/{ana['id']}", headers=auth(host_token)), 204)

    changes = await ok(await client.get("/api/events/tam/changes", headers=auth(host_token)))
    assert (changes[-1]["type"], changes[-1]["booking"]["person"]["handle"]) == (
        "booking.removed",
        "ana",
    )
    ended = await ok(await client.get(f"/api/slots/{slot['id']}", headers=auth(host_token)))
    assert ended["status"] == "ended" and ended["people"] == [] and ended["bookings"] == []
