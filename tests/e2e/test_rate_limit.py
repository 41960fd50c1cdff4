"""The request limit across processes: with Redis, every server of a deployment shares one
count per address."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import ONE_BACKEND
from tests.e2e.conftest import bus_env, server_env, start_server, stop_server

pytestmark = [ONE_BACKEND, pytest.mark.slow, pytest.mark.redis]  # a count shared through Redis


def test_two_servers_sharing_redis_share_each_addresss_count(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = server_env(
        db_url,
        TAKEAMOMENT_RATE_LIMIT_PER_MINUTE="3",
        TAKEAMOMENT_LIMIT_EXEMPT_ADDRESSES="[]",
        **bus_env(redis_url),
    )
    first, first_url = start_server(env, tmp_path)  # the readiness probes are not counted
    try:
        second, second_url = start_server(env, tmp_path)
        try:
            statuses = [
                httpx.get(f"{url}/api/events", timeout=30).status_code
                for url in (first_url, second_url, first_url, second_url)
            ]
            refused = httpx.get(f"{first_url}/api/events", timeout=30)
        finally:
            stop_server(second)
    finally:
        stop_server(first)
    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["detail"].startswith("too many requests from your address")
