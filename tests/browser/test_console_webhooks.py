"""The console's webhooks in a real browser: add one (its secret shown once), see it listed with
its last result, errors in words, remove it."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import Browsing, Site, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

URL = "https://1.1.1.1/hooks/console"  # public and never sent to: nothing changes meanwhile


async def test_a_host_adds_and_removes_a_webhook_in_the_console(
    browsing: Browsing, shared_site: Site
) -> None:
    page = await browsing.page()
    await sign_in(page, shared_site)
    section = page.get_by_role("region", name="Webhooks")
    await expect(section.get_by_text("No webhooks yet.")).to_be_visible()

    await section.get_by_label("Webhook URL").fill("http://127.0.0.1/hooks")
    await section.get_by_role("button", name="Add webhook").click()
    await expect(section.get_by_text("must use https")).to_be_visible()

    await section.get_by_label("Webhook URL").fill(URL)
    await section.get_by_role("button", name="Add webhook").click()
    secret = section.locator("[data-field=secret]")
    await expect(secret).to_contain_text("whsec_")
    row = section.get_by_role("row").filter(has_text=URL)
    await expect(row).to_contain_text("Nothing sent yet")
    await expect(row).to_contain_text("All")

    await page.reload()
    await page.locator("#connection[data-state=live]").wait_for()
    await expect(row).to_be_visible()
    await expect(section.locator("[data-field=secret]")).to_have_count(0)  # shown once only

    await row.get_by_role("button", name=f"Remove the webhook to {URL}").click()
    await expect(section.get_by_text(f"Removed the webhook to {URL}.")).to_be_visible()
    await expect(section.get_by_text("No webhooks yet.")).to_be_visible()
