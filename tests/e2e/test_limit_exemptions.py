"""This machine itself is not a client to limit: loopback addresses skip the per-address limits
by default (like fail2ban's ``ignoreip``), and are limited like anyone once the list is emptied."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests import plain_http
from tests.e2e.conftest import server_env, start_server, stop_server

pytestmark = pytest.mark.slow

TIGHT_LIMITS = {
    "TAKEAMOMENT_RATE_LIMIT_PER_MINUTE": "2",
    "TAKEAMOMENT_WS_MAX_PER_CLIENT": "1",
    "TAKEAMOMENT_AUTH_FAILURE_LIMIT": "1",
}


async def _exercise(url: str) -> tuple[list[int], list[int], bool]:
    """Five reads, five bad tokens, and two WebSockets held at once, all from 127.0.0.1."""
    async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
        reads = [(await client.get("/api/events")).status_code for _ in range(5)]
        bad = {"Authorization": "Bearer tam_not-a-real-token"}
        denials = [(await client.get("/api/me/notifications", headers=bad)).status_code
                   for _ in range(5)]  # fmt: skip
    ws_url = url.replace("http://", "ws://") + "/ws/me?token=tam_nope"
    async with connect(ws_url) as first, connect(ws_url) as second:
        await asyncio.wait_for(first.wait_closed(), 10)
        await asyncio.wait_for(second.wait_closed(), 10)
        assert first.close_reason is not None
        both_authenticated_refusals = first.close_code == second.close_code == 4401
    return reads, denials, both_authenticated_refusals


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_loopback_clients_skip_the_per_address_limits_by_default(
    db_url: str, tmp_path: Path
) -> None:
    process, url = start_server(server_env(db_url, **TIGHT_LIMITS), tmp_path)
    try:
        reads, denials, ws_refused_for_the_token = await _exercise(url)
    finally:
        stop_server(process)
    assert reads == [200] * 5
    assert denials == [401] * 5
    assert ws_refused_for_the_token  # 4401, never 4429 nor 1013


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_an_empty_exemption_list_limits_loopback_like_any_address(
    db_url: str, tmp_path: Path
) -> None:
    env = server_env(db_url, TAKEAMOMENT_LIMIT_EXEMPT_ADDRESSES="[]", **TIGHT_LIMITS)
    process, url = start_server(env, tmp_path)
    try:
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            reads = [(await client.get("/api/events")).status_code for _ in range(3)]
    finally:
        stop_server(process)
    assert reads == [200, 200, 429]
