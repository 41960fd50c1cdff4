"""The API reference at ``/schema`` works offline, in a real browser, under the site's CSP."""

from __future__ import annotations

import pytest
from playwright.async_api import ConsoleMessage, Request, Route, expect

from tests.browser.conftest import Browsing, Site

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
async def test_the_api_reference_renders_with_no_network_and_no_csp_violation(
    browsing: Browsing, shared_site: Site, path: str
) -> None:
    page = await browsing.page()
    elsewhere: list[str] = []
    refusals: list[str] = []

    async def only_the_site(route: Route, request: Request) -> None:
        if request.url.startswith(shared_site.url):
            await route.continue_()
        else:  # no CDN, no validator badge, nothing from outside
            elsewhere.append(request.url)
            await route.abort()

    def csp_refusal(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refusals.append(message.text)

    await page.route("**/*", only_the_site)
    page.on("console", csp_refusal)
    await page.goto(f"{shared_site.url}{path}")

    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("takeamoment")
    await expect(page.locator(".opblock-summary-path").first).to_be_visible()
    await expect(page.get_by_text("/api/events/{slug}/schedule").first).to_be_visible()
    assert elsewhere == []
    assert refusals == []
