"""A creator's own page: the one-time sign-in link, /me and its forms, signing out, and who may
do what with a browser session (a person's or a host's). SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient
from litestar.testing.websocket_test_session import WebSocketTestSession
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from takeamoment.app import create_app
from takeamoment.db.delivery import AccessLink
from takeamoment.db.engine import Database
from takeamoment.db.people import Person
from takeamoment.settings import Settings
from tests.api.builders import event_with_channels, invite
from tests.api.test_auth import sign_in as host_sign_in
from tests.helpers import Client, at, auth, make_person, make_slot, ok, publish

CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html) or CSRF_META.search(html)
    assert match, html
    return match.group(1)


async def access_path(client: Client, host_token: str, person: Any) -> str:
    """A new one-time sign-in link for the person, as the path it opens."""
    path = f"/api/people/{person['id']}/access-link"
    link = await ok(await client.post(path, headers=auth(host_token)), 201)
    url: str = link["url"]
    assert url.startswith("http://testserver/me/access/")
    return url.removeprefix("http://testserver")


async def open_link(client: Client, path: str) -> Any:
    """Open the link and press its button, as a person would; the POST's answer."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return await client.post(path, data={"_csrf_token": csrf_of(page.text)}, follow_redirects=False)


async def signed_in(client: Client, host_token: str, person: Any) -> str:
    """Sign the client in as the person; the page's CSRF token."""
    answer = await open_link(client, await access_path(client, host_token, person))
    assert answer.status_code == 303 and answer.headers["location"] == "/me", answer.text
    page = await client.get("/me")
    assert page.status_code == 200 and person["name"] in page.text
    return csrf_of(page.text)


async def invited_person(client: Client, host_token: str) -> tuple[Any, Any]:
    """Ana, with timezone, invited to one slot of the published event "tam"; (person, booking)."""
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11), title="Small habits")
    ana = await make_person(client, host_token, "ana", timezone="Europe/Lisbon")
    return ana, await invite(client, host_token, slot["id"], ana)


async def booking_status(client: Client, host_token: str, booking: Any) -> str:
    slot_bookings = await ok(
        await client.get(f"/api/slots/{booking['slot_id']}/bookings", headers=auth(host_token))
    )
    status: str = next(b["status"] for b in slot_bookings if b["id"] == booking["id"])
    return status


async def test_opening_the_link_uses_nothing_up_and_its_button_signs_in_once(
    client: Client, host_token: str
) -> None:
    ana = await make_person(client, host_token, "ana")
    path = await access_path(client, host_token, ana)
    for _ in range(2):  # a mail scanner, then the person: a GET never uses the link
        page = await client.get(path)
        assert page.status_code == 200 and "Sign in as Ana" in page.text
        assert page.headers["cache-control"] == "no-store"
    answer = await client.post(
        path, data={"_csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/me"
    session_cookie = answer.headers["set-cookie"]
    assert "tam_session" in session_cookie and "Max-Age=1209600" in session_cookie  # 14 days
    assert "Your page as a creator" in (await client.get("/me")).text

    again = await client.post(
        path, data={"_csrf_token": csrf_of((await client.get("/me")).text)}, follow_redirects=False
    )
    assert again.status_code == 410, again.text
    assert (
        "already been used" in again.text and "Ask your host for a new sign-in link" in again.text
    )
    assert "already been used" in (await client.get(path)).text


async def test_an_expired_or_unknown_link_is_refused_with_a_page_that_says_which(
    client: Client, host_token: str, db: Database
) -> None:
    ana = await make_person(client, host_token, "ana")
    path = await access_path(client, host_token, ana)

    async def expire(session: AsyncSession) -> None:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(update(AccessLink).values(expires_at=past))

    await db.write(expire)
    page = await client.get(path)
    assert page.status_code == 410 and "has expired" in page.text
    assert "Ask your host for a new sign-in link" in page.text
    # The browser's pre-sign-in CSRF token, as any of its sign-in forms holds it.
    before = csrf_of((await client.get("/host/login")).text)
    refused = await client.post(path, data={"_csrf_token": before}, follow_redirects=False)
    assert refused.status_code == 410 and "has expired" in refused.text
    assert "Sign out" not in (await client.get("/me")).text  # no session was opened

    unknown = await client.get("/me/access/tama_" + "x" * 43)
    assert unknown.status_code == 404 and "not valid" in unknown.text


async def test_without_a_session_me_says_to_use_the_hosts_link_not_the_host_sign_in(
    client: Client,
) -> None:
    page = await client.get("/me", follow_redirects=False)
    assert page.status_code == 200
    assert "sign-in link your host sent you" in page.text
    assert "Host token" not in page.text and page.headers["cache-control"] == "no-store"
    # Opened from a webmail's link, the SameSite=Strict cookie stays behind: reload from here.
    bounced = await client.get(
        "/me", headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"}
    )
    assert '<meta http-equiv="refresh" content="0; url=/me">' in bounced.text


async def test_a_link_opened_from_another_site_reloads_before_it_shows_its_form(
    client: Client, host_token: str
) -> None:
    """A signed-in browser's cookies stay behind on a cross-site navigation; a form rendered
    without them would carry a CSRF token for the wrong session."""
    ana = await make_person(client, host_token, "ana")
    path = await access_path(client, host_token, ana)
    webmail = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"}
    bounced = await client.get(path, headers=webmail)
    assert f'<meta http-equiv="refresh" content="0; url={path}">' in bounced.text
    assert "_csrf_token" not in bounced.text
    answer = await open_link(client, path)  # the reload, from our own page
    assert answer.status_code == 303


async def test_the_page_answers_invitations_and_needs_its_csrf_token(
    client: Client, host_token: str
) -> None:
    ana, booking = await invited_person(client, host_token)
    csrf = await signed_in(client, host_token, ana)
    page = (await client.get("/me")).text
    assert "Small habits" in page and "Thu 10 Oct, 11:00–12:00 WEST" in page  # Lisbon time

    accept = f"/me/bookings/{booking['id']}/accept"
    assert (await client.post(accept, follow_redirects=False)).status_code == 403
    assert (
        await client.post(accept, data={"_csrf_token": "forged"}, follow_redirects=False)
    ).status_code == 403
    cross = await client.post(
        accept, data={"_csrf_token": csrf}, headers={"sec-fetch-site": "same-site"}
    )
    assert cross.status_code == 403 and "Cross-origin request refused" in cross.text
    assert await booking_status(client, host_token, booking) == "invited"

    answered = await client.post(accept, data={"_csrf_token": csrf}, follow_redirects=False)
    assert answered.status_code == 303, answered.text
    assert await booking_status(client, host_token, booking) == "confirmed"
    shown = await client.get(answered.headers["location"])
    assert "You accepted &#39;Small habits&#39;" in shown.text
    assert 'data-countdown data-starts="2030-10-10T10:00:00Z"' in shown.text

    # The JSON API through the same cookie: CSRF in a header.
    prefs = "/api/me/preferences"
    assert (await client.patch(prefs, json={"email": False})).status_code == 403
    changed = await client.patch(prefs, json={"email": False}, headers={"x-csrftoken": csrf})
    assert changed.status_code == 200 and changed.json()["email"] is False


async def test_what_changed_is_the_news_since_the_last_visit_and_stays_through_the_visit(
    client: Client, host_token: str, db: Database
) -> None:
    ana, booking = await invited_person(client, host_token)
    small_habits = "You&#39;re invited: &#39;Small habits&#39;"
    csrf = await signed_in(client, host_token, ana)  # the first visit: the invitation is news
    accept = f"/me/bookings/{booking['id']}/accept"
    await client.post(accept, data={"_csrf_token": csrf}, follow_redirects=False)
    assert small_habits in (await client.get("/me")).text  # the same visit keeps its news

    await end_visit(db, ana["id"])
    assert "Nothing new since your last visit" in (await client.get("/me")).text
    other = await make_slot(client, host_token, at(13), at(14), title="Evening calm")
    await invite(client, host_token, other["id"], ana)
    await end_visit(db, ana["id"])
    page = (await client.get("/me")).text
    assert "You&#39;re invited: &#39;Evening calm&#39;" in page and small_habits not in page


async def end_visit(db: Database, person_id: str) -> None:
    """Make the person's last page view an hour old: the next one starts a new visit."""

    async def work(session: AsyncSession) -> None:
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        await session.execute(
            update(Person).where(col(Person.id) == person_id).values(page_seen_at=hour_ago)
        )

    await db.write(work)


async def test_a_host_session_cannot_act_as_a_person(client: Client, host_token: str) -> None:
    ana, booking = await invited_person(client, host_token)
    await host_sign_in(client, host_token)
    page = await client.get("/me")
    assert page.status_code == 403 and "signed in as a host" in page.text
    host_csrf = csrf_of((await client.get("/host/people")).text)
    refused = await client.post(
        f"/me/bookings/{booking['id']}/accept",
        data={"_csrf_token": host_csrf},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert await booking_status(client, host_token, booking) == "invited"
    assert (await client.get("/api/me")).status_code == 403


async def test_a_person_session_cannot_open_the_host_console(
    client: Client, host_token: str
) -> None:
    ana, _ = await invited_person(client, host_token)
    csrf = await signed_in(client, host_token, ana)
    for page in ("/host", "/host/people", "/host/events/tam"):
        answer = await client.get(page, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/host/login")
    assert (await client.get("/api/people")).status_code == 403
    created = await client.post("/api/events", json={"slug": "x"}, headers={"x-csrftoken": csrf})
    assert created.status_code == 403


async def test_signing_in_replaces_the_browsers_earlier_session(
    client: Client, host_token: str
) -> None:
    ana, _ = await invited_person(client, host_token)
    await host_sign_in(client, host_token)
    host_cookie = client.cookies["tam_session"]
    await signed_in(client, host_token, ana)
    assert client.cookies["tam_session"] != host_cookie
    client.cookies.set("tam_session", host_cookie)
    assert (await client.get("/host", follow_redirects=False)).status_code == 303


async def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(
    client: Client, host_token: str
) -> None:
    ana, _ = await invited_person(client, host_token)
    csrf = await signed_in(client, host_token, ana)
    cookie = client.cookies["tam_session"]
    out = await client.post("/me/logout", data={"_csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/me?signed_out=true"
    assert "You are signed out" in (await client.get(out.headers["location"])).text
    client.cookies.set("tam_session", cookie)  # a copy kept from before
    assert "sign-in link your host sent you" in (await client.get("/me")).text
    assert (await client.get("/api/me")).status_code == 401


async def test_a_new_token_for_the_person_ends_their_page_sessions(
    client: Client, host_token: str
) -> None:
    ana, _ = await invited_person(client, host_token)
    await signed_in(client, host_token, ana)
    await ok(await client.post(f"/api/people/{ana['id']}/token", headers=auth(host_token)))
    assert (await client.get("/api/me")).status_code == 401


def _closed_code(ws: WebSocketTestSession) -> int:
    with ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json(timeout=10)
    return closed.value.code


async def test_the_pages_session_opens_ws_me_from_our_own_origin_only(
    client: Client, host_token: str
) -> None:
    ana, _ = await invited_person(client, host_token)
    await signed_in(client, host_token, ana)
    cookie = {"cookie": f"tam_session={client.cookies['tam_session']}"}
    ws = await client.websocket_connect("/ws/me", headers={**cookie, "origin": "http://testserver"})
    with ws:
        first = ws.receive_json(timeout=10)
    assert (first["kind"], first["title"]) == ("booking.invited", "You're invited: 'Small habits'")
    other = {**cookie, "origin": "http://evil.example"}
    assert _closed_code(await client.websocket_connect("/ws/me", headers=other)) == 4403
    assert _closed_code(await client.websocket_connect("/ws/me", headers=cookie)) == 4401


async def test_the_service_worker_is_served_for_the_scope_of_me(client: Client) -> None:
    answer = await client.get("/me/sw.js")
    assert answer.status_code == 200
    assert answer.headers["service-worker-allowed"] == "/me"
    assert answer.headers["content-type"].startswith("text/javascript")
    assert "showNotification" in answer.text


@pytest.fixture
async def https_client(db_url: str) -> Any:
    settings = Settings(
        database_url=db_url,
        public_url="https://moment.example",
        secret_key="test-secret-key",
        debug=True,
    )
    async with AsyncTestClient(app=create_app(settings), base_url="https://moment.example") as c:
        yield c


async def test_over_https_the_persons_cookie_is_host_prefixed_and_secure(
    https_client: Client, host_token: str
) -> None:
    ana = await make_person(https_client, host_token, "ana")
    link = await ok(
        await https_client.post(f"/api/people/{ana['id']}/access-link", headers=auth(host_token)),
        201,
    )
    answer = await open_link(https_client, link["url"].removeprefix("https://moment.example"))
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("__host-tam_session=")
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
