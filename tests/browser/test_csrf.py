"""A page on another port of the same host attacks a signed-in console, in a real browser.

Cookies do not tell ports apart: a server at ``http://127.0.0.1:<other port>`` can set a
``tam_csrf`` cookie (over the console's own, HttpOnly or not) that the console's origin will
receive, and its page can post a form there that carries the host's session cookie (the two
origins are the same *site*). The attacker gets a valid cookie-and-token pair simply by opening
the sign-in page itself. Nothing it sends may change anything; the console must keep working.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.async_api import expect

from tests import plain_http
from tests.browser.conftest import Browsing, Site, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


class AttackPages:
    """A real HTTP server on another port that serves the attacker's page and script."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}
        self.set_cookie: str | None = None
        pages, served = self.files, self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                content_type, body = pages.get(self.path, ("text/plain", b"not found"))
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", content_type)
                if served.set_cookie is not None:
                    self.send_header("Set-Cookie", served.set_cookie)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def attacker() -> Iterator[AttackPages]:
    pages = AttackPages()
    yield pages
    pages.close()


def planted_pair(site: Site) -> tuple[str, str]:
    """What any visitor gets from the sign-in page: a ``tam_csrf`` cookie and its token."""
    with plain_http.Client(base_url=site.url, timeout=30) as client:
        page = client.get("/host/login")
        match = CSRF_FIELD.search(page.text)
        assert match, page.text
        return client.cookies["tam_csrf"], match.group(1)


async def test_a_page_on_another_port_cannot_cancel_a_slot_with_a_planted_csrf_pair(
    browsing: Browsing, own_site: Site, attacker: AttackPages
) -> None:
    slot = own_site.slot("Journaling prompts for hard days")
    assert slot["status"] == "scheduled"
    cookie, token = planted_pair(own_site)
    target = f"{own_site.url}/api/slots/{slot['id']}/cancel"
    attacker.set_cookie = f"tam_csrf={cookie}; Path=/"
    attacker.files["/attack.js"] = (
        "text/javascript",
        b'document.getElementById("attack").submit();\n',
    )
    attacker.files["/"] = (
        "text/html",
        (
            "<!doctype html><title>Free books</title>"
            f'<form id="attack" method="post" action="{target}">'
            f'<input type="hidden" name="_csrf_token" value="{token}"></form>'
            '<script src="/attack.js"></script>'
        ).encode(),
    )
    page = await browsing.page()
    await sign_in(page, own_site)

    async with page.expect_response(re.compile(r"/cancel$")) as answer:
        await page.goto(attacker.url)
    response = await answer.value

    assert response.status == 403, await response.text()
    assert "cross-origin request refused" in await response.text()
    assert own_site.slot(slot["title"])["status"] == "scheduled"
    # The host's own console still works in the same browser.
    await page.goto(f"{own_site.url}/host/events/take-a-moment")
    card = page.locator(f"#slot-{slot['id']}")
    await card.get_by_role("button", name="Cancel").click()
    await page.get_by_role("dialog").get_by_role("button", name="Cancel the slot").click()
    await expect(card).to_have_attribute("data-status", "cancelled")
    assert own_site.slot(slot["title"])["status"] == "cancelled"
