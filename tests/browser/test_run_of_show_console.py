"""The console runs the show as it happens: it asks before Go live, End and Cancel, ends one slot
and starts the next in one confirmed action, offers to win back time after an early end, never
applies a stale preview, and shows who declined."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import END, Browsing, Site, confirm_going_live_early, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _minutes(minutes: int) -> str:
    return (
        datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=minutes)
    ).isoformat()


def rehearsal(site: Site, slug: str, slots: list[tuple[str, int, int]]) -> dict[str, Any]:
    """A published event around now on the site, one channel, these slots (minutes from now)."""
    body = {
        "slug": slug,
        "title": "Rehearsal",
        "timezone": "Europe/London",
        "starts_at": _minutes(-180),
        "ends_at": _minutes(360),
        "changeover_minutes": 0,
    }
    for path, payload in (
        ("/api/events", body),
        (f"/api/events/{slug}/channels", {"slug": "stage", "name": "Stage"}),
        (f"/api/events/{slug}/publish", None),
    ):
        response = site.post(path, payload)
        assert response.status_code in (200, 201), response.text
    made = {}
    for title, start, end in slots:
        slot = {
            "channel": "stage",
            "title": title,
            "starts_at": _minutes(start),
            "ends_at": _minutes(end),
        }
        response = site.post(f"/api/events/{slug}/slots", slot)
        assert response.status_code == 201, response.text
        made[title] = response.json()
    return made


def slot_now(site: Site, slug: str, slot_id: str) -> dict[str, Any]:
    with site.api() as client:
        slots = client.get(f"/api/events/{slug}/schedule").json()["slots"]
    found: dict[str, Any] = next(s for s in slots if s["id"] == slot_id)
    return found


async def open_console(page: Page, site: Site, slug: str) -> None:
    await sign_in(page, site)
    await page.goto(f"{site.url}/host/events/{slug}")
    await page.locator("#connection[data-state=live]").wait_for()


async def test_go_live_end_and_cancel_ask_first_and_going_live_early_asks_again(
    browsing: Browsing, shared_site: Site
) -> None:
    made = rehearsal(
        shared_site, "asks", [("Soon", 30, 60), ("Far", 200, 230), ("Spare", 240, 250)]
    )
    host = await browsing.page()
    await open_console(host, shared_site, "asks")
    dialog = host.get_by_role("dialog")
    soon = host.locator(f"#slot-{made['Soon']['id']}")

    await soon.get_by_role("button", name="Go live").click()
    await expect(dialog).to_contain_text("Go live with “Soon”?")
    await dialog.get_by_role("button", name="Not yet").click()
    await expect(host.locator("#notice")).to_contain_text("Nothing changed")
    assert slot_now(shared_site, "asks", made["Soon"]["id"])["status"] == "scheduled"

    await soon.get_by_role("button", name="Go live").click()
    await dialog.get_by_role("button", name="Go live", exact=True).click()  # within the hour
    await expect(soon).to_have_attribute("data-status", "live")

    await soon.get_by_role("button", name=END).click()
    await expect(dialog).to_contain_text("you can reopen it within 15 minutes")
    await dialog.get_by_role("button", name="Keep it on air").click()
    assert slot_now(shared_site, "asks", made["Soon"]["id"])["status"] == "live"
    await soon.get_by_role("button", name=END).click()
    await dialog.get_by_role("button", name="End it").click()
    await expect(soon).to_have_attribute("data-status", "ended")

    far = host.locator(f"#slot-{made['Far']['id']}")
    await far.get_by_role("button", name="Go live").click()
    await dialog.get_by_role("button", name="Go live", exact=True).click()
    await expect(dialog).to_contain_text("Go live early with “Far”?")
    await expect(dialog).to_contain_text("starts in 3 hours")
    await dialog.get_by_role("button", name="Wait for its time").click()
    assert slot_now(shared_site, "asks", made["Far"]["id"])["status"] == "scheduled"
    await far.get_by_role("button", name="Go live").click()
    await confirm_going_live_early(host)
    await expect(far).to_have_attribute("data-status", "live")

    spare = host.locator(f"#slot-{made['Spare']['id']}")
    await spare.get_by_role("button", name=re.compile(r"^Cancel")).click()
    await dialog.get_by_role("button", name="Keep it").click()
    assert slot_now(shared_site, "asks", made["Spare"]["id"])["status"] == "scheduled"


async def test_end_and_start_next_then_pull_the_rest_forward(
    browsing: Browsing, shared_site: Site
) -> None:
    made = rehearsal(
        shared_site, "next", [("Opening", -10, 20), ("Talk", 20, 50), ("Closing", 50, 80)]
    )
    assert shared_site.post(f"/api/slots/{made['Opening']['id']}/live").status_code == 200
    host = await browsing.page()
    await open_console(host, shared_site, "next")
    dialog = host.get_by_role("dialog")
    opening = host.locator(f"#slot-{made['Opening']['id']}")
    talk = host.locator(f"#slot-{made['Talk']['id']}")

    await opening.get_by_role("button", name="End and start next").click()
    await expect(dialog).to_contain_text("End “Opening” and start “Talk”?")
    await dialog.get_by_role("button", name="End and start next").click()
    await expect(opening).to_have_attribute("data-status", "ended")
    await expect(talk).to_have_attribute("data-status", "live")
    await expect(host.locator("#notice")).to_contain_text("“Opening” has ended; “Talk” is live.")
    assert slot_now(shared_site, "next", made["Talk"]["id"])["status"] == "live"

    pull = host.get_by_role("button", name=re.compile(r"Pull the rest forward by \d+ min"))
    await expect(pull).to_be_visible()
    await pull.click()
    await expect(dialog).to_contain_text("Pull forward: “Talk” and the rest")
    await expect(dialog.locator("[data-preview=moves] li")).to_have_count(2)
    await dialog.get_by_role("button", name="Pull forward").click()
    await expect(host.locator("#notice")).to_contain_text("pulled forward")
    closing = slot_now(shared_site, "next", made["Closing"]["id"])
    assert closing["starts_at"] < made["Closing"]["starts_at"]
    started = slot_now(shared_site, "next", made["Talk"]["id"])
    assert started["starts_at"] == made["Talk"]["starts_at"]  # live: its start never moves


async def test_a_stale_preview_is_shown_again_before_anything_is_applied(
    browsing: Browsing, shared_site: Site
) -> None:
    made = rehearsal(shared_site, "stale", [("Late", 60, 90), ("Then", 90, 120)])
    host = await browsing.page()
    await open_console(host, shared_site, "stale")
    dialog = host.get_by_role("dialog")
    card = host.locator(f"#slot-{made['Late']['id']}")

    await card.get_by_role("button", name="+10 min").click()
    await expect(dialog.locator("[data-preview=moves] li")).to_have_count(2)
    # Meanwhile the schedule changes: "Then" moves away, so the delay no longer pushes it.
    moved = {"starts_at": _minutes(150), "ends_at": _minutes(180)}
    with shared_site.api() as client:
        assert client.patch(f"/api/slots/{made['Then']['id']}", json=moved).status_code == 200
    await dialog.get_by_role("button", name="Apply the delay").click()
    await expect(dialog.locator("[data-preview=stale]")).to_be_visible()
    await expect(dialog.locator("[data-preview=moves] li")).to_have_count(1)
    assert (
        slot_now(shared_site, "stale", made["Late"]["id"])["starts_at"] == made["Late"]["starts_at"]
    )
    await dialog.get_by_role("button", name="Apply the delay").click()
    await expect(host.locator("#notice")).to_contain_text("10 min later; 1 slot(s) moved")


async def test_the_console_shows_who_declined(browsing: Browsing, shared_site: Site) -> None:
    made = rehearsal(shared_site, "asked", [("Asked", 60, 90)])
    person = shared_site.post(
        "/api/people", {"name": "Dee Clines", "handle": "dee.clines", "role": "creator"}
    ).json()
    booking = shared_site.post(
        f"/api/slots/{made['Asked']['id']}/bookings", {"person_id": person["id"], "role": "creator"}
    ).json()
    with shared_site.api() as client:
        headers = {"Authorization": f"Bearer {person['token']}"}
        declined = client.post(f"/api/bookings/{booking['id']}/decline", headers=headers)
        assert declined.status_code == 200
    host = await browsing.page()
    await open_console(host, shared_site, "asked")
    row = host.locator(f"#slot-{made['Asked']['id']} [data-person='{person['id']}']")
    await expect(row).to_contain_text("Dee Clines")
    await expect(row.locator("[data-check=confirmed]")).to_have_text("Declined")
    await expect(host.locator("#change-log li").first).to_contain_text(
        "An invited creator declined “Asked”"
    )
