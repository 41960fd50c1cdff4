"""Per-address request limits (429 with ``Retry-After``) and the body size limit (413)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from takeamoment.app import create_app
from takeamoment.settings import Settings
from tests.conftest import ONE_BACKEND
from tests.helpers import Client, auth, ok

pytestmark = ONE_BACKEND  # limits per address and body size


def limited(settings: Settings, per_minute: int, **fields: object) -> Settings:
    return settings.model_copy(update={"rate_limit_per_minute": per_minute, **fields})


@pytest.fixture
async def limited_client(settings: Settings) -> AsyncIterator[Client]:
    """An app that lets one address make 3 requests a minute."""
    async with AsyncTestClient(app=create_app(limited(settings, 3))) as test_client:
        yield test_client


async def test_requests_past_the_limit_are_429_with_retry_after_and_a_clear_detail(
    limited_client: Client,
) -> None:
    for remaining in (2, 1, 0):
        response = await limited_client.get("/api/events")
        assert response.status_code == 200
        assert response.headers["RateLimit-Remaining"] == str(remaining)
    refused = await limited_client.get("/api/events")
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.headers["x-content-type-options"] == "nosniff"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    body = refused.json()
    assert body["status_code"] == 429
    assert body["detail"] == (
        f"too many requests from your address (limit 3 a minute); try again in {retry_after} s"
    )
    # The pages and the feeds count against the same budget.
    assert (await limited_client.get("/")).status_code == 429


async def test_health_probes_and_static_files_are_never_limited(limited_client: Client) -> None:
    for _ in range(5):
        assert (await limited_client.get("/healthz")).status_code == 200
        assert (await limited_client.get("/static/stream.js")).status_code == 200
    assert (await limited_client.get("/api/events")).status_code == 200


async def test_zero_turns_the_limit_off(settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(limited(settings, 0))) as test_client:
        for _ in range(5):
            response = await test_client.get("/api/events")
            assert response.status_code == 200
            assert "RateLimit-Remaining" not in response.headers


async def test_a_body_over_the_limit_is_413_with_a_clear_detail(
    client: Client, host_token: str
) -> None:
    body = b'{"slug": "' + b"x" * (1024 * 1024) + b'"}'
    response = await client.post(
        "/api/events",
        content=body,
        headers={**auth(host_token), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json() == {
        "status_code": 413,
        "detail": "request body too large: the limit is 1048576 bytes",
    }
    # The limit is on size only: a normal body still goes through.
    small = {"slug": "tam", "title": "T", "timezone": "UTC"}
    small |= {"starts_at": "2030-10-10T00:00:00Z", "ends_at": "2030-10-10T23:00:00Z"}
    await ok(await client.post("/api/events", json=small, headers=auth(host_token)), 201)
