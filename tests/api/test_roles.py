"""Every HTTP route has a declared role, and the role is what the route enforces.

``ROLES`` is the declaration: a route the app serves that is missing from it fails
``test_every_route_has_a_declared_role``, so a new route cannot ship without someone deciding who
may call it. The roles:

- ``anyone``: no token needed (a viewer); never 401 or 403.
- ``host``: 401 without a valid token, 403 for a creator's token, a host passes.
- ``self``: a host, or the person the path names (a booking's booked person); 401 anonymous,
  403 for another person.
- ``person``: a creator or therapist, about themselves only; 401 anonymous, 403 for a host.
- ``feed-token``: the unguessable token in the path is the credential; a wrong one is 404.
- ``host-page``: a host's browser page; anyone else is sent to the sign-in page.
- ``csrf-form``: a form of the host pages or a person's page; without the page's CSRF token it
  is 403.
- ``person-page``: a person's own page; a host is 403, anyone else gets a page (theirs, or one
  that says to use the sign-in link from their host).
- ``metrics-allow``: only client addresses in ``TAKEAMOMENT_METRICS_ALLOW``, whatever the token;
  anyone else is 403.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.routes import HTTPRoute

from takeamoment.settings import Settings
from tests.api.builders import event_with_channels, invite
from tests.conftest import ONE_BACKEND
from tests.helpers import Client, at, auth, make_person, make_slot, ok, publish

pytestmark = ONE_BACKEND  # which role each route enforces

ROLES: dict[tuple[str, str], str] = {
    ("GET", "/api/events"): "anyone",
    ("POST", "/api/events"): "host",
    ("GET", "/api/events/{slug:str}"): "anyone",
    ("PATCH", "/api/events/{slug:str}"): "host",
    ("POST", "/api/events/{slug:str}/publish"): "host",
    ("POST", "/api/events/{slug:str}/channels"): "host",
    ("POST", "/api/events/{slug:str}/slots"): "host",
    ("GET", "/api/events/{slug:str}/schedule"): "anyone",
    ("GET", "/api/events/{slug:str}/changes"): "anyone",
    ("GET", "/api/events/{slug:str}/readiness"): "host",
    ("POST", "/api/people"): "host",
    ("GET", "/api/people/{person_id:str}"): "self",
    ("PUT", "/api/people/{person_id:str}/availability"): "self",
    ("POST", "/api/people/{person_id:str}/feed-token/rotate"): "self",
    ("POST", "/api/people/{person_id:str}/license/verify"): "host",
    ("PATCH", "/api/slots/{slot_id:str}"): "host",
    ("POST", "/api/slots/{slot_id:str}/bookings"): "host",
    ("POST", "/api/slots/{slot_id:str}/live"): "host",
    ("POST", "/api/slots/{slot_id:str}/end"): "host",
    ("POST", "/api/slots/{slot_id:str}/cancel"): "host",
    ("POST", "/api/slots/{slot_id:str}/reopen"): "host",
    ("POST", "/api/slots/{slot_id:str}/restore"): "host",
    ("POST", "/api/slots/{slot_id:str}/delay"): "host",
    ("POST", "/api/bookings/{booking_id:str}/accept"): "self",
    ("POST", "/api/bookings/{booking_id:str}/decline"): "self",
    ("DELETE", "/api/bookings/{booking_id:str}"): "host",
    ("GET", "/api/me/notifications"): "person",
    ("GET", "/api/me"): "person",
    ("PATCH", "/api/me/preferences"): "person",
    ("POST", "/api/me/push-subscriptions"): "person",
    ("DELETE", "/api/me/push-subscriptions"): "person",
    ("GET", "/api/push/key"): "anyone",
    ("POST", "/api/people/{person_id:str}/access-link"): "host",
    # The signed token in the path is the credential: a bad one is a 4xx page, never 401/403.
    ("GET", "/mail/answer/{token:str}"): "anyone",
    ("POST", "/mail/answer/{token:str}"): "anyone",
    ("GET", "/mail/unsubscribe/{token:str}"): "anyone",
    ("POST", "/mail/unsubscribe/{token:str}"): "anyone",
    # A person's own page says to use the host's link to anyone without a person's session.
    ("GET", "/me"): "person-page",
    ("GET", "/me/access/{token:str}"): "anyone",
    ("GET", "/me/sw.js"): "anyone",
    ("POST", "/me/access/{token:str}"): "csrf-form",
    ("POST", "/me/logout"): "csrf-form",
    ("POST", "/me/bookings/{booking_id:str}/{answer:str}"): "csrf-form",
    # Viewers' follows need no account; the unfollow link's signed token is its credential.
    ("POST", "/api/events/{slug:str}/follows"): "anyone",
    ("GET", "/follows/{token:str}"): "anyone",
    ("POST", "/follows/{token:str}"): "anyone",
    ("DELETE", "/follows/{token:str}"): "anyone",
    ("GET", "/events/{slug:str}/sessions/{slot_id:str}"): "anyone",
    ("GET", "/sw.js"): "anyone",
    ("GET", "/api/audit"): "host",
    ("GET", "/api/events/{slug:str}/audit"): "host",
    ("GET", "/healthz"): "anyone",
    ("GET", "/readyz"): "anyone",
    ("GET", "/metrics"): "metrics-allow",
    ("GET", "/events/{slug:str}/calendar.ics"): "anyone",
    ("GET", "/feeds/{feed_file:str}"): "feed-token",
    ("GET", "/"): "anyone",
    ("GET", "/events/{slug:str}"): "anyone",
    ("GET", "/host/login"): "anyone",
    ("GET", "/host"): "host-page",
    ("GET", "/host/events/{slug:str}"): "host-page",
    ("GET", "/host/events/new"): "host-page",
    ("GET", "/host/events/{slug:str}/edit"): "host-page",
    ("GET", "/host/people"): "host-page",
    ("POST", "/host/login"): "csrf-form",
    ("POST", "/host/logout"): "csrf-form",
    ("GET", "/api/events/{slug:str}/export"): "host",
    ("POST", "/api/events/import"): "host",
    ("POST", "/api/events/{slug:str}/webhooks"): "host",
    ("GET", "/api/events/{slug:str}/webhooks"): "host",
    ("GET", "/api/webhooks/{webhook_id:str}/deliveries"): "host",
    ("DELETE", "/api/webhooks/{webhook_id:str}"): "host",
    # The editor's routes. Checked in this order, after the ones above: the host's calls at the
    # end really happen (a slot deleted, a token replaced, the event unpublished).
    ("GET", "/api/people"): "host",
    ("GET", "/api/people/{person_id:str}/availability"): "self",
    ("POST", "/api/people/{person_id:str}/availability"): "self",
    ("DELETE", "/api/people/{person_id:str}/availability/{window_id:str}"): "self",
    ("PATCH", "/api/people/{person_id:str}"): "self",
    ("GET", "/api/slots/{slot_id:str}"): "anyone",
    ("GET", "/api/slots/{slot_id:str}/bookings"): "host",
    ("GET", "/api/slots/{slot_id:str}/candidates"): "host",
    ("PATCH", "/api/events/{slug:str}/channels/{channel:str}"): "host",
    ("DELETE", "/api/people/{person_id:str}"): "host",
    ("DELETE", "/api/events/{slug:str}"): "host",
    ("DELETE", "/api/events/{slug:str}/channels/{channel:str}"): "host",
    ("DELETE", "/api/slots/{slot_id:str}"): "host",
    ("POST", "/api/events/{slug:str}/unpublish"): "host",
    ("POST", "/api/people/{person_id:str}/token"): "host",  # last: it replaces Ana's token
}
# Ownership is checked after the body is read, so "self" routes need a valid body to reach it.
BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/api/people/{person_id:str}/availability"): [],
    ("POST", "/api/people/{person_id:str}/availability"): {"starts_at": at(8), "ends_at": at(20)},
    ("PATCH", "/api/people/{person_id:str}"): {},
    ("PATCH", "/api/me/preferences"): {},
    ("POST", "/api/me/push-subscriptions"): {
        "endpoint": "https://127.0.0.1/push",  # refused (422) after the guard lets a person by
        "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
    },
    ("DELETE", "/api/me/push-subscriptions"): {"endpoint": "https://push.example/x"},
}
UNDECLARED_PREFIXES = ("/schema", "/static", "/_bench")  # the OpenAPI UI and files: public
DENIED = {401, 403}
CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')
PARAM = re.compile(r"\{(\w+):\w+\}")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests send many bad tokens on purpose; the failure limit is tested elsewhere."""
    return settings.model_copy(update={"auth_failure_limit": 10_000})


def served_routes(client: Client) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route the app serves, but OPTIONS/HEAD and the schema/files."""
    routes = set()
    for route in client.app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(UNDECLARED_PREFIXES):
            continue
        for handler in route.route_handlers:
            routes |= {
                (m, route.path) for m in handler.http_methods if m not in {"OPTIONS", "HEAD"}
            }
    return routes


def test_every_route_has_a_declared_role(client: Client) -> None:
    served = served_routes(client)
    assert served - ROLES.keys() == set(), "declare a role in ROLES for these new routes"
    assert ROLES.keys() - served == set(), "these declared routes are no longer served"


async def world(client: Client, host_token: str) -> dict[str, Any]:
    """A published event with a slot, creators Ana (invited to it) and Bob."""
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    ana = await make_person(client, host_token, "ana")
    bob = await make_person(client, host_token, "bob")
    booking = await invite(client, host_token, slot["id"], ana)
    return {"slot": slot, "ana": ana, "bob": bob, "booking": booking}


def url_of(path: str, ids: dict[str, str]) -> str:
    return PARAM.sub(lambda match: ids[match.group(1)], path)


async def new_feed_file(client: Client, host_token: str, person_id: str) -> str:
    """Rotate the person's feed token as the host; the new feed's file name."""
    path = f"/api/people/{person_id}/feed-token/rotate"
    rotated = await ok(await client.post(path, headers=auth(host_token)))
    return str(rotated["feed_url"]).rsplit("/", 1)[-1]


async def status(client: Client, method: str, url: str, token: str | None, body: Any = None) -> int:
    headers = auth(token) if token else {}
    response = await client.request(method, url, json=body, headers=headers, follow_redirects=False)
    return response.status_code


# For each role and caller: the exact status, or "pass" for "the guard let it through" (any
# answer but 401 and 403: host routes get no body, so a host may well get a 400).
EXPECTED: dict[str, dict[str, int | str]] = {
    "anyone": dict.fromkeys(("nobody", "unknown", "other", "self", "host"), "pass"),
    "host": {"nobody": 401, "unknown": 401, "other": 403, "self": 403, "host": "pass"},
    "self": {"nobody": 401, "unknown": 401, "other": 403, "self": "pass", "host": "pass"},
    "person": {"nobody": 401, "unknown": 401, "other": "pass", "self": "pass", "host": 403},
    "host-page": {"nobody": 303, "unknown": 303, "other": 303, "self": 303, "host": 200},
    "person-page": {"nobody": 200, "unknown": 200, "other": 200, "self": 200, "host": 403},
}


async def check_route(
    client: Client, route: tuple[str, str], ids: dict[str, str], tokens: dict[str, str | None]
) -> None:
    """Call the route as each kind of caller and assert what its declared role promises."""
    method, path = route
    url, body = url_of(path, ids), BODIES.get(route)
    for who, wanted in EXPECTED[ROLES[route]].items():
        answer = await status(client, method, url, tokens[who], body)
        passed = answer == wanted if isinstance(wanted, int) else answer not in DENIED
        assert passed, (method, path, ROLES[route], who, answer, wanted)


async def test_each_route_enforces_its_declared_role(client: Client, host_token: str) -> None:
    state = await world(client, host_token)
    ana, bob = state["ana"], state["bob"]
    # A second booking keeps Ana from being deleted when the first is removed along the way.
    await invite(
        client, host_token, (await make_slot(client, host_token, at(14), at(15)))["id"], ana
    )
    ids = {
        "slug": "tam",
        "person_id": ana["id"],
        "slot_id": state["slot"]["id"],
        "booking_id": state["booking"]["id"],
        "channel": "main",
        "window_id": "no-such-window",
        "webhook_id": "no-such-webhook",
        "token": "not-a-signed-token",
    }
    tokens = {
        "nobody": None,
        "unknown": "tam_nope",
        "other": bob["token"],
        "self": ana["token"],
        "host": host_token,
    }
    checked = [route for route, role in ROLES.items() if role in EXPECTED]
    for route in checked:
        await check_route(client, route, ids, tokens)
    assert len(checked) == len(ROLES) - 7  # the feed, the five forms and /metrics: below

    # /metrics goes by the client's address, never by a token: the test client's is "testclient".
    for token in tokens.values():
        assert await status(client, "GET", "/metrics", token) == 403
    client.app.state.settings.metrics_allow = ["testclient"]
    assert await status(client, "GET", "/metrics", None) == 200

    # The feed's token is its credential: the right one serves the feed, anything else is 404.
    path = "/feeds/{feed_file:str}"
    good = url_of(path, {"feed_file": await new_feed_file(client, host_token, ana["id"])})
    assert await status(client, "GET", good, None) == 200
    assert await status(client, "GET", url_of(path, {"feed_file": "tamf_nope.ics"}), None) == 404

    # The host pages' forms: refused without the page's CSRF token, accepted with it.
    for path in ("/host/login", "/host/logout"):
        form = {"token": host_token}
        assert (await client.post(path, data=form)).status_code == 403
        page = await client.get("/host/login")
        match = CSRF_FIELD.search(page.text)
        assert match, page.text
        form["_csrf_token"] = match.group(1)
        response = await client.post(path, data=form, follow_redirects=False)
        assert response.status_code == 303, (path, response.text)

    # A person's page's forms: the same; with the token, the form's own answer.
    for path, answered in (
        ("/me/access/tama_nope", 404),
        ("/me/logout", 303),
        (f"/me/bookings/{ids['booking_id']}/accept", 401),  # no person is signed in
    ):
        assert (await client.post(path, data={}, follow_redirects=False)).status_code == 403
        match = CSRF_FIELD.search((await client.get("/host/login")).text)
        assert match
        form = {"_csrf_token": match.group(1)}
        response = await client.post(path, data=form, follow_redirects=False)
        assert response.status_code == answered, (path, response.text)
    client.cookies.clear()


async def test_a_creator_cannot_read_or_change_another_creators_things(
    client: Client, host_token: str
) -> None:
    state = await world(client, host_token)
    ana, bob, booking = state["ana"], state["bob"], state["booking"]
    as_bob = auth(bob["token"])
    refused: list[tuple[str, str, Any]] = [
        ("GET", f"/api/people/{ana['id']}", None),
        ("PUT", f"/api/people/{ana['id']}/availability", [{"starts_at": at(9), "ends_at": at(12)}]),
        ("POST", f"/api/people/{ana['id']}/feed-token/rotate", None),
        ("POST", f"/api/bookings/{booking['id']}/accept", None),
        ("POST", f"/api/bookings/{booking['id']}/decline", None),
    ]
    for method, path, body in refused:
        response = await client.request(method, path, json=body, headers=as_bob)
        assert response.status_code == 403, (method, path, response.text)

    # Nothing changed: Ana's booking is still only invited, her feed URL still works.
    ana_file = str(ana["feed_url"]).rsplit("/", 1)[-1]
    assert (await client.get(f"/feeds/{ana_file}")).status_code == 200
    answered = await ok(
        await client.post(f"/api/bookings/{booking['id']}/accept", headers=auth(ana["token"]))
    )
    assert answered["status"] == "confirmed"

    # Bob's own reads never carry Ana's notifications, ids or feed token.
    ana_token = ana_file.removesuffix(".ics")
    bob_notes = await ok(await client.get("/api/me/notifications", headers=as_bob))
    ana_notes = await ok(await client.get("/api/me/notifications", headers=auth(ana["token"])))
    assert bob_notes == []
    assert [note["kind"] for note in ana_notes] == ["booking.invited"]
    bob_self = await client.get(f"/api/people/{bob['id']}", headers=as_bob)
    assert bob_self.status_code == 200
    for text in (bob_self.text, str(bob_notes)):
        assert ana["id"] not in text and ana_token not in text


async def test_a_creators_stream_never_carries_another_creators_notifications(
    client: Client, host_token: str
) -> None:
    state = await world(client, host_token)  # Ana is invited to the 10:00 slot
    ana, bob = state["ana"], state["bob"]
    bobs_slot = await make_slot(client, host_token, at(12), at(13))
    await invite(client, host_token, bobs_slot["id"], bob)
    with await client.websocket_connect(f"/ws/me?token={bob['token']}") as ws:
        stored = ws.receive_json(timeout=10)
        later_slot = await make_slot(client, host_token, at(14), at(15))
        await invite(client, host_token, later_slot["id"], ana)  # not for Bob
        await invite(client, host_token, later_slot["id"], bob)
        live = ws.receive_json(timeout=10)
    assert (stored["seq"], stored["slot"]["id"]) == (1, bobs_slot["id"])
    assert (live["seq"], live["slot"]["id"], live["kind"]) == (
        2,
        later_slot["id"],
        "booking.invited",
    )
    assert ana["id"] not in str([stored, live])


async def test_every_authenticated_answer_of_the_api_and_the_host_pages_is_no_store(
    client: Client, host_token: str
) -> None:
    """Answers carry secrets (a new person's token, a feed URL, private fields, the audit):
    none may be kept by a browser or a proxy, whatever the route and whatever its status."""
    state = await world(client, host_token)
    ids = {
        "slug": "tam",
        "person_id": state["ana"]["id"],
        "slot_id": state["slot"]["id"],
        "booking_id": state["booking"]["id"],
        "window_id": "no-such-window",
        "webhook_id": "no-such-webhook",
        "channel": "main",
        "token": "not-a-signed-token",
    }
    callers = {"self": state["ana"]["token"], "host": host_token, "unknown": "tam_nope"}
    api_routes = [route for route in ROLES if route[1].startswith("/api/")]
    assert len(api_routes) > 20
    for method, path in api_routes:
        for who, token in callers.items():
            response = await client.request(
                method, url_of(path, ids), json=BODIES.get((method, path)), headers=auth(token)
            )
            cache_control = response.headers.get("cache-control")
            assert cache_control == "no-store", (method, path, who, response.status_code)
    created = await client.post(
        "/api/people",
        json={"name": "Cy", "handle": "cy", "role": "creator"},
        headers=auth(host_token),
    )
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"

    page = await client.get("/host/login")
    match = CSRF_FIELD.search(page.text)
    assert match, page.text
    form = {"_csrf_token": match.group(1), "token": host_token, "next": "/host"}
    await client.post("/host/login", data=form, follow_redirects=False)
    for path in ("/host", "/host/events/tam", "/api/events/tam/readiness", "/api/events"):
        response = await client.get(path)  # the session cookie authenticates these
        assert response.status_code == 200, (path, response.text)
        assert response.headers["cache-control"] == "no-store", path
    client.cookies.clear()
    public = await client.get("/api/events/tam/schedule")
    assert public.headers.get("cache-control") != "no-store"  # anonymous reads may be cached
