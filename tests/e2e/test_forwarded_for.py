"""``X-Forwarded-For`` is believed only from the proxies in ``TAKEAMOMENT_FORWARDED_ALLOW_IPS``.

Real ``takeamoment serve`` processes, and clients on several loopback addresses (127.0.0.0/8 is
all this machine's, so a client can bind 127.0.0.2 and be another address to the server). The
limits are tight and loopback is not exempt, so every answer shows which address was counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import plain_http
from tests.e2e.conftest import issue_host_token, server_env, start_server, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

LIMITS = {
    "TAKEAMOMENT_LIMIT_EXEMPT_ADDRESSES": "[]",
    "TAKEAMOMENT_RATE_LIMIT_PER_MINUTE": "4",
    "TAKEAMOMENT_AUTH_FAILURE_LIMIT": "2",
}
BAD_TOKEN = {"Authorization": "Bearer tam_not-a-real-token-at-all"}


def client_from(url: str, address: str) -> httpx.AsyncClient:
    """A client whose connections come from ``address`` (a loopback address of its own)."""
    transport = httpx.AsyncHTTPTransport(local_address=address, verify=plain_http.TLS)
    return plain_http.AsyncClient(base_url=url, transport=transport, timeout=30)


def serve(db_url: str, tmp_path: Path, **extra: str) -> Iterator[tuple[str, str]]:
    env = server_env(db_url, **LIMITS, **extra)
    token = issue_host_token(env, tmp_path)
    process, url = start_server(env, tmp_path)
    try:
        yield url, token
    finally:
        stop_server(process)


@pytest.fixture
def default_server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from serve(db_url, tmp_path)


@pytest.fixture
def behind_a_proxy(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from serve(db_url, tmp_path, TAKEAMOMENT_FORWARDED_ALLOW_IPS='["127.0.0.1"]')


async def statuses(
    client: httpx.AsyncClient, forwarded: list[str], path: str = "/api/events", **headers: str
) -> list[int]:
    answers = []
    for address in forwarded:
        response = await client.get(path, headers={**headers, "X-Forwarded-For": address})
        answers.append(response.status_code)
    return answers


async def test_by_default_a_forged_header_from_loopback_neither_bypasses_nor_redirects_limits(
    default_server: tuple[str, str],
) -> None:
    url, host_token = default_server
    async with client_from(url, "127.0.0.1") as attacker:
        # A new "address" per request would never reach the limit, if the header counted.
        spread = await statuses(attacker, [f"10.0.0.{n}" for n in range(6)])
    assert spread == [200] * 4 + [429] * 2

    async with client_from(url, "127.0.0.3") as attacker:
        # Failed tokens blamed on 127.0.0.2 would lock that address out, if the header counted.
        blamed = await statuses(attacker, ["127.0.0.2"] * 3, "/api/audit", **BAD_TOKEN)
    assert blamed == [401, 401, 429]  # counted against the attacker's own address
    async with client_from(url, "127.0.0.2") as victim:
        response = await victim.get(
            "/api/events", headers={"Authorization": f"Bearer {host_token}"}
        )
    assert response.status_code == 200, response.text


async def test_from_a_listed_proxy_the_header_names_the_client(
    behind_a_proxy: tuple[str, str],
) -> None:
    url, _ = behind_a_proxy
    async with client_from(url, "127.0.0.1") as proxy:
        first = await statuses(proxy, ["10.0.0.1"] * 5)
        other = await statuses(proxy, ["10.0.0.2"])
    assert first == [200] * 4 + [429]  # one client behind the proxy reached its limit...
    assert other == [200]  # ...and another one behind the same proxy did not

    async with client_from(url, "127.0.0.4") as not_a_proxy:
        ignored = await statuses(not_a_proxy, [f"10.1.0.{n}" for n in range(5)])
    assert ignored == [200] * 4 + [429]  # anyone else's header is still ignored
