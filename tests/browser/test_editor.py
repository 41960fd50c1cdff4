"""A host builds a whole event in the browser, from an empty database, and viewers see it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import FloatRect, Locator, Page, expect

from tests import plain_http
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    Browsing,
    Site,
    axe_violations,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLUG = "take-a-moment"
DAY = "2030-10-10"
PX_PER_MINUTE = 2  # editor-timeline.js


async def host_sign_in(page: Page, site: Site, path: str = "/host") -> None:
    await page.goto(f"{site.url}{path}")
    await page.get_by_label("Host token").fill(site.host_token)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{site.url}{path}")


async def create_event(page: Page) -> None:
    await page.get_by_role("link", name="New event", exact=True).click()
    await page.wait_for_url(re.compile(r"/host/events/new$"))
    await page.get_by_label("Title").fill("Take A Moment")
    await expect(page.get_by_label("Address (slug)")).to_have_value(SLUG)
    await page.get_by_label("Time zone").fill("Europe/London")
    await page.get_by_label("Starts").fill(f"{DAY}T10:00")
    await page.get_by_label("Ends").fill(f"{DAY}T16:00")
    await page.get_by_label("Hashtags").fill("#aGoodCollective #MentalHealth")
    await page.get_by_label("Description").fill(
        "A day of LIVE sessions for World Mental Health Day."
    )
    await page.get_by_role("button", name="Add a helpline").click()
    await page.get_by_label("Name", exact=True).fill("Samaritans")
    await page.get_by_label("Phone").fill("116 123")
    await page.get_by_role("button", name="Create the event").click()
    await page.wait_for_url(re.compile(rf"/host/events/{SLUG}/edit$"))
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")


async def add_channels(page: Page, names: list[str]) -> None:
    for name in names:
        await page.get_by_label("New channel").fill(name)
        await page.get_by_role("button", name="Add the channel").click()
        await expect(page.locator("#notice")).to_have_text(f"Added the channel {name}.")
    await expect(page.locator(".tl-head")).to_have_text(names)


async def add_person(page: Page, name: str, handle: str, role: str = "creator") -> str:
    """Add a person on the People page; the token shown once."""
    await page.get_by_role("button", name="Add a person").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Name", exact=True).fill(name)
    await dialog.get_by_label("Handle").fill(handle)
    await dialog.get_by_label("Role").select_option(role)
    await dialog.get_by_label("Their time zone").fill("Europe/London")
    if role == "therapist":
        await dialog.get_by_label("Number").fill("HCPC-PYL-1010")
        await dialog.get_by_label("Issued by").fill("Health and Care Professions Council")
        await dialog.get_by_label("Jurisdiction").fill("UK")
        await dialog.get_by_label("Expires on").fill("2032-12-31")
    await dialog.get_by_role("button", name="Save").click()
    await expect(page.locator("#notice")).to_have_text(f"Added {name}.")
    token = await page.locator("[data-token-value]").input_value()
    if role == "therapist":
        await expect(dialog.locator("[data-licence-state]")).to_contain_text("not verified")
        await dialog.get_by_role("button", name="Mark the licence verified").click()
        await expect(dialog.locator("[data-licence-state]")).to_contain_text("Licence verified")
    await dialog.get_by_role("button", name="Close").click()
    await page.get_by_role("button", name="Done").click()
    return token


def lane(page: Page, channel: str) -> Locator:
    return page.locator(f'.tl-lane[data-lane="{channel}"]')


async def add_slot(
    page: Page,
    channel: str,
    at: str,
    until: str,
    title: str,
    invite: list[str] = (),  # type: ignore[assignment]
) -> None:
    """Click the empty time in the channel's lane, fill the dialog, invite people."""
    hours, minutes = (int(part) for part in at.split(":"))
    y = ((hours - 10) * 60 + minutes) * PX_PER_MINUTE + 2
    scroller = page.locator("[data-timeline-view]")
    await scroller.scroll_into_view_if_needed()
    await scroller.evaluate(
        "(el, y) => { el.scrollTop = Math.max(0, y - el.clientHeight / 2); }", y
    )
    box = await box_of(lane(page, channel))
    await page.mouse.click(box["x"] + 40, box["y"] + y)
    dialog = page.locator("#slot-dialog")
    await expect(dialog.get_by_label("Starts")).to_have_value(f"{DAY}T{at}")
    await dialog.get_by_label("Title").fill(title)
    await dialog.get_by_label("Ends").fill(f"{DAY}T{until}")
    await dialog.get_by_role("button", name="Save").click()
    await expect(page.locator("#notice")).to_contain_text(f"Added “{title}”")
    for handle in invite:
        await dialog.get_by_label("Find people to invite").fill(handle)
        candidate = dialog.locator(".candidate", has_text=f"@{handle}")
        await candidate.get_by_role("button", name="Invite").click()
        await expect(dialog.locator(".booking", has_text=f"@{handle}")).to_contain_text(
            "Invited, not confirmed yet"
        )
    await dialog.get_by_role("button", name="Close").click()
    await expect(page.locator(".tl-slot", has_text=title)).to_be_visible()


def api(site: Site) -> httpx.Client:
    return site.api()


def slot_by_title(site: Site, title: str) -> dict[str, Any]:
    with site.api() as client:
        slots = client.get(f"/api/events/{SLUG}/schedule").json()["slots"]
    found: dict[str, Any] = next(slot for slot in slots if slot["title"] == title)
    return found


async def box_of(target: Locator) -> FloatRect:
    """The element's box; the timeline is redrawn as changes arrive, so ask until it holds still."""
    for _ in range(20):
        await expect(target).to_be_visible()
        box = await target.bounding_box()
        if box is not None:
            return box
    raise AssertionError(f"{target} never held still")


async def drag(page: Page, target: Locator, minutes: int) -> None:
    box = await box_of(target)
    x, y = box["x"] + box["width"] / 2, box["y"] + 12
    await page.mouse.move(x, y)
    await page.mouse.down()
    for step in range(1, 6):
        await page.mouse.move(x, y + minutes * PX_PER_MINUTE * step / 5)
    await page.mouse.up()


async def test_a_host_builds_an_event_in_the_browser_and_a_viewer_sees_it(
    browsing: Browsing, blank_site: Site, axe_source: str
) -> None:
    site = blank_site
    page = await browsing.page(viewport=DESKTOP, timezone="America/New_York")
    await host_sign_in(page, site)
    await expect(page.get_by_text("No events yet")).to_be_visible()
    assert await axe_violations(page, axe_source) == []

    await create_event(page)
    await add_channels(page, ["Main Stage", "Therapist Q&A", "Calm corner"])
    main = page.locator('[data-channel="main-stage"]')
    await main.get_by_label("Stream link").fill("https://www.tiktok.com/@takeamoment/live")
    await main.get_by_role("button", name="Save").click()
    await expect(page.locator("#notice")).to_have_text("Saved the channel Main Stage.")
    await page.locator('[data-channel="calm-corner"]').get_by_role("button", name="Move up").click()
    order = ["Main Stage", "Calm corner", "Therapist Q&A"]
    await expect(page.locator(".tl-head")).to_have_text(order)

    await page.get_by_role("link", name="People").click()
    await page.wait_for_url(f"{site.url}/host/people")
    maya_token = await add_person(page, "Maya Okafor", "maya.breathes")
    await add_person(page, "Sam Rivera", "sam.rivera")
    await add_person(page, "Dr Hannah Mercer", "dr.hannah", "therapist")
    search = page.get_by_role("search")
    await search.get_by_label("Role").select_option("therapist")
    await expect(page.locator(".person-row")).to_have_count(1)
    await expect(page.locator(".person-row")).to_contain_text("Licence verified")
    await search.get_by_label("Role").select_option("")
    await search.get_by_label("Search by name or handle").fill("OKAF")
    await expect(page.locator(".person-row")).to_have_count(1)
    await search.get_by_label("Search by name or handle").fill("")
    await expect(page.locator(".person-row")).to_have_count(3)
    await screenshot(page, "people-desktop")
    assert await axe_violations(page, axe_source) == []

    await page.goto(f"{site.url}/host/events/{SLUG}/edit")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(page.locator("[data-day-heading]")).to_have_text(
        "Thursday, 10 October 2030 · times in Europe/London"
    )
    await add_slot(
        page, "main-stage", "10:00", "10:30", "Welcome to Take A Moment", ["maya.breathes"]
    )
    await add_slot(
        page, "main-stage", "10:30", "11:15", "Small habits that carried me through", ["sam.rivera"]
    )
    await add_slot(page, "therapist-q-a", "11:00", "12:00", "Therapist Q&A: anxiety", ["dr.hannah"])
    await add_slot(page, "main-stage", "11:30", "12:00", "Saying it out loud")
    await add_slot(page, "calm-corner", "12:00", "12:30", "Calming music break")
    await add_slot(page, "calm-corner", "13:00", "13:30", "Breathe with me", ["maya.breathes"])
    assert len(site.schedule_of(SLUG)["slots"]) == 6

    # Who is free, and why not: Maya is on the Main Stage at 10:00.
    await page.locator(".tl-slot", has_text="Small habits").click()
    dialog = page.locator("#slot-dialog")
    await dialog.get_by_label("Find people to invite").fill("maya")
    await expect(dialog.locator(".candidate", has_text="@maya.breathes")).to_contain_text(
        "Not free: Too close to “Welcome to Take A Moment” 10:00–10:30 on Main Stage"
    )
    await dialog.get_by_role("button", name="Close").click()

    # A refused move: "Small habits" dragged up onto "Welcome" stays where it was, said in words.
    small = page.locator(".tl-slot", has_text="Small habits")
    top_before = await small.evaluate("(el) => el.style.top")
    await drag(page, small, -15)
    error = page.locator("#error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("Welcome to Take A Moment")
    await expect(small).to_have_attribute("style", re.compile(re.escape(f"top: {top_before}")))
    assert slot_by_title(site, "Small habits that carried me through")["starts_at"].endswith(
        "09:30:00Z"
    )
    await page.evaluate("window.scrollTo(0, 0)")
    await page.locator("[data-timeline-view]").evaluate("(el) => { el.scrollTop = 0; }")
    await screenshot(page, "editor-desktop")

    # A move by keyboard: "Saying it out loud" 5 minutes later.
    saying = page.locator(".tl-slot", has_text="Saying it out loud")
    await saying.focus()
    await page.keyboard.press("ArrowDown")
    await expect(page.locator("#notice")).to_contain_text("“Saying it out loud” is now 11:35–12:05")
    # And its end by keyboard, back to noon.
    await page.locator(".tl-slot", has_text="Saying it out loud").focus()
    await page.keyboard.press("Shift+ArrowUp")
    await expect(page.locator("#notice")).to_contain_text("is now 11:35–12:00")

    # Another host's tab sees a change made in this one, without a reload.
    other = await browsing.page(viewport=DESKTOP)
    await host_sign_in(other, site, f"/host/events/{SLUG}/edit")
    await expect(other.locator("#connection")).to_have_attribute("data-state", "live")
    await other.evaluate("window.loadedOnce = true")
    await page.locator(".tl-slot", has_text="Calming music break").click()
    await page.locator("#slot-dialog").get_by_label("Title").fill("Calming music break: live piano")
    await page.locator("#slot-dialog").get_by_role("button", name="Save").click()
    await expect(other.locator(".tl-slot", has_text="live piano")).to_be_visible()
    assert await other.evaluate("window.loadedOnce") is True

    # A slot moves to another lane from its dialog, and back; the first tab follows.
    for channel, name in (("main-stage", "Main Stage"), ("calm-corner", "Calm corner")):
        await other.locator(".tl-slot", has_text="Breathe with me").click()
        await (
            other.locator("#slot-dialog")
            .get_by_label("Channel", exact=True)
            .select_option(label=name)
        )
        await other.locator("#slot-dialog").get_by_role("button", name="Save").click()
        await expect(lane(page, channel).locator(".tl-slot", has_text="Breathe")).to_be_visible()

    # Maya accepts her invitations with the token the People page showed once.
    headers = {"Authorization": f"Bearer {maya_token}"}
    async with plain_http.AsyncClient(base_url=site.url, headers=headers) as me:
        notes = (await me.get("/api/me/notifications")).json()
        invited = [n for n in notes if n["kind"] == "booking.invited"]
        assert len(invited) == 2
        for notice in invited:
            answer = await me.post(f"/api/bookings/{notice['booking_id']}/accept")
            assert answer.status_code == 200

    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("[data-event-status]")).to_have_text("Published")
    assert await axe_violations(page, axe_source) == []

    # On a phone the schedule is a list with the same actions.
    phone = await browsing.page(viewport=PHONE, timezone="Europe/London")
    await host_sign_in(phone, site, f"/host/events/{SLUG}/edit")
    await expect(phone.locator("[data-list-view]")).to_be_visible()
    item = phone.locator(".list-slot", has_text="Saying it out loud")
    await item.get_by_role("button", name="Move 5 min later").click()
    await expect(phone.locator("#notice")).to_contain_text(
        "“Saying it out loud” is now 11:40–12:05"
    )
    await phone.evaluate("window.scrollTo(0, 0)")
    await screenshot(phone, "editor-phone")
    assert await phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert await axe_violations(phone, axe_source) == []

    viewer = await browsing.page(viewport=DESKTOP, timezone="Europe/London")
    await viewer.goto(f"{site.url}/events/{SLUG}")
    await expect(viewer.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(viewer.get_by_role("heading", level=1)).to_have_text("Take A Moment")
    await expect(viewer.locator(".slot")).to_have_count(6)
    for name in ("Main Stage", "Calm corner", "Therapist Q&A"):
        await expect(viewer.get_by_role("heading", name=name, level=3).first).to_be_visible()
    welcome = viewer.locator(".slot", has_text="Welcome to Take A Moment")
    await expect(welcome).to_contain_text("Maya Okafor")
    watch = welcome.get_by_role("link", name=re.compile("Watch the stream"))
    await expect(watch).to_have_attribute("href", "https://www.tiktok.com/@takeamoment/live")
    breathe = viewer.locator(".slot", has_text="Breathe with me")
    await expect(breathe.locator(".watch")).to_be_hidden()
    await expect(viewer.get_by_role("complementary", name="Support")).to_contain_text("116 123")


async def screenshot(page: Page, name: str) -> None:
    await page.wait_for_load_state("networkidle")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=False)


async def test_a_host_edits_the_details_unpublishes_and_deletes_a_draft(
    browsing: Browsing, blank_site: Site
) -> None:
    site = blank_site
    created = site.post(
        "/api/events",
        {"slug": "spare", "title": "Spare", "timezone": "America/New_York",
         "starts_at": "2030-10-10T09:00:00-04:00", "ends_at": "2030-10-11T12:00:00-04:00"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert site.post("/api/events/spare/publish").status_code == 200
    page = await browsing.page()
    await host_sign_in(page, site, "/host/events/spare/edit")
    details = page.locator("#event-form")
    await expect(details.get_by_label("Starts")).to_have_value("2030-10-10T09:00")
    # Two days in New York: the editor offers the other one.
    await expect(page.get_by_label("Show another day")).to_be_visible()
    await page.get_by_label("Show another day").select_option("2030-10-11")
    await expect(page.locator("[data-day-heading]")).to_contain_text("Friday, 11 October 2030")

    await details.get_by_label("Description").fill("Spare room for overflow sessions.")
    await details.get_by_label("Ends").fill("2030-10-10T18:00")
    await details.get_by_role("button", name="Save the details").click()
    await expect(page.locator("#notice")).to_have_text("Saved the event's details.")
    await expect(page.get_by_label("Show another day")).to_be_hidden()
    with site.api() as client:
        event = client.get("/api/events/spare").json()
    assert (event["description"], event["ends_at"]) == (
        "Spare room for overflow sessions.",
        "2030-10-10T22:00:00Z",
    )

    await page.get_by_role("button", name="Back to draft").click()
    await expect(page.locator("[data-event-status]")).to_have_text("Draft")
    async with plain_http.AsyncClient(base_url=site.url) as anonymous:
        assert (await anonymous.get("/api/events/spare")).status_code == 404
    await page.get_by_role("button", name="Delete this draft").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete the draft").click()
    await page.wait_for_url(f"{site.url}/host")
    await expect(page.get_by_text("No events yet")).to_be_visible()
