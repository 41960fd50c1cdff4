"""Bad input is refused with a 4xx and Litestar's error shape, never a 500."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from tests.api.builders import event_with_channels, slot_with_person
from tests.conftest import ONE_BACKEND
from tests.helpers import Client, at, auth, make_slot, ok, publish

pytestmark = ONE_BACKEND  # refused at the edge, before the database

SLOT_BODY = {"channel": "main", "title": "Session", "starts_at": at(10), "ends_at": at(11)}


async def test_malformed_json_is_400(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    headers = {**auth(host_token), "Content-Type": "application/json"}
    for method, path in (
        ("POST", "/api/events"),
        ("POST", "/api/events/tam/slots"),
        ("PATCH", f"/api/slots/{slot['id']}"),
        ("POST", "/api/people"),
    ):
        for content in (b"{bad", b'{"title": "x"', b"", b"\xff\xfe"):
            response = await client.request(method, path, content=content, headers=headers)
            assert response.status_code == 400, (method, path, content, response.text)
            assert response.json()["status_code"] == 400


async def test_a_body_over_one_mib_is_413(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    body = {**SLOT_BODY, "description": "x" * (1024 * 1024)}
    response = await client.post("/api/events/tam/slots", json=body, headers=auth(host_token))
    assert response.status_code == 413, response.text[:200]
    response = await client.post(
        "/api/events/tam/slots",
        content=b" " * (1024 * 1024 + 1),
        headers={**auth(host_token), "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text[:200]


async def test_wrong_types_and_values_are_400(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    refused: list[tuple[str, str, Any]] = [
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "title": 5}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "starts_at": 1_700_000_000}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "starts_at": "tomorrow"}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "tags": "calm"}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "title": ""}),
        ("POST", "/api/events/tam/slots", {"title": "no channel, no times"}),
        ("POST", "/api/events/tam/slots", [SLOT_BODY]),
        ("PATCH", "/api/events/tam", {"changeover_minutes": "five"}),
        ("PATCH", "/api/events/tam", {"changeover_minutes": -1}),
        ("PATCH", "/api/events/tam", {"reminder_minutes": [0]}),
        ("PATCH", f"/api/slots/{slot['id']}", {"starts_at": None, "ends_at": "2030-10-10T11:00"}),
        ("PATCH", f"/api/slots/{slot['id']}", {"tags": [1, 2]}),
        ("POST", f"/api/slots/{slot['id']}/bookings", {"person_id": ana["id"], "role": "host"}),
        ("POST", f"/api/slots/{slot['id']}/bookings", {"person_id": ana["id"]}),
        ("POST", "/api/people", {"name": "X", "handle": "has space", "role": "creator"}),
        ("POST", "/api/people", {"name": "X", "handle": "x", "role": "creator", "email": "nope"}),
        ("POST", "/api/people", {"name": "X", "handle": "x", "role": "therapist", "license": {}}),
        ("PUT", f"/api/people/{ana['id']}/availability", {"starts_at": at(9), "ends_at": at(10)}),
        ("PUT", f"/api/people/{ana['id']}/availability", [{"starts_at": at(9), "ends_at": at(8)}]),
        ("GET", "/api/events/tam/changes?since=-1", None),
        ("GET", "/api/events/tam/changes?since=two", None),
    ]
    for method, path, body in refused:
        response = await client.request(method, path, json=body, headers=auth(host_token))
        assert response.status_code == 400, (method, path, body, response.text)
        assert response.json()["status_code"] == 400


async def test_unknown_ids_are_404(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    channel = {"slug": "side", "name": "Side"}
    licence_free = {"name": "X", "handle": "x", "role": "creator"}
    unknown: list[tuple[str, str, Any]] = [
        ("GET", "/api/events/nope", None),
        ("GET", "/api/events/nope/schedule", None),
        ("GET", "/api/events/nope/changes", None),
        ("PATCH", "/api/events/nope", {"title": "x"}),
        ("POST", "/api/events/nope/publish", None),
        ("POST", "/api/events/nope/channels", channel),
        ("POST", "/api/events/nope/slots", SLOT_BODY),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "channel": "nope"}),
        ("GET", "/api/people/nope", None),
        ("POST", "/api/people/nope/license/verify", None),
        ("PUT", "/api/people/nope/availability", []),
        ("POST", "/api/people/nope/feed-token/rotate", None),
        ("PATCH", "/api/slots/nope", {"title": "x"}),
        ("POST", "/api/slots/nope/bookings", {"person_id": ana["id"], "role": "creator"}),
        ("POST", f"/api/slots/{slot['id']}/bookings", {"person_id": "nope", "role": "creator"}),
        ("POST", "/api/bookings/nope/accept", None),
        ("POST", "/api/bookings/nope/decline", None),
        ("DELETE", "/api/bookings/nope", None),
        ("GET", "/api/nothing-here", None),
    ]
    for method, path, body in unknown:
        response = await client.request(method, path, json=body, headers=auth(host_token))
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["status_code"] == 404
    assert (
        await client.post("/api/people", json=licence_free, headers=auth(host_token))
    ).is_success


async def test_nul_characters_anywhere_are_400(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(14), at(15))
    refused: list[tuple[str, str, Any]] = [
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "title": "a\x00b"}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "channel": "ma\x00in"}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "tags": ["\x00"]}),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "kind": "\x00"}),
        ("PATCH", f"/api/slots/{slot['id']}", {"description": "\x00"}),
        ("PATCH", "/api/events/tam", {"title": "\x00", "hashtags": ["a\x00"]}),
        ("PATCH", "/api/events/tam", {"safety_resources": [{"name": "\x00"}]}),
        ("POST", f"/api/slots/{slot['id']}/bookings", {"person_id": "\x00", "role": "creator"}),
        ("POST", "/api/people", {"name": "\x00", "handle": "x", "role": "creator"}),
        ("GET", "/api/events/t%00am", None),
        ("GET", "/api/people/a%00b", None),
        ("PATCH", "/api/slots/a%00b", {"title": "x"}),
        ("POST", "/api/bookings/a%00b/accept", None),
        ("GET", "/api/people?q=a%00b", None),
        ("GET", f"/api/slots/{slot['id']}/candidates?q=%00", None),
    ]
    for method, path, body in refused:
        response = await client.request(method, path, json=body, headers=auth(host_token))
        assert response.status_code == 400, (method, path, body, response.text)
    (listed,) = await ok(await client.get("/api/events", headers=auth(host_token)))
    assert listed["title"] == "Take A Moment"
    assert (
        len(
            (await ok(await client.get("/api/events/tam/schedule", headers=auth(host_token))))[
                "slots"
            ]
        )
        == 1
    )


async def test_datetimes_and_numbers_out_of_range_are_400(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    far = {"starts_at": "9999-12-31T20:00:00-05:00", "ends_at": "9999-12-31T23:00:00+00:00"}
    early = {"starts_at": "0001-01-01T00:00:00+01:00", "ends_at": "0001-01-02T00:00:00+00:00"}
    event = {"slug": "far", "title": "Far", "timezone": "UTC"}
    refused: list[tuple[str, str, Any]] = [
        ("POST", "/api/events", {**event, **far}),
        ("POST", "/api/events", {**event, **early}),
        ("POST", "/api/events", {**event, "starts_at": at(0), "ends_at": far["ends_at"]}),
        ("PATCH", f"/api/slots/{slot['id']}", early),
        ("GET", f"/api/events/tam/changes?since={2**31}", None),
        ("GET", f"/api/events/tam/changes?since={2**64}", None),
    ]
    for method, path, body in refused:
        response = await client.request(method, path, json=body, headers=auth(host_token))
        assert response.status_code == 400, (method, path, body, response.text)


EVENT_BODY = {"slug": "x", "title": "T", "timezone": "UTC", "starts_at": at(0), "ends_at": at(1)}


async def test_a_body_that_is_not_utf8_or_nests_too_deep_is_400_never_500(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    headers = {**auth(host_token), "Content-Type": "application/json"}
    not_utf8 = [b'{"title": "\xff\xfe"}', b'{"title": "\xed\xa0\x80"}', b'["\xc3"]']
    too_deep = [
        b"[" * 2000 + b"]" * 2000,
        b'{"a":' * 2000 + b"1" + b"}" * 2000,
        b'{"title": "x", "tags": ' + b"[" * 40 + b"]" * 40 + b"}",
    ]
    for method, path in (
        ("POST", "/api/events"),
        ("POST", "/api/events/tam/slots"),
        ("PATCH", f"/api/slots/{slot['id']}"),
        ("PUT", f"/api/people/{slot['id']}/availability"),
    ):
        for content, words in [*((c, "UTF-8") for c in not_utf8), *((c, "deep") for c in too_deep)]:
            response = await client.request(method, path, content=content, headers=headers)
            assert response.status_code == 400, (method, path, content[:20], response.text)
            assert words in response.json()["detail"], response.text


async def test_a_field_the_route_does_not_know_is_400_naming_it(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot, ana = await slot_with_person(client, host_token, at(10), at(11))
    refused: list[tuple[str, str, Any, str]] = [
        ("POST", "/api/events", {**EVENT_BODY, "colour": "red"}, "colour"),
        ("PATCH", "/api/events/tam", {"titel": "typo"}, "titel"),
        ("POST", "/api/events/tam/channels", {"slug": "side", "name": "S", "url": "x"}, "url"),
        ("POST", "/api/events/tam/slots", {**SLOT_BODY, "owner": "me"}, "owner"),
        ("PATCH", f"/api/slots/{slot['id']}", {"room": "main"}, "room"),
        ("POST", "/api/people", {"name": "X", "handle": "x", "role": "creator", "pw": 1}, "pw"),
        (
            "PUT",
            f"/api/people/{ana['id']}/availability",
            [{"starts_at": at(9), "ends_at": at(12), "note": "x"}],
            "note",
        ),
        ("POST", f"/api/slots/{slot['id']}/delay", {"minutes": 5, "cascad": False}, "cascad"),
        (
            "PATCH",
            "/api/events/tam",
            {"safety_resources": [{"name": "Line", "href": "https://x.example"}]},
            "href",
        ),
    ]
    for method, path, body, field in refused:
        response = await client.request(method, path, json=body, headers=auth(host_token))
        assert response.status_code == 400, (method, path, response.text)
        (error,) = response.json()["extra"]
        assert error["key"].rsplit(".", 1)[-1] == field, response.text
        assert field in error["message"] and error["source"] == "body", response.text
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert (event["title"], [c["slug"] for c in event["channels"]]) == ("Take A Moment", ["main"])


async def test_a_bad_field_in_a_body_is_reported_as_from_the_body(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    # The path also has a ``slug``: the error must still say the body's was wrong.
    response = await client.post(
        "/api/events/tam/channels", json={"slug": "Bad Slug", "name": "S"}, headers=auth(host_token)
    )
    assert response.status_code == 400, response.text
    assert response.json()["extra"] == [
        {
            "message": "String should match pattern '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$'",
            "key": "slug",
            "source": "body",
        }
    ]
    query = await client.get("/api/events/tam/changes?since=-1")
    assert [e["source"] for e in query.json()["extra"]] == ["query"]


def helpline(**fields: Any) -> dict[str, Any]:
    return {"safety_resources": [{"name": "Line", **fields}]}


async def test_a_stored_url_is_http_or_https_with_a_host_and_at_most_2000_characters(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    refused = [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        "/relative/path",
        "https://",
        "https:/\\evil.example",
        "ftp://files.example/help",
        "https://help.example/" + "a" * 1980,
    ]
    for url in refused:
        response = await client.patch(
            "/api/events/tam", json=helpline(url=url), headers=auth(host_token)
        )
        assert response.status_code == 400, (url[:40], response.text)
        assert response.json()["extra"][0]["key"] == "safety_resources.0.url", response.text
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert event["safety_resources"] == []

    for url in (
        "https://www.samaritans.org",
        "HTTP://help.example/x?y=1#z",
        "https://a.example/" + "b" * 1980,
    ):
        response = await client.patch(
            "/api/events/tam", json=helpline(url=url), headers=auth(host_token)
        )
        assert response.status_code == 200, (url[:40], response.text)
        assert response.json()["safety_resources"][0]["url"] == url


async def test_every_text_and_list_of_an_event_is_capped(client: Client, host_token: str) -> None:
    await event_with_channels(client, host_token)
    lines = [{"name": f"Line {n}", "url": "https://help.example"} for n in range(21)]
    refused: list[dict[str, Any]] = [
        {"safety_resources": lines},
        helpline(name="n" * 201),
        helpline(phone="1" * 41),
        helpline(region="r" * 101),
        helpline(description="d" * 501),
        {"description": "d" * 5001},
        {"hashtags": ["t"] * 51},
        {"hashtags": ["t" * 65]},
    ]
    for body in refused:
        response = await client.patch("/api/events/tam", json=body, headers=auth(host_token))
        assert response.status_code == 400, (str(body)[:60], response.text)
    response = await client.patch(
        "/api/events/tam", json={"safety_resources": lines[:20]}, headers=auth(host_token)
    )
    assert response.status_code == 200, response.text


async def test_a_page_links_only_http_urls_even_from_rows_stored_before_the_check(
    client: Client, db: Database, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    stored = [
        {"name": "Old", "url": "javascript:alert(1)"},
        {"name": "Ok", "url": "https://ok.example"},
    ]
    async with db.write_engine.begin() as connection:
        await connection.execute(update(Event).values(safety_resources=stored))

    page = (await client.get("/events/tam")).text

    assert 'href="javascript:' not in page
    assert 'href="https://ok.example"' in page
