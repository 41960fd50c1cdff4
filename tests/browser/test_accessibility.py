"""Keyboard use, visible focus, phone-sized screens and WCAG AA contrast; and the screenshots.

The screenshots in ``docs/screenshots/`` (shown in the README) are made here, from the demo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Locator, Page, ViewportSize, expect

from tests.browser.conftest import (
    DESKTOP,
    EVENT,
    PHONE,
    SCREENSHOTS,
    Browsing,
    Site,
    axe_violations,
    open_viewer,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Every visible piece of text against the background it is drawn on, layers blended as the
# browser paints them; WCAG 2.x relative luminance; 4.5:1, or 3:1 for large text.
CONTRAST_FAILURES_JS = """
() => {
  const parse = (css) => {
    const parts = css.match(/[\\d.]+/g).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const backgroundOf = (element) => {
    const layers = [];
    for (let node = element; node; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour.a > 0) layers.push(colour);
      if (colour.a >= 1) break;
    }
    const white = { r: 255, g: 255, b: 255, a: 1 };
    return layers.reverse().reduce((below, layer) => over(layer, below), white);
  };
  const failures = [];
  const checked = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const element = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || checked.has(element)) continue;
    checked.add(element);
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    if (style.visibility === "hidden" || box.width <= 1 || box.height <= 1) continue;
    if (element.closest("[hidden], template, .visually-hidden, :disabled")) continue;
    const background = backgroundOf(element);
    const foreground = over(parse(style.color), background);
    const [light, dark] = [luminance(foreground), luminance(background)].sort((a, b) => b - a);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) {
      failures.push(`${element.tagName.toLowerCase()}.${element.className} ` +
        `"${element.textContent.trim().slice(0, 40)}": ${ratio.toFixed(2)}:1`);
    }
  }
  return failures;
}
"""


async def focus_ring(locator: Locator) -> dict[str, Any]:
    ring: dict[str, Any] = await locator.evaluate(
        """(element) => {
          const style = getComputedStyle(element);
          return {
            focused: document.activeElement === element,
            focusVisible: element.matches(":focus-visible"),
            style: style.outlineStyle,
            width: parseFloat(style.outlineWidth),
          };
        }"""
    )
    return ring


async def assert_focus_visible(locator: Locator) -> None:
    ring = await focus_ring(locator)
    assert ring["focused"] and ring["focusVisible"], ring
    assert ring["style"] != "none" and ring["width"] >= 2, ring
    await expect(locator).to_be_in_viewport()


async def test_keyboard_focus_is_visible_and_the_skip_link_comes_first(
    browsing: Browsing, shared_site: Site
) -> None:
    page = await browsing.page()
    await open_viewer(page, shared_site)

    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    await assert_focus_visible(skip)
    await page.keyboard.press("Tab")
    helpline = page.get_by_role("complementary", name="Support").get_by_role("link", name="116 123")
    await assert_focus_visible(helpline)


async def test_a_delay_can_be_previewed_and_dismissed_by_keyboard_alone(
    browsing: Browsing, shared_site: Site
) -> None:
    page = await browsing.page()
    await sign_in(page, shared_site)
    late = page.locator(".console-slot[data-status=scheduled]").first.get_by_role(
        "button", name="+5 min"
    )
    await late.focus()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Shift+Tab")  # arrive by keyboard, so :focus-visible applies
    await assert_focus_visible(late)

    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await assert_focus_visible(dialog.get_by_role("button", name="Keep the schedule as it is"))
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(late).to_be_focused()


async def screenshot_checks(page: Page, name: str, viewport: ViewportSize) -> None:
    """Save the screenshot; the page must fit the screen's width and pass AA contrast."""
    await page.wait_for_load_state("networkidle")
    size = "phone" if viewport["width"] < 600 else "desktop"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=Path(SCREENSHOTS, f"{name}-{size}.png"))
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than a {viewport['width']}px screen"
    assert await page.evaluate(CONTRAST_FAILURES_JS) == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_both_pages_fit_the_screen_and_pass_wcag_aa_contrast(
    browsing: Browsing, shared_site: Site, viewport: ViewportSize
) -> None:
    shared_site.ensure_live("Welcome to Take A Moment")  # something on air in the screenshots
    viewer = await browsing.page(viewport=viewport, timezone="Europe/London")
    await open_viewer(viewer, shared_site)
    await screenshot_checks(viewer, "viewer", viewport)

    host = await browsing.page(viewport=viewport, timezone="Europe/London")
    await sign_in(host, shared_site)
    await expect(host.locator("[data-check=confirmed]").first).to_be_visible()
    await screenshot_checks(host, "console", viewport)


PAGES = {
    "index": "/",
    "viewer": f"/events/{EVENT}",
    "sign-in": "/host/login",
    "host home": "/host",
    "console": f"/host/events/{EVENT}",
    "editor": f"/host/events/{EVENT}/edit",
    "people": "/host/people",
    "new event": "/host/events/new",
}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_every_page_has_no_wcag_2_1_a_or_aa_violation_axe_can_find(
    browsing: Browsing, shared_site: Site, axe_source: str, viewport: ViewportSize
) -> None:
    """axe-core over each page as it is once its script has run: viewer, index, sign-in,
    console, editor, people and the host's own pages."""
    page = await browsing.page(viewport=viewport, timezone="Europe/London")
    await page.goto(f"{shared_site.url}/host/login")
    found: dict[str, list[str]] = {}
    for name, path in PAGES.items():
        if name == "host home":
            await sign_in(page, shared_site)
        await page.goto(f"{shared_site.url}{path}")
        await page.wait_for_load_state("networkidle")
        if name in ("console", "editor", "viewer"):
            await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        if name == "editor":
            await expect(page.locator(".tl-slot, .list-slot").first).to_be_visible()
        if name == "people":
            await expect(page.locator(".person-row").first).to_be_visible()
        found[name] = await axe_violations(page, axe_source)
    assert found == dict.fromkeys(PAGES, []), found


async def test_the_editors_dialogs_have_no_violation_axe_can_find(
    browsing: Browsing, shared_site: Site, axe_source: str
) -> None:
    page = await browsing.page()
    await sign_in(page, shared_site)
    await page.goto(f"{shared_site.url}/host/events/{EVENT}/edit")
    await page.locator(".tl-slot[data-status=scheduled]").first.click()
    dialog = page.locator("#slot-dialog")
    await dialog.get_by_label("Find people to invite").fill("a")
    await expect(dialog.locator(".candidate").first).to_be_visible()
    await expect(dialog.locator(".booking, .booking-list .quiet").first).to_be_visible()
    assert await axe_violations(page, axe_source) == []

    await page.goto(f"{shared_site.url}/host/people")
    await page.locator(".person-row", has_text="Hannah").get_by_role("button", name="Edit").click()
    await expect(page.locator("[data-window-list] li").first).to_be_visible()
    assert await axe_violations(page, axe_source) == []
