""" "Notify me" and a session's page in a real Chromium.

Chromium's own push service is out of reach here, so the page's ``PushManager`` is replaced (for
this test only) by one that hands out a subscription of the push service written in the tests;
the real service worker is still registered from ``/sw.js``. The follow then travels as in
production: the page POSTs it, the host takes the session live, and the push service decrypts
what the follower receives.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import icalendar
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import EVENT, PHONE, Browsing, Site, seed_demo
from tests.delivery.receivers import PushService, Subscription
from tests.e2e.conftest import free_port, server_env
from tests.e2e.test_delivery import until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(os.environ.get("TAKEAMOMENT_FOLLOW_SHOTS", "/tmp/shots-follow"))  # noqa: S108

# Stands in for the browser's PushManager: subscribe() answers the subscription the test made.
FAKE_PUSH_MANAGER = """
(() => {
  const subscription = %s;
  let subscribed = null;
  const manager = {
    getSubscription: async () => subscribed,
    subscribe: async (options) => {
      window.__applicationServerKey = Array.from(new Uint8Array(options.applicationServerKey));
      subscribed = { toJSON: () => subscription, endpoint: subscription.endpoint };
      return subscribed;
    },
  };
  Object.defineProperty(ServiceWorkerRegistration.prototype, "pushManager", {
    get: () => manager,
  });
})();
"""


@pytest.fixture(autouse=True)
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService().start()
    yield service
    service.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """The demo on a server of its own that may send pushes to the test's push service."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = server_env(
        f"sqlite+aiosqlite:///{tmp_path / 'site.db'}",
        TAKEAMOMENT_PUBLIC_URL=url,
        TAKEAMOMENT_OUTBOUND_ALLOW_PRIVATE="true",
        TAKEAMOMENT_DELIVERY_POLL_SECONDS="0.5",
    )
    site = Site(url=url, host_token=seed_demo(env, tmp_path), env=env, cwd=tmp_path, port=port)
    site.start()
    yield site
    site.stop()


async def follower_page(
    browsing: Browsing, site: Site, sub: Subscription, service: PushService, **options: Any
) -> Page:
    page = await browsing.page(**options)
    await page.context.grant_permissions(["notifications"], origin=site.url)
    await page.context.add_init_script(FAKE_PUSH_MANAGER % json.dumps(sub.json(service.url)))
    return page


async def test_a_viewer_follows_a_session_and_is_told_when_it_goes_live(
    browsing: Browsing, site: Site, push_service: PushService
) -> None:
    slot = next(s for s in site.schedule()["slots"] if s["status"] == "scheduled")
    sub = push_service.subscribe()
    page = await follower_page(browsing, site, sub, push_service, timezone="America/New_York")
    await page.goto(f"{site.url}/events/{EVENT}")
    await page.locator("#connection[data-state=live]").wait_for()
    await expect(
        page.get_by_role("button", name="Notify me when any session goes live")
    ).to_be_visible()
    await page.screenshot(path=str(SHOTS / "viewer-top.png"))
    card = page.locator(f"#slot-{slot['id']}")
    await card.get_by_role("button", name=re.compile("^Notify me")).click()
    await expect(card.locator("[data-follow-on]")).to_be_visible()
    await expect(card.locator("[data-follow-note]")).to_contain_text("You will be notified")
    await card.scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / "viewer-following.png"))
    assert await page.evaluate("window.__applicationServerKey.length") == 65  # the VAPID key
    key = await (await page.request.get(f"{site.url}/api/push/key")).json()
    push_service.expected_key = key["public_key"]

    # The follow reached the server: taking the session live pushes to this browser's endpoint.
    live = site.post(f"/api/slots/{slot['id']}/live", {"early": True})
    assert live.status_code == 200, live.text
    await until(lambda: len(sub.received) == 1)
    (message,) = sub.received
    assert message["type"] == "slot.live" and slot["title"] in message["title"]
    assert message["url"] == f"{site.url}/events/{EVENT}/sessions/{slot['id']}"
    assert push_service.errors == []

    # Reloaded, the page remembers; "Stop" unfollows through the unfollow link.
    await page.reload()
    await expect(card.locator("[data-follow-on]")).to_be_visible()
    await card.get_by_role("button", name=re.compile("^Stop")).click()
    await expect(card.get_by_role("button", name=re.compile("^Notify me"))).to_be_visible()
    # Its unfollow link, opened from the notification, shows a page with one button.
    await page.goto(message["unfollow_url"])
    await expect(page.get_by_role("button", name="Stop notifications")).to_be_visible()
    await page.screenshot(path=str(SHOTS / "unfollow-page.png"))


async def test_a_session_page_shows_the_session_and_gives_its_ics(
    browsing: Browsing, site: Site, push_service: PushService, tmp_path: Path
) -> None:
    slot = next(s for s in site.schedule()["slots"] if s["people"])
    sub = push_service.subscribe()
    page = await follower_page(browsing, site, sub, push_service, timezone="Asia/Tokyo")
    await page.goto(f"{site.url}/events/{EVENT}")
    await page.locator(f"#slot-{slot['id']} a[data-field=session-link]").click()
    await page.wait_for_url(f"{site.url}/events/{EVENT}/sessions/{slot['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(slot["title"])
    await expect(page.locator("[data-viewer-zone]")).to_have_text("Asia/Tokyo")
    when = page.locator(".session-when time").first
    await expect(when).not_to_contain_text("UTC")  # localised by times.js
    for person in slot["people"]:
        await expect(page.locator(".session-people")).to_contain_text(person["name"])
    og_title = await page.locator('meta[property="og:title"]').get_attribute("content")
    assert og_title is not None and og_title.startswith(slot["title"])
    await page.get_by_role("button", name=re.compile("^Notify me")).click()
    await expect(page.locator("[data-follow-on]")).to_be_visible()
    await page.screenshot(path=str(SHOTS / "session-desktop.png"), full_page=True)

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name=re.compile("^Download .ics")).click()
    download = await download_info.value
    saved = tmp_path / "session.ics"
    await download.save_as(saved)
    (vevent,) = icalendar.Calendar.from_ical(saved.read_bytes()).walk("VEVENT")
    feed = await (await page.request.get(f"{site.url}/events/{EVENT}/calendar.ics")).body()
    uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(feed).walk("VEVENT")}
    assert str(vevent["UID"]) in uids and str(vevent["UID"]).startswith(slot["id"])
    assert str(vevent["SUMMARY"]) == slot["title"]

    # The host takes it live: the page says so without a reload.
    assert site.post(f"/api/slots/{slot['id']}/live", {"early": True}).status_code == 200
    await expect(page.locator("[data-session-status]")).to_have_text("Live now")

    phone = await follower_page(browsing, site, sub, push_service, viewport=PHONE)
    await phone.goto(f"{site.url}/events/{EVENT}/sessions/{slot['id']}")
    await expect(phone.get_by_role("button", name=re.compile("^Notify me"))).to_be_visible()
    await phone.screenshot(path=str(SHOTS / "session-phone.png"), full_page=True)
