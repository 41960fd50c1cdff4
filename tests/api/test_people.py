"""People: tokens shown once, private fields for the host and the person, availability, feeds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from takeamoment.db.engine import Database
from takeamoment.db.people import Person
from tests.helpers import DAY, Client, at, auth, make_person, ok

NOW = datetime(2030, 1, 1, tzinfo=UTC)
PERSON_ROW = {
    "name": "Twin",
    "role": "creator",
    "feed_token_hash": "h1",
    "last_notification_seq": 0,
    "created_at": NOW,
    "updated_at": NOW,
}
LICENCE = {"number": "LIC-7", "issuer": "HCPC", "jurisdiction": "UK", "expires_on": "2031-06-30"}


async def test_a_new_person_gets_a_token_and_feed_url_shown_only_once(
    client: Client, host_token: str
) -> None:
    person = await make_person(client, host_token, "ana", email="ana@example.org")
    assert person["token"].startswith("tam_")
    assert person["feed_url"].startswith("http://testserver/feeds/")
    assert person["feed_url"].endswith(".ics")
    assert (person["handle"], person["role"], person["name"]) == ("ana", "creator", "Ana")
    for token in (host_token, person["token"]):
        again = await ok(await client.get(f"/api/people/{person['id']}", headers=auth(token)))
        assert "token" not in again and "feed_url" not in again
        assert person["token"] not in str(again)


async def test_the_host_and_the_person_read_the_private_fields(
    client: Client, host_token: str
) -> None:
    person = await make_person(
        client,
        host_token,
        "ben",
        "therapist",
        email="ben@example.org",
        timezone="America/New_York",
        license=LICENCE,
    )
    for token in (host_token, person["token"]):
        private = await ok(await client.get(f"/api/people/{person['id']}", headers=auth(token)))
        assert private["email"] == "ben@example.org"
        assert private["timezone"] == "America/New_York"
        assert private["license"]["number"] == "LIC-7"
        assert private["license"]["expires_on"] == "2031-06-30"
        assert private["license"]["verified"] is False


async def test_another_person_gets_403_and_nobody_without_a_valid_token_gets_in(
    client: Client, host_token: str
) -> None:
    person = await make_person(client, host_token, "ana")
    other = await make_person(client, host_token, "bob")
    path = f"/api/people/{person['id']}"
    assert (await client.get(path, headers=auth(other["token"]))).status_code == 403
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=auth("tam_unknown"))).status_code == 401


async def test_a_host_verifies_a_licence_once_on_file(client: Client, host_token: str) -> None:
    therapist = await make_person(client, host_token, "ben", "therapist", license=LICENCE)
    verified = await ok(
        await client.post(f"/api/people/{therapist['id']}/license/verify", headers=auth(host_token))
    )
    assert verified["license"]["verified"] is True
    assert verified["license"]["verified_at"]
    without = await make_person(client, host_token, "cy", "therapist")
    response = await client.post(
        f"/api/people/{without['id']}/license/verify", headers=auth(host_token)
    )
    assert response.status_code == 422, response.text
    assert "licence" in response.json()["detail"]


async def test_availability_is_replaced_by_the_host_or_the_person_only(
    client: Client, host_token: str
) -> None:
    person = await make_person(client, host_token, "ana")
    other = await make_person(client, host_token, "bob")
    path = f"/api/people/{person['id']}/availability"
    later = [{"starts_at": at(14), "ends_at": at(16)}]
    earlier = [{"starts_at": "2030-10-10T12:00:00+02:00", "ends_at": at(12)}]
    windows = await ok(await client.put(path, json=later + earlier, headers=auth(host_token)))
    starts = [datetime.fromisoformat(w["starts_at"]) for w in windows]
    assert starts == [DAY + timedelta(hours=10), DAY + timedelta(hours=14)]
    mine = await ok(await client.put(path, json=later, headers=auth(person["token"])))
    assert len(mine) == 1
    response = await client.put(path, json=[], headers=auth(other["token"]))
    assert response.status_code == 403, response.text
    assert await ok(await client.put(path, json=[], headers=auth(person["token"]))) == []


async def test_rotating_the_feed_token_gives_a_new_feed_url_each_time(
    client: Client, host_token: str
) -> None:
    person = await make_person(client, host_token, "ana")
    other = await make_person(client, host_token, "bob")
    path = f"/api/people/{person['id']}/feed-token/rotate"
    by_host = await ok(await client.post(path, headers=auth(host_token)))
    by_self = await ok(await client.post(path, headers=auth(person["token"])))
    urls = [person["feed_url"], by_host["feed_url"], by_self["feed_url"]]
    assert len(set(urls)) == 3
    assert all(url.startswith("http://testserver/feeds/") for url in urls)
    assert (await client.post(path, headers=auth(other["token"]))).status_code == 403


async def test_a_duplicate_handle_is_409_with_or_without_the_at_sign(
    client: Client, host_token: str
) -> None:
    await make_person(client, host_token, "ana")
    for handle in ("ana", "@ana"):
        body = {"name": "Another Ana", "handle": handle, "role": "creator"}
        response = await client.post("/api/people", json=body, headers=auth(host_token))
        assert response.status_code == 409, (handle, response.text)


async def test_handles_that_differ_only_by_case_are_one_handle(
    client: Client, host_token: str
) -> None:
    await make_person(client, host_token, "CaseUser")
    for handle in ("caseuser", "@CASEUSER", "cAsEuSeR"):
        body = {"name": "Another", "handle": handle, "role": "creator"}
        response = await client.post("/api/people", json=body, headers=auth(host_token))
        assert response.status_code == 409, (handle, response.text)
        assert "taken" in response.json()["detail"]


async def test_concurrent_creates_of_one_handle_in_different_cases_let_exactly_one_win(
    client: Client, host_token: str
) -> None:
    handles = ["Racer", "racer", "RACER", "rAcEr", "raceR", "RaCeR"]
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/people",
                json={"name": handle, "handle": handle, "role": "creator"},
                headers=auth(host_token),
            )
            for handle in handles
        )
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5, [
        r.text for r in responses
    ]


async def test_the_database_itself_refuses_a_handle_differing_only_by_case(db: Database) -> None:
    """The index, not only the service's check, decides: two writers that both found the
    handle free cannot both insert it."""
    async with db.write_engine.begin() as connection:
        await connection.execute(insert(Person).values(**PERSON_ROW, id="p1", handle="Twin"))
    with pytest.raises(IntegrityError):
        async with db.write_engine.begin() as connection:
            await connection.execute(
                insert(Person).values(
                    **{**PERSON_ROW, "feed_token_hash": "h2"}, id="p2", handle="twin"
                )
            )
