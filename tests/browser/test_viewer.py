"""The viewer page in a real browser: the viewer's own zone, helplines and feeds, reconnecting."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from takeamoment.db.engine import Database
from takeamoment.services import live
from tests.browser.conftest import EVENT, Browsing, Site, open_viewer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_the_schedule_is_shown_in_the_viewers_own_time_zone(
    browsing: Browsing, shared_site: Site
) -> None:
    welcome = shared_site.slot("Welcome to Take A Moment")  # 10:00 in London, 09:00 UTC
    page = await browsing.page(timezone="America/New_York")
    await open_viewer(page, shared_site)

    await expect(page.locator("[data-viewer-zone]").first).to_have_text("America/New_York")
    starts = page.locator(f"#slot-{welcome['id']} [data-field=starts_at] time")
    # Other tests may have taken it live: then the page shows when it really started.
    shown = welcome["actual_started_at"] or welcome["starts_at"]
    local = datetime.fromisoformat(shown).astimezone(ZoneInfo("America/New_York"))
    if welcome["actual_started_at"] is None:
        assert (local.hour, local.minute) == (5, 0)
    await expect(starts).to_have_text(re.compile(rf"^0?{local:%-I}:{local:%M}"))
    assert await starts.get_attribute("datetime") == shown


async def test_every_slot_has_its_anchor_with_its_people_and_the_feeds_are_offered(
    browsing: Browsing, shared_site: Site
) -> None:
    schedule = shared_site.schedule()
    page = await browsing.page()
    await open_viewer(page, shared_site)

    for slot in schedule["slots"]:
        element = page.locator(f"#slot-{slot['id']}")
        await expect(element).to_contain_text(slot["title"])
        for person in slot["people"]:  # confirmed people only, as the public sees them
            await expect(element).to_contain_text(f"{person['name']} @{person['handle']}")
    feed = schedule["event"]["calendar_url"]
    subscribe = page.get_by_role("link", name="Subscribe in your calendar app")
    await expect(subscribe).to_have_attribute("href", schedule["event"]["webcal_url"])
    await expect(page.get_by_label("Or copy the feed link")).to_have_value(feed)
    await expect(page.locator(".channel-feeds a[href*='?channel=calm']")).to_have_count(2)
    await expect(page.locator(".hashtags").first).to_contain_text("#aGoodCollective")


async def test_the_helplines_stay_in_reach_wherever_the_viewer_scrolls(
    browsing: Browsing, shared_site: Site
) -> None:
    page = await browsing.page()
    await open_viewer(page, shared_site)

    await page.locator("#subscribe").scroll_into_view_if_needed()
    banner = page.get_by_role("complementary", name="Support")
    await expect(banner).to_be_in_viewport()
    await expect(banner.get_by_role("link", name="116 123")).to_have_attribute("href", "tel:116123")
    await banner.get_by_role("link", name="All helplines").click()
    await expect(page.get_by_role("heading", name="Support, any time")).to_be_in_viewport()
    await expect(page.locator("#help")).to_contain_text("Samaritans")


async def test_the_viewer_page_shows_reconnecting_then_catches_up_after_a_server_restart(
    browsing: Browsing, own_site: Site
) -> None:
    slot = own_site.slot("Breathe with me: five minutes at a time")
    page = await browsing.page()
    await open_viewer(page, own_site)

    own_site.stop()
    connection = page.locator("#connection")
    await expect(connection).to_have_attribute("data-state", "reconnecting")
    await expect(connection).to_have_text("Reconnecting…")
    # A change while the server is down: written to the database the server will serve again.
    database = Database(own_site.env["TAKEAMOMENT_DATABASE_URL"])
    try:
        await live.go_live(database, slot["id"], early=True)
    finally:
        await database.dispose()
    own_site.start()

    await expect(connection).to_have_attribute("data-state", "live")
    await expect(page.locator(f"#slot-{slot['id']}")).to_have_attribute("data-status", "live")
    await expect(page.locator("[data-now-card=calm] [data-now]")).to_contain_text("Breathe with me")


async def test_an_unknown_event_is_a_page_saying_so(browsing: Browsing, shared_site: Site) -> None:
    page = await browsing.page()
    response = await page.goto(f"{shared_site.url}/events/no-such-{EVENT}")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
