"""The host's session cookie and the CSRF check, over HTTP (no browser needed for these).

They live beside the browser tests because they guard the same pages; they run in-process on
both databases like the API tests.
"""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from takeamoment.app import create_app
from takeamoment.connection.session import CSRF_COOKIE, SESSION_COOKIE, SessionCookies
from takeamoment.db.engine import Database
from takeamoment.services.auth import issue_host_token
from takeamoment.settings import Settings
from tests.conftest import ONE_BACKEND
from tests.helpers import Client, auth, make_channel, make_event, make_person, ok, publish

pytestmark = ONE_BACKEND  # the session cookie and CSRF over HTTP

CONSOLE = "/host/events/tam"
CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def csrf_token(client: Client, path: str = "/host/login") -> str:
    """The CSRF token a host page hands out (and sets the cookie it must match)."""
    response = await client.get(path)
    assert response.status_code == 200, response.text
    match = CSRF_FIELD.search(response.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def sign_in(client: Client, token: str, next_path: str = CONSOLE) -> tuple[str, object]:
    """Sign in through the form; returns the new session's CSRF token for later calls (the
    pre-sign-in one when refused), and the response."""
    csrf = await csrf_token(client)
    form = {"_csrf_token": csrf, "token": token, "next": next_path}
    response = await client.post("/host/login", data=form, follow_redirects=False)
    if response.status_code == 303:
        csrf = await csrf_token(client, "/host")
    return csrf, response


def set_cookie(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [header for header in headers if header.startswith(f"{name}=")]
    assert found, headers
    return str(found[0])


async def test_a_host_token_starts_a_strict_httponly_session_that_never_holds_the_token(
    client: Client, host_token: str
) -> None:
    _, response = await sign_in(client, host_token)

    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == CONSOLE  # type: ignore[attr-defined]
    cookie = set_cookie(response, SESSION_COOKIE)
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert host_token not in cookie and host_token.removeprefix("tam_") not in cookie


async def test_the_sign_in_form_without_its_csrf_token_is_refused(
    client: Client, host_token: str
) -> None:
    response = await client.post("/host/login", data={"token": host_token})

    assert response.status_code == 403
    assert "This form had expired" in response.text  # a page that says so, not JSON
    assert SESSION_COOKIE not in client.cookies


async def test_a_creators_token_gets_no_session(client: Client, host_token: str) -> None:
    creator = await make_person(client, host_token, "ana")
    _, response = await sign_in(client, creator["token"])

    assert response.status_code == 403  # type: ignore[attr-defined]
    assert "host token" in response.text  # type: ignore[attr-defined]
    assert SESSION_COOKIE not in client.cookies


async def test_signing_in_never_redirects_to_another_site(client: Client, host_token: str) -> None:
    for evil in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        _, response = await sign_in(client, host_token, next_path=evil)
        assert response.headers["location"] == "/host"  # type: ignore[attr-defined]


async def test_a_session_calls_the_api_only_with_the_csrf_header(
    client: Client, host_token: str
) -> None:
    await make_event(client, host_token)
    csrf, _ = await sign_in(client, host_token)
    body = {"slug": "main", "name": "Main"}

    refused = await client.post("/api/events/tam/channels", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    created = await client.post(
        "/api/events/tam/channels", json=body, headers={"x-csrftoken": csrf}
    )
    assert created.status_code == 201, created.text
    assert (await client.get("/api/events/tam/readiness")).status_code == 200  # reads need none


async def test_bearer_clients_need_no_csrf_token_even_with_a_session_cookie(
    client: Client, host_token: str
) -> None:
    await sign_in(client, host_token)
    assert SESSION_COOKIE in client.cookies

    response = await make_event(client, host_token)  # bearer, no x-csrftoken header

    assert response["slug"] == "tam"


async def test_a_bearer_token_wins_over_the_session_cookie(client: Client, host_token: str) -> None:
    creator = await make_person(client, host_token, "ana")
    await sign_in(client, host_token)

    response = await client.post("/api/events", json={}, headers=auth(creator["token"]))

    assert response.status_code == 403  # the creator's token decides, not the host's cookie


async def test_a_forged_session_cookie_is_a_401_that_says_to_sign_in_again(
    client: Client, settings: Settings
) -> None:
    forged = SessionCookies(settings).issue("some-token-id").value
    client.cookies.set(SESSION_COOKIE, forged)

    response = await client.get("/api/events/tam/readiness")

    assert response.status_code == 401
    assert "sign in again" in response.json()["detail"]


async def test_signing_out_clears_the_session_and_the_console_asks_to_sign_in(
    client: Client, host_token: str
) -> None:
    await make_event(client, host_token)
    csrf, _ = await sign_in(client, host_token)
    assert (await client.get(CONSOLE)).status_code == 200

    response = await client.post("/host/logout", data={"_csrf_token": csrf}, follow_redirects=False)

    assert response.status_code == 303
    assert "Max-Age=0" in set_cookie(response, SESSION_COOKIE)
    console = await client.get(CONSOLE, follow_redirects=False)
    assert console.status_code == 303
    assert console.headers["location"] == "/host/login?next=%2Fhost%2Fevents%2Ftam"


def test_a_session_cookie_is_refused_once_altered_or_expired(settings: Settings) -> None:
    cookies = SessionCookies(settings, max_age_s=60)
    value = cookies.issue("tok123", now=1_000).value

    assert cookies.session_id_of(value, now=1_059) == "tok123"
    assert cookies.session_id_of(value, now=1_060) is None
    assert cookies.session_id_of(value.replace("tok123", "tok124"), now=1_000) is None
    assert cookies.session_id_of(value[:-2], now=1_000) is None
    other = SessionCookies(settings.model_copy(update={"secret_key": "another-secret"}))
    assert other.session_id_of(value, now=1_000) is None


async def test_pages_escape_user_text_and_carry_no_inline_script_or_style(
    client: Client, host_token: str
) -> None:
    await make_event(client, host_token, title='<script>alert("x")</script> & co')
    await make_channel(client, host_token)
    await publish(client, host_token)
    await sign_in(client, host_token)

    for path in ("/", "/events/tam", CONSOLE, "/host", "/host/login"):
        html = (await client.get(path)).text
        assert '<script>alert("x")' not in html, path
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], path
        assert re.findall(r"\sstyle=|\son[a-z]+=", html) == [], path


@pytest.mark.parametrize("path", ["/events/nope", "/host/events/nope"])
async def test_an_unknown_event_page_is_an_html_404(
    client: Client, host_token: str, path: str
) -> None:
    await sign_in(client, host_token)
    response = await client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


async def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(
    client: Client, host_token: str
) -> None:
    await make_event(client, host_token)
    csrf, _ = await sign_in(client, host_token)
    copied = client.cookies[SESSION_COOKIE]
    assert (await client.get(CONSOLE)).status_code == 200

    await client.post("/host/logout", data={"_csrf_token": csrf}, follow_redirects=False)
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, copied)  # a copy taken before signing out

    console = await client.get(CONSOLE, follow_redirects=False)
    assert console.status_code == 303, console.text
    refused = await client.get("/api/events/tam/readiness")
    assert refused.status_code == 401 and "sign in again" in refused.json()["detail"]


async def test_a_new_sign_in_ends_the_browsers_previous_session(
    client: Client, host_token: str
) -> None:
    await make_event(client, host_token)
    await sign_in(client, host_token)
    first = client.cookies[SESSION_COOKIE]
    await sign_in(client, host_token)
    assert client.cookies[SESSION_COOKIE] != first

    client.cookies.set(SESSION_COOKIE, first)
    assert (await client.get(CONSOLE, follow_redirects=False)).status_code == 303


async def console_csrf(client: Client) -> str:
    return await csrf_token(client, "/host")


async def test_the_csrf_token_is_bound_to_the_session_and_changes_at_sign_in(
    client: Client, host_token: str
) -> None:
    await make_event(client, host_token)
    before = await csrf_token(client)
    await sign_in(client, host_token)
    first = await console_csrf(client)
    assert first != before
    await sign_in(client, host_token)
    second = await console_csrf(client)
    assert second != first
    body = {"slug": "main", "name": "Main"}

    stale = await client.post("/api/events/tam/channels", json=body, headers={"x-csrftoken": first})
    assert stale.status_code == 403, stale.text
    fresh = await client.post(
        "/api/events/tam/channels", json=body, headers={"x-csrftoken": second}
    )
    assert fresh.status_code == 201, fresh.text


async def test_a_csrf_cookie_and_token_planted_from_another_origin_are_refused(
    client: Client, settings: Settings, host_token: str
) -> None:
    await make_event(client, host_token)
    await make_channel(client, host_token)
    # The attacker, on another port of the same host, gets a cookie and a token of its own
    # (as any visitor does from the sign-in page)...
    planted_token = await csrf_token(client)
    planted_cookie = client.cookies[CSRF_COOKIE]
    client.cookies.clear()
    # ...and plants them in the host's browser, whose session is open.
    await sign_in(client, host_token)
    client.cookies.set(CSRF_COOKIE, planted_cookie)
    body = {"slug": "side", "name": "Side"}
    for headers in (
        {"x-csrftoken": planted_token},
        {"x-csrftoken": planted_token, "Origin": "http://testserver:9031"},
    ):
        forged = await client.post("/api/events/tam/channels", json=body, headers=headers)
        assert forged.status_code == 403, forged.text
    form = await client.post("/host/logout", data={"_csrf_token": planted_token})
    assert form.status_code == 403, form.text
    event = await ok(await client.get("/api/events/tam", headers=auth(host_token)))
    assert [channel["slug"] for channel in event["channels"]] == ["main"]
    assert (await client.get(CONSOLE, follow_redirects=False)).status_code == 200  # still in


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver:9031"},
        {"Origin": "https://testserver"},
        {"Origin": "null", "Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_an_unsafe_request_from_another_origin_is_refused_even_with_the_right_token(
    client: Client, host_token: str, headers: dict[str, str]
) -> None:
    await make_event(client, host_token)
    await sign_in(client, host_token)
    token = await console_csrf(client)
    body = {"slug": "main", "name": "Main"}

    refused = await client.post(
        "/api/events/tam/channels", json=body, headers={"x-csrftoken": token, **headers}
    )

    assert refused.status_code == 403, refused.text
    assert "cross-origin request refused" in refused.json()["detail"]
    allowed = await client.post(
        "/api/events/tam/channels",
        json=body,
        headers={
            "x-csrftoken": token,
            "Origin": "http://testserver",
            "Sec-Fetch-Site": "same-origin",
        },
    )
    assert allowed.status_code == 201, allowed.text


async def test_a_null_origin_with_the_sessions_token_is_our_own_form(
    client: Client, host_token: str
) -> None:
    """Browsers send ``Origin: null`` on our own form posts (``Referrer-Policy: no-referrer``):
    the token decides."""
    await make_event(client, host_token)
    await sign_in(client, host_token)
    token = await console_csrf(client)
    null = {"Origin": "null"}
    body = {"slug": "main", "name": "Main"}

    refused = await client.post("/api/events/tam/channels", json=body, headers=null)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    allowed = await client.post(
        "/api/events/tam/channels", json=body, headers={**null, "x-csrftoken": token}
    )
    assert allowed.status_code == 201, allowed.text


async def test_a_sign_in_form_posted_from_another_site_says_why_it_was_refused(
    client: Client, host_token: str
) -> None:
    token = await csrf_token(client)
    form = {"_csrf_token": token, "token": host_token}
    response = await client.post(
        "/host/login", data=form, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert "Origin https://evil.example is not this site" in response.text
    assert SESSION_COOKIE not in client.cookies


async def test_an_https_site_names_its_cookies_with_the_host_prefix(settings: Settings) -> None:
    secure = settings.model_copy(update={"public_url": "https://testserver.local"})
    app = create_app(secure)
    db = Database(secure.database_url)
    token = await issue_host_token(db, "Secure Host")
    await db.dispose()
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as client:
        page = await client.get("/host/login")
        csrf = set_cookie(page, "__Host-" + CSRF_COOKIE)
        match = CSRF_FIELD.search(page.text)
        assert match
        form = {"_csrf_token": match.group(1), "token": token, "next": "/host"}
        response = await client.post("/host/login", data=form, follow_redirects=False)
        assert response.status_code == 303, response.text
        session = set_cookie(response, "__Host-" + SESSION_COOKIE)
        for cookie in (csrf, session):
            attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
            assert {"secure", "path=/", "httponly", "samesite=strict"} <= attributes, cookie
            assert not any(a.startswith("domain") for a in attributes), cookie
        assert (await client.get("/host", follow_redirects=False)).status_code == 200
