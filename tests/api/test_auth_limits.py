"""Failed authentications are limited per client address: 429 (or close 4429) once too many.

Decided: once an address is blocked, every authentication attempt from it is refused, a good
token too — otherwise a guesser would learn which guess was right. Other addresses, and
requests that carry no credentials at all, are never affected.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from redis.asyncio import Redis
from redis.exceptions import RedisError

from takeamoment.connection.auth_limits import (
    AuthLimiter,
    MemoryFailureCounter,
    RedisFailureCounter,
    TooManyAuthFailures,
    make_limiter,
)
from takeamoment.settings import Settings
from tests.conftest import ONE_BACKEND, skip_or_fail
from tests.helpers import Client, auth, make_person, ok

pytestmark = ONE_BACKEND  # limits per address, in memory or Redis

LIMIT = 10
CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')
REDIS_URL = os.environ.get("TAKEAMOMENT_TEST_REDIS", "redis://127.0.0.1:6379/0")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def from_address(client: Client, host: str) -> Iterator[None]:
    """Requests through ``client`` come from ``host`` meanwhile (the test client's is fixed).

    The app stays the one the client started, on the client's own event loop (which the
    PostgreSQL connections belong to): only the ASGI scope's ``client`` changes.
    """
    app = client.app

    async def shim(scope: Any, receive: Any, send: Any) -> None:
        await app({**scope, "client": (host, 40000)}, receive, send)

    client.app = shim
    try:
        yield
    finally:
        client.app = app


async def fail(limiter: AuthLimiter, address: str, times: int) -> None:
    for _ in range(times):
        await limiter.ensure_allowed(address)
        await limiter.failed(address)


async def test_an_address_is_blocked_after_the_limit_until_its_window_passes() -> None:
    clock = FakeClock()
    limiter = AuthLimiter(MemoryFailureCounter(60, clock=clock), limit=3)
    await fail(limiter, "10.0.0.1", 3)
    clock.now += 59.2
    with pytest.raises(TooManyAuthFailures) as refused:
        await limiter.ensure_allowed("10.0.0.1")
    assert refused.value.retry_after == 1
    assert refused.value.headers == {"Retry-After": "1"}
    await limiter.ensure_allowed("10.0.0.2")  # another address is unaffected

    clock.now += 1  # the window (from the first failure) has passed
    await limiter.ensure_allowed("10.0.0.1")
    await fail(limiter, "10.0.0.1", 2)  # a new window: two failures are below the limit
    await limiter.ensure_allowed("10.0.0.1")


async def test_the_failure_limit_answers_429_with_retry_after_and_spares_other_addresses(
    client: Client, host_token: str
) -> None:
    for _ in range(LIMIT):
        response = await client.get("/api/me/notifications", headers=auth("tam_guess"))
        assert response.status_code == 401, response.text
    for headers in (
        auth("tam_guess"),
        auth(host_token),
        {**auth(host_token), "X-Forwarded-For": "10.9.9.9"},
    ):
        blocked = await client.get("/api/events", headers=headers)
        assert blocked.status_code == 429, blocked.text
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        assert "too many failed authentications" in blocked.json()["detail"]
    # No credentials, no authentication attempt: public reads still work from the address.
    assert (await client.get("/api/events")).status_code == 200

    with from_address(client, "10.1.2.3"):
        response = await client.get("/api/events", headers=auth(host_token))
        assert response.status_code == 200, response.text
        assert (await client.get("/api/events", headers=auth("tam_guess"))).status_code == 200


async def test_bad_stream_tokens_count_and_a_blocked_address_gets_close_4429(
    client: Client, host_token: str
) -> None:
    ana = await make_person(client, host_token, "ana")
    for attempt in range(LIMIT + 1):
        ws = await client.websocket_connect(f"/ws/me?token=tam_guess{attempt}")
        with ws, pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=10)
        assert closed.value.code == (4401 if attempt < LIMIT else 4429)
    assert "too many failed authentications" in closed.value.detail
    ws = await client.websocket_connect(f"/ws/me?token={ana['token']}")
    with ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json(timeout=10)
    assert closed.value.code == 4429


async def test_refused_sign_ins_count_too_but_unknown_feed_tokens_do_not(
    client: Client, host_token: str
) -> None:
    ana = await make_person(client, host_token, "ana")
    # Feed tokens carry 256 bits, and calendar services poll stale URLs from shared addresses:
    # a wrong one is a plain 404 (or 410 once rotated), never counted.
    for attempt in range(LIMIT * 2):
        assert (await client.get(f"/feeds/tamf_guess{attempt}.ics")).status_code == 404
    page = await client.get("/host/login")
    match = CSRF_FIELD.search(page.text)
    assert match, page.text
    form = {"_csrf_token": match.group(1), "token": "tam_guess", "next": "/host"}
    for _ in range(LIMIT):
        assert (await client.post("/host/login", data=form)).status_code == 401

    form["token"] = host_token
    signed_in = await client.post("/host/login", data=form, follow_redirects=False)
    assert signed_in.status_code == 429
    assert "Retry-After" in signed_in.headers and "try again in" in signed_in.text
    feed = str(ana["feed_url"]).removeprefix("http://testserver")
    assert (await client.get(feed)).status_code == 200  # a feed is no sign-in


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, RedisError) as error:
        await client.aclose()
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}: {error}")
    yield client
    await client.aclose()


@pytest.mark.redis
async def test_with_redis_every_process_shares_the_counts(redis: Redis) -> None:
    prefix = f"tam-test-{uuid.uuid4().hex[:8]}:auth-failures:"
    processes = [AuthLimiter(RedisFailureCounter(redis, prefix, 60), limit=3) for _ in range(2)]
    try:
        await fail(processes[0], "10.0.0.1", 2)
        await fail(processes[1], "10.0.0.1", 1)
        for limiter in processes:
            with pytest.raises(TooManyAuthFailures) as refused:
                await limiter.ensure_allowed("10.0.0.1")
            assert 1 <= refused.value.retry_after <= 60
            await limiter.ensure_allowed("10.0.0.2")
        assert 0 < await redis.ttl(prefix + "10.0.0.1") <= 60
    finally:
        await redis.delete(prefix + "10.0.0.1")


async def test_the_limiter_keeps_its_counts_in_redis_when_the_deployment_has_one() -> None:
    settings = Settings(auth_failure_limit=4, auth_failure_window_seconds=30, bus_channel="blue")
    in_memory = make_limiter(settings, None)
    redis = Redis.from_url(REDIS_URL)  # never connects here
    shared = make_limiter(settings, redis)
    await redis.aclose()
    assert isinstance(in_memory.counter, MemoryFailureCounter) and in_memory.limit == 4
    assert isinstance(shared.counter, RedisFailureCounter)
    assert (shared.counter.prefix, shared.counter.window_seconds) == ("blue:auth-failures:", 30)


async def test_a_request_with_no_credentials_is_not_an_attempt(client: Client) -> None:
    for _ in range(LIMIT + 1):
        assert (await client.get("/api/me/notifications")).status_code == 401
    assert await ok(await client.get("/api/events")) == []
