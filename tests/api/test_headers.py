"""Security headers on pages, static files and the API; CORS off unless configured."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from takeamoment.app import create_app
from takeamoment.settings import Settings
from tests.conftest import ONE_BACKEND
from tests.helpers import Client

pytestmark = ONE_BACKEND  # response headers

PAGE_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "connect-src 'self' ws://testserver wss://testserver; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@pytest.mark.parametrize("path", ["/", "/host/login", "/static/style.css", "/api/events"])
async def test_every_answer_of_a_route_carries_the_security_headers(
    client: Client, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    for name, value in PAGE_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["content-security-policy"] == CSP
    assert "camera=()" in response.headers["permissions-policy"]


async def test_errors_carry_them_too(client: Client) -> None:
    response = await client.get("/api/events/nope")
    assert response.status_code == 404
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
async def test_the_api_reference_comes_from_our_own_files_under_the_same_csp(
    client: Client, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    html = response.text
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert len(sources) >= 3, html
    assert all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # no inline script
    assert re.findall(r"<style|\sstyle=", html) == []  # nor inline style
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200, source
        assert asset.headers["content-security-policy"] == CSP
    assert (await client.get("/schema/openapi.json")).json()["info"]["title"] == "takeamoment"


async def test_cors_is_off_by_default(client: Client) -> None:
    response = await client.get("/api/events", headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_configured_origins_may_read_the_api_others_may_not(settings: Settings) -> None:
    configured = settings.model_copy(update={"cors_allowed_origins": ["https://tam.example"]})
    async with AsyncTestClient(app=create_app(configured)) as test_client:
        allowed = await test_client.get("/api/events", headers={"Origin": "https://tam.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://tam.example"
        other = await test_client.get("/api/events", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = await test_client.options(
            "/api/events",
            headers={"Origin": "https://tam.example", "Access-Control-Request-Method": "GET"},
        )
        assert preflight.status_code in (200, 204)
        assert preflight.headers["access-control-allow-origin"] == "https://tam.example"
