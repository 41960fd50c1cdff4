"""A creator's own page in Chromium, as a creator uses it: the sign-in link from their host,
an invitation accepted, the countdown, a notice arriving live, this device's notifications (the
service worker; Chromium's own push service is out of reach here, so up to the subscription
attempt) and signing out. Screenshots, contrast and axe-core, as for the other pages."""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, ViewportSize, expect

from tests.browser.conftest import DESKTOP, PHONE, Browsing, Site, axe_violations
from tests.browser.conftest import sign_in as sign_in_host
from tests.browser.test_accessibility import screenshot_checks

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# Where the screenshots of this page go (a reviewer looks at them).
SHOTS = Path(os.environ.get("TAKEAMOMENT_ME_SHOTS_DIR", "/tmp/shots-me"))  # noqa: S108
STARTS_IN = re.compile(r"^Starts in \d+ min \d\d s$")


def created(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


class Show:
    """A small event of the test's own, starting soon, on the shared demo site."""

    def __init__(self, site: Site, slug: str) -> None:
        self.site, self.slug = site, slug
        now = datetime.now(UTC).replace(microsecond=0)
        self.now = now
        with site.api() as api:
            body = {
                "slug": slug,
                "title": "Evening Check-in",
                "timezone": "Europe/London",
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(days=1)).isoformat(),
            }
            created(api.post("/api/events", json=body))
            created(
                api.post(
                    f"/api/events/{slug}/channels", json={"slug": "main", "name": "Main Stage"}
                )
            )
            stream = {"stream_url": "https://stream.example/main"}
            created(api.patch(f"/api/events/{slug}/channels/main", json=stream))
            created(api.post(f"/api/events/{slug}/publish"))

    def slot(self, title: str, minutes_from_now: int, length: int = 30) -> Any:
        starts = self.now + timedelta(minutes=minutes_from_now)
        body = {
            "channel": "main",
            "title": title,
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=length)).isoformat(),
        }
        with self.site.api() as api:
            return created(api.post(f"/api/events/{self.slug}/slots", json=body))

    def person(self, name: str, handle: str, timezone: str) -> Any:
        body = {"name": name, "handle": handle, "role": "creator", "timezone": timezone}
        with self.site.api() as api:
            return created(api.post("/api/people", json=body))

    def invite(self, slot: Any, person: Any) -> Any:
        body = {"person_id": person["id"], "role": "creator"}
        with self.site.api() as api:
            return created(api.post(f"/api/slots/{slot['id']}/bookings", json=body))

    def access_link(self, person: Any) -> str:
        with self.site.api() as api:
            url: str = created(api.post(f"/api/people/{person['id']}/access-link"))["url"]
            return url


async def shot(page: Page, name: str) -> None:
    # Playwright makes the folder.
    await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


async def sign_in_with_link(page: Page, url: str, name: str) -> None:
    await page.goto(url)
    await expect(page.get_by_role("heading", name=f"Sign in as {name}")).to_be_visible()
    await page.get_by_role("button", name=f"Sign in as {name}").click()
    await page.wait_for_url("**/me")
    await expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")


async def test_a_creator_signs_in_with_the_link_accepts_and_sees_the_countdown_and_news(
    browsing: Browsing, shared_site: Site
) -> None:
    show = Show(shared_site, "evening-me")
    soon = show.slot("Small habits that carried me through", minutes_from_now=45)
    later = show.slot("Questions from the chat", minutes_from_now=180)
    casey = show.person("Casey Rivera", "casey_me", "America/New_York")
    show.invite(soon, casey)
    link = show.access_link(casey)

    page = await browsing.page(timezone="Asia/Tokyo")  # their zone is New York's, not the laptop's
    await page.goto(link)
    await shot(page, "sign-in-link")
    await page.get_by_role("button", name="Sign in as Casey Rivera").click()
    await page.wait_for_url("**/me")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    invitations = page.locator("#invitations")
    title = "Small habits that carried me through"
    await expect(invitations.get_by_role("heading", name=title)).to_be_visible()
    await expect(page.locator("#changes .my-notice")).to_contain_text(f"You're invited: '{title}'")
    local = (show.now + timedelta(minutes=45)).astimezone(ZoneInfo("America/New_York"))
    await expect(invitations.locator(".my-when")).to_contain_text(local.strftime("%H:%M"))
    await shot(page, "me-invited")

    await invitations.get_by_role("button", name="Accept").click()
    await expect(page.locator("#notice")).to_contain_text("You accepted 'Small habits")
    session = page.locator("#sessions .my-session", has_text="Small habits")
    countdown = session.locator("[data-countdown-text]")
    await expect(countdown).to_have_text(STARTS_IN)
    first = await countdown.text_content()
    await expect(countdown).not_to_have_text(first or "")  # it counts down, second by second
    await expect(session.get_by_role("link", name="Open the stream")).to_have_attribute(
        "href", "https://stream.example/main"
    )
    await expect(page.locator("#invitations")).to_contain_text("No invitations waiting")

    # The host invites them again while the page is open: the notice and the invitation arrive.
    show.invite(later, casey)
    news = page.locator("[data-notice-list] .my-notice[data-new]")
    await expect(news).to_contain_text("You're invited: 'Questions from the chat'")
    await expect(page.locator("#invitations")).to_contain_text("Questions from the chat")
    await page.wait_for_load_state("networkidle")
    await shot(page, "me-desktop")

    # A reload is the same visit: the news stays listed (no longer marked new).
    await page.reload()
    listed = page.locator("[data-notice-list] .my-notice")
    await expect(listed.first).to_contain_text("You're invited: 'Questions from the chat'")
    await expect(page.locator("[data-notice-list] .my-notice[data-new]")).to_have_count(0)

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    await page.goto(link)  # the link was used up when they signed in
    await expect(
        page.get_by_role("heading", name="This sign-in link has already been used")
    ).to_be_visible()
    await shot(page, "link-used")


async def test_turning_on_notifications_registers_the_service_worker_for_me(
    browsing: Browsing, shared_site: Site
) -> None:
    show = Show(shared_site, "evening-push")
    dana = show.person("Dana Okafor", "dana_me", "Europe/Berlin")
    page = await browsing.page()
    await page.context.grant_permissions(["notifications"], origin=shared_site.url)
    await sign_in_with_link(page, show.access_link(dana), "Dana Okafor")

    await page.get_by_role("button", name="Turn on notifications on this device").click()
    registration = await page.evaluate(
        """async () => {
          // waits for the page's click to register it; bounded, so a failure says so
          const bound = new Promise((resolve) => setTimeout(() => resolve("timeout"), 30000));
          if (await Promise.race([navigator.serviceWorker.ready, bound]) === "timeout") {
            return "no service worker became ready in 30 s";
          }
          const found = await navigator.serviceWorker.getRegistration("/me");
          return found && { scope: found.scope, active: Boolean(found.active),
                            script: (found.active || found.installing || found.waiting).scriptURL };
        }"""
    )
    assert registration == {
        "scope": f"{shared_site.url}/me",
        "active": True,
        "script": f"{shared_site.url}/me/sw.js",
    }
    # Chromium's push service is out of reach: the subscription attempt fails and says so.
    await expect(page.locator("#error")).to_contain_text("push service could not be reached")
    await expect(
        page.get_by_role("button", name="Turn on notifications on this device")
    ).to_be_enabled()

    # A push message, delivered to the worker as the push service would: it shows the notice.
    notice = {"id": "n1", "title": "You're on in 5 minutes", "body": "Main Stage, 10:30"}
    shown = await push_to_worker(page, shared_site.url, {**notice, "url": f"{shared_site.url}/me"})
    assert shown == [["You're on in 5 minutes", "Main Stage, 10:30", "n1", f"{shared_site.url}/me"]]

    # The settings are saved as they change.
    await page.get_by_label("As notifications on the devices").uncheck()
    await expect(page.locator("#notice")).to_have_text("Notifications on your devices off.")
    await page.reload()
    await expect(page.get_by_label("As notifications on the devices")).not_to_be_checked()


# The worker's notifications once it shows one, or [] after `ms` (a wait on the condition, in
# the page, bounded so that a lost message fails the test instead of hanging it).
SHOWN_NOTIFICATIONS = """async (ms) => {
  const registration = await navigator.serviceWorker.getRegistration("/me");
  const deadline = Date.now() + ms;
  for (;;) {
    const shown = await registration.getNotifications();
    if (shown.length) return shown.map((n) => [n.title, n.body, n.tag, n.data.url]);
    if (Date.now() > deadline) return [];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}"""


async def push_to_worker(page: Page, origin: str, message: dict[str, Any]) -> Any:
    """Hand the /me service worker a push message through Chromium's DevTools protocol, as
    the push service would, and return the notifications it shows.

    Every wait is bounded: a CI run once hung here for the two minutes of pytest-timeout, on
    waits that were not. A message that shows nothing in 15 s is handed over once more (a
    loaded machine can still be starting the worker), which is harmless since a notice's tag
    makes a second copy replace the first."""
    cdp = await page.context.new_cdp_session(page)
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def registered(event: dict[str, Any]) -> None:
        for registration in event["registrations"]:
            if registration["scopeURL"].endswith("/me") and not found.done():
                found.set_result(registration["registrationId"])

    cdp.on("ServiceWorker.workerRegistrationUpdated", registered)
    await asyncio.wait_for(cdp.send("ServiceWorker.enable"), timeout=15)
    registration_id = await asyncio.wait_for(found, timeout=15)
    push = {"origin": origin, "registrationId": registration_id, "data": json.dumps(message)}
    shown: Any = []
    for _attempt in range(2):
        await asyncio.wait_for(cdp.send("ServiceWorker.deliverPushMessage", push), timeout=15)
        shown = await page.evaluate(SHOWN_NOTIFICATIONS, 15_000)
        if shown:
            break
    return shown


async def test_the_calendar_link_is_made_on_request_in_webcal_and_https(
    browsing: Browsing, shared_site: Site
) -> None:
    show = Show(shared_site, "evening-feed")
    eli = show.person("Eli Novak", "eli_me", "Europe/Paris")
    page = await browsing.page()
    await sign_in_with_link(page, show.access_link(eli), "Eli Novak")
    await page.get_by_role("button", name="Make my calendar link").click()
    field = page.get_by_label("Your calendar link (https)")
    await expect(field).to_have_value(re.compile(rf"^{shared_site.url}/feeds/tamf_[\w-]+\.ics$"))
    https_url = await field.input_value()
    webcal = page.get_by_role("link", name="Subscribe in your calendar app")
    await expect(webcal).to_have_attribute("href", "webcal:" + https_url.removeprefix("http:"))
    with shared_site.api() as api:
        feed = api.get(https_url.removeprefix(shared_site.url))
    assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")


async def test_a_host_sends_a_sign_in_link_from_people(
    browsing: Browsing, shared_site: Site
) -> None:
    show = Show(shared_site, "evening-host")
    show.person("Fern Ito", "fern_me", "Asia/Tokyo")
    host = await browsing.page()
    await sign_in_host(host, shared_site)
    await host.goto(f"{shared_site.url}/host/people")
    await host.get_by_label("Search by name or handle").fill("fern_me")
    await (
        host.locator(".person-row", has_text="Fern Ito").get_by_role("button", name="Edit").click()
    )
    await host.get_by_role("button", name="Send a sign-in link").click()
    url = await host.get_by_label("Sign-in link").input_value()
    assert url.startswith(f"{shared_site.url}/me/access/tama_")
    await expect(host.locator("[data-token-box]")).to_contain_text("It works once")
    await shot(host, "host-sends-link")

    creator = await browsing.page()
    await sign_in_with_link(creator, url, "Fern Ito")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_the_page_fits_passes_contrast_and_axe(
    browsing: Browsing, shared_site: Site, axe_source: str, viewport: ViewportSize
) -> None:
    slug = f"evening-axe-{viewport['width']}"
    show = Show(shared_site, slug)
    gia = show.person("Gia Moreau", f"gia_{viewport['width']}", "Europe/London")
    show.invite(show.slot("Breathing together", minutes_from_now=60), gia)
    accepted = show.slot("Letters to myself", minutes_from_now=120)
    booking = show.invite(accepted, gia)
    page = await browsing.page(viewport=viewport, timezone="Europe/London")
    link = show.access_link(gia)
    await page.goto(link)
    assert await axe_violations(page, axe_source) == []
    await page.get_by_role("button", name="Sign in as Gia Moreau").click()
    await page.wait_for_url("**/me")
    await page.locator(f"#booking-{booking['id']}").get_by_role("button", name="Accept").click()
    await expect(page.locator("#notice")).to_contain_text("You accepted")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await screenshot_checks(page, "me", viewport)
    await shot(page, f"me-{'phone' if viewport['width'] < 600 else 'wide'}")
    assert await axe_violations(page, axe_source) == []
    await page.goto(link)  # the used link's page
    assert await axe_violations(page, axe_source) == []
