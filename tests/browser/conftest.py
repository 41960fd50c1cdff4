"""A real ``takeamoment serve`` seeded with the demo, and Debian's Chromium driven by Playwright.

The browser is ``/usr/bin/chromium`` (``bin/setup`` installs it), never a downloaded one. Without
it the browser tests skip on a laptop and fail under ``CI=true``. They run on SQLite only: what
a browser sees does not depend on the database, and the API suites cover both.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from tests import launch, plain_http
from tests.conftest import skip_or_fail
from tests.e2e.conftest import free_port, server_env, start_server, stop_server
from tests.launch import Launched

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
# A test run must not change the repository: screenshots go to a temporary folder unless
# TAKEAMOMENT_SCREENSHOTS_DIR=docs/screenshots asks to refresh the README's.
SCREENSHOTS = Path(
    os.environ.get("TAKEAMOMENT_SCREENSHOTS_DIR")
    or Path(tempfile.gettempdir()) / "takeamoment-screenshots"
)
EVENT = "take-a-moment"
WAIT_MS = 15_000  # a loaded machine may take seconds to run a server's answer through a page
# expect(...) has a default of its own (5 s): the same patience as every other wait.
expect.set_options(timeout=WAIT_MS)


@dataclass
class Site:
    """A server process with the demo event; ``restart`` keeps its port and its database."""

    url: str
    host_token: str
    env: dict[str, str]
    cwd: Path
    port: int
    process: Launched | None = None

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.host_token}"}
        return plain_http.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            stop_server(self.process)
            self.process = None

    def start(self) -> None:
        self.process, _ = start_server(self.env, self.cwd, port=self.port)

    def schedule(self) -> dict[str, Any]:
        with self.api() as client:
            response = client.get(f"/api/events/{EVENT}/schedule")
            response.raise_for_status()
            schedule: dict[str, Any] = response.json()
            return schedule

    def schedule_of(self, slug: str) -> dict[str, Any]:
        with self.api() as client:
            response = client.get(f"/api/events/{slug}/schedule")
            response.raise_for_status()
            schedule: dict[str, Any] = response.json()
            return schedule

    def slot(self, title: str) -> dict[str, Any]:
        """The demo slot with this title, as the host's schedule shows it now."""
        slot: dict[str, Any] = next(s for s in self.schedule()["slots"] if s["title"] == title)
        return slot

    def ensure_live(self, title: str) -> dict[str, Any]:
        """Put the slot on air unless it already is (tests share the site in any order)."""
        slot = self.slot(title)
        if slot["status"] != "live":
            response = self.post(f"/api/slots/{slot['id']}/live", {"early": True})
            assert response.status_code == 200, response.text
        return self.slot(title)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        with self.api() as client:
            return client.post(path, json=body)


def seed_demo(env: dict[str, str], cwd: Path) -> str:
    """``takeamoment demo`` into the site's database; returns the host token it prints last."""
    result = launch.run(["demo"], env, cwd)
    result.check_returncode()
    return result.stdout.strip().splitlines()[-1]


def demo_site(cwd: Path) -> Site:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = server_env(f"sqlite+aiosqlite:///{cwd / 'site.db'}", TAKEAMOMENT_PUBLIC_URL=url)
    site = Site(url=url, host_token=seed_demo(env, cwd), env=env, cwd=cwd, port=port)
    site.start()
    return site


@pytest.fixture(scope="session")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One demo server for the tests that only add to its state (each uses its own slots)."""
    site = demo_site(tmp_path_factory.mktemp("browser-site"))
    yield site
    site.stop()


@pytest.fixture
def own_site(tmp_path: Path) -> Iterator[Site]:
    """A demo server of the test's own, for tests that stop and start it."""
    site = demo_site(tmp_path)
    yield site
    site.stop()


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium: skipped without it on a laptop, a failure under CI."""
    if not CHROMIUM.exists():
        skip_or_fail(f"Chromium is not installed at {CHROMIUM} (bin/setup installs it)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@dataclass
class Browsing:
    """Opens pages in fresh browser contexts (one per person) and collects their script errors."""

    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def page(self, viewport: ViewportSize = DESKTOP, timezone: str = "UTC") -> Page:
        context = await self.browser.new_context(viewport=viewport, timezone_id=timezone)
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def browsing(browser: Browser) -> AsyncIterator[Browsing]:
    """Fresh contexts per test; a test fails if any page threw an uncaught script error."""
    session = Browsing(browser)
    yield session
    await session.close()
    assert session.errors == [], session.errors


async def sign_in(page: Page, site: Site, token: str | None = None) -> None:
    """Sign in through the form, as a host would, and land on the event's console."""
    await page.goto(f"{site.url}/host/events/{EVENT}")
    await page.get_by_label("Host token").fill(token or site.host_token)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{site.url}/host/events/{EVENT}")
    await page.locator("#connection[data-state=live]").wait_for()


# The End button's name is "End : <title>"; "End and start next" must not match it.
END = re.compile(r"^End(?! and)")


async def confirm_going_live_early(page: Page) -> None:
    """Answer the console's two questions: go live, and (the demo is months ahead) go live early."""
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="Go live", exact=True).click()
    await dialog.get_by_role("button", name="Go live now anyway").click()


async def open_viewer(page: Page, site: Site) -> None:
    await page.goto(f"{site.url}/events/{EVENT}")
    await page.locator("#connection[data-state=live]").wait_for()


def empty_site(cwd: Path) -> Site:
    """A server on an empty database, with one host token and nothing else."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = server_env(f"sqlite+aiosqlite:///{cwd / 'empty.db'}", TAKEAMOMENT_PUBLIC_URL=url)
    # Token commands never migrate; a fresh database is brought to head first, as serve would.
    launch.run(["db", "upgrade"], env, cwd).check_returncode()
    result = launch.run(["token", "issue", "--role", "host", "--name", "Editor Host"], env, cwd)
    result.check_returncode()
    site = Site(
        url=url, host_token=result.stdout.strip().splitlines()[-1], env=env, cwd=cwd, port=port
    )
    site.start()
    return site


@pytest.fixture
def blank_site(tmp_path: Path) -> Iterator[Site]:
    """A server of the test's own on an empty database."""
    site = empty_site(tmp_path)
    yield site
    site.stop()


# axe-core from the npm registry, installed by bin/setup into .venv/axe.
AXE = Path(__file__).resolve().parents[2] / ".venv/axe/node_modules/axe-core/axe.min.js"
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        skip_or_fail(f"axe-core is not installed at {AXE} (bin/setup installs it with npm)")
    return AXE.read_text(encoding="utf-8")


async def axe_violations(page: Page, source: str) -> list[str]:
    """WCAG 2.1 A and AA violations axe-core finds on the page as it is now, one line each."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(
            source
        )  # run through the debugger protocol: the page's CSP allows no inline script
    found: list[dict[str, Any]] = await page.evaluate(
        """async (tags) => (await axe.run(document, {runOnly: {type: "tag", values: tags}}))
            .violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))}))""",
        WCAG_A_AA,
    )
    return [f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in found]
