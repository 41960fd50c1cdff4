"""The host console in a real browser: signing in, going live, running late, errors in words."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import (
    END,
    EVENT,
    Browsing,
    Site,
    confirm_going_live_early,
    open_viewer,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_the_console_sends_a_signed_out_visitor_to_sign_in_and_back_after_sign_out(
    browsing: Browsing, shared_site: Site
) -> None:
    page = await browsing.page()
    await page.goto(f"{shared_site.url}/host/events/{EVENT}")
    await expect(page).to_have_url(re.compile(r"/host/login\?next=%2Fhost%2Fevents%2F"))

    await sign_in(page, shared_site)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("host console")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["tam_session"]["httpOnly"] and cookies["tam_session"]["sameSite"] == "Strict"
    assert shared_site.host_token not in cookies["tam_session"]["value"]
    assert shared_site.host_token not in await page.content()

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status").filter(has_text="signed out")).to_be_visible()
    await page.goto(f"{shared_site.url}/host/events/{EVENT}")
    await expect(page).to_have_url(re.compile(r"/host/login"))


async def test_signing_in_refuses_a_token_that_is_not_a_hosts(
    browsing: Browsing, shared_site: Site
) -> None:
    person = shared_site.post(
        "/api/people", {"name": "Rae Viewer", "handle": "rae.v", "role": "creator"}
    ).json()
    page = await browsing.page()

    await page.goto(f"{shared_site.url}/host/login")
    await page.get_by_label("Host token").fill(person["token"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("creator's or therapist's token")

    await page.get_by_label("Host token").fill("tam_not-a-real-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("not valid")

    assert "tam_session" not in {c["name"] for c in await page.context.cookies()}
    await page.goto(f"{shared_site.url}/host/events/{EVENT}")
    await expect(page).to_have_url(re.compile(r"/host/login"))


async def test_go_live_in_the_console_shows_live_on_an_open_viewer_page_without_a_reload(
    browsing: Browsing, shared_site: Site
) -> None:
    slot = shared_site.slot("Therapist Q&A: anxiety and everyday stress")
    viewer = await browsing.page()
    await open_viewer(viewer, shared_site)
    await viewer.evaluate("window.loadedOnce = true")  # gone if the page reloads
    host = await browsing.page()
    await sign_in(host, shared_site)

    card = host.locator(f"#slot-{slot['id']}")
    await card.get_by_role("button", name="Go live").click()
    await confirm_going_live_early(host)

    await expect(host.locator("#notice")).to_contain_text("is live")
    await expect(card).to_have_attribute("data-status", "live")
    await expect(host.locator("#change-log li").first).to_contain_text("Live: “Therapist Q&A")
    await expect(viewer.locator(f"#slot-{slot['id']}")).to_have_attribute("data-status", "live")
    await expect(viewer.locator("[data-now-card=therapist-qa] [data-now]")).to_contain_text(
        "Live now Therapist Q&A: anxiety and everyday stress"
    )
    await expect(viewer.locator("#announcer")).to_contain_text("Now live on Therapist Q&A room")
    assert await viewer.evaluate("window.loadedOnce") is True
    assert shared_site.slot(slot["title"])["status"] == "live"


async def test_an_api_refusal_is_shown_to_the_host_in_words(
    browsing: Browsing, shared_site: Site
) -> None:
    shared_site.ensure_live("Welcome to Take A Moment")
    second = shared_site.slot("Small habits that carried me through")
    host = await browsing.page()
    await sign_in(host, shared_site)

    await host.locator(f"#slot-{second['id']}").get_by_role("button", name="Go live").click()
    await confirm_going_live_early(host)

    error = host.get_by_role("alert")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("is still live on this channel; end it first")
    assert shared_site.slot(second["title"])["status"] == "scheduled"


async def test_a_delay_shows_its_preview_first_and_cancelling_it_changes_nothing(
    browsing: Browsing, shared_site: Site
) -> None:
    music = shared_site.slot("Calming music break")
    before = shared_site.schedule()
    host = await browsing.page()
    await sign_in(host, shared_site)
    card = host.locator(f"#slot-{music['id']}")

    await card.get_by_role("button", name="+10 min").click()
    dialog = host.get_by_role("dialog")
    await expect(dialog).to_contain_text("Running late: “Calming music break” by 10 min")
    moves = dialog.locator("[data-preview=moves] li")
    await expect(moves).to_have_count(7)  # back-to-back slots up to the 18:30 gap are pushed
    await expect(moves.nth(1)).to_contain_text("Kindness online")
    await expect(dialog.get_by_label("Apply anyway")).to_be_hidden()  # no conflicts, no force
    assert shared_site.schedule() == before  # a preview moves nothing

    await dialog.get_by_role("button", name="Keep the schedule as it is").click()
    await expect(dialog).to_be_hidden()
    await expect(host.locator("#notice")).to_contain_text("Nothing changed")
    assert shared_site.schedule() == before


async def test_a_delay_that_breaks_a_booking_needs_force_ticked_before_it_can_apply(
    browsing: Browsing, shared_site: Site
) -> None:
    music = shared_site.slot("Calming music break")
    before = shared_site.schedule()
    host = await browsing.page()
    await sign_in(host, shared_site)
    card = host.locator(f"#slot-{music['id']}")

    await card.get_by_label("Other").fill("30")
    await card.get_by_role("button", name="Preview").click()
    dialog = host.get_by_role("dialog")
    # Marcus would end his Main Stage Q&A at 18:00 with his next session at 18:00 and 5 minutes'
    # changeover: the preview says so, and applying needs the force box.
    await expect(dialog.locator("[data-preview=conflicts] li").first).to_be_visible()
    apply = dialog.get_by_role("button", name="Apply the delay")
    await expect(apply).to_be_disabled()
    await dialog.get_by_label("Apply anyway").check()
    await expect(apply).to_be_enabled()
    await host.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    assert shared_site.schedule() == before


async def test_confirming_a_delay_applies_it_and_the_board_shows_the_new_time(
    browsing: Browsing, shared_site: Site
) -> None:
    breathe = shared_site.slot("Breathe with me: five minutes at a time")
    host = await browsing.page()
    await sign_in(host, shared_site)
    card = host.locator(f"#slot-{breathe['id']}")
    starts = card.locator("[data-field=starts_at] time")
    old_time = await starts.get_attribute("datetime")

    await card.get_by_role("button", name="+5 min").click()
    await host.get_by_role("dialog").get_by_role("button", name="Apply the delay").click()

    await expect(host.locator("#notice")).to_contain_text("5 min later")
    await expect(starts).not_to_have_attribute("datetime", old_time or "")
    await expect(host.locator("#change-log li").first).to_contain_text("Moved “Breathe with me")
    moved = shared_site.slot(breathe["title"])
    assert moved["starts_at"] != breathe["starts_at"]
    assert moved["sequence"] == breathe["sequence"] + 1


async def test_cancel_asks_first_and_end_takes_a_live_slot_off_air(
    browsing: Browsing, shared_site: Site
) -> None:
    sleep = shared_site.slot("Therapist Q&A: sleep, screens and switching off")
    friend = shared_site.ensure_live("Wind-down playlist")  # alone on air in the Calm corner
    host = await browsing.page()
    await sign_in(host, shared_site)

    await host.locator(f"#slot-{sleep['id']}").get_by_role("button", name="Cancel").click()
    dialog = host.get_by_role("dialog")
    await expect(dialog).to_contain_text("released and told")
    assert shared_site.slot(sleep["title"])["status"] == "scheduled"  # nothing yet
    await dialog.get_by_role("button", name="Cancel the slot").click()
    await expect(host.locator(f"#slot-{sleep['id']}")).to_have_attribute("data-status", "cancelled")

    live_card = host.locator(f"#slot-{friend['id']}")
    await expect(live_card.get_by_role("button", name="Go live")).to_be_hidden()
    await live_card.get_by_role("button", name=END).click()
    await host.get_by_role("dialog").get_by_role("button", name="End it").click()
    await expect(live_card).to_have_attribute("data-status", "ended")
    await expect(live_card.get_by_role("button", name=END)).to_be_hidden()
    assert shared_site.slot(sleep["title"])["status"] == "cancelled"
    assert shared_site.slot(friend["title"])["status"] == "ended"
