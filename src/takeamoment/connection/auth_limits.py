"""Failed authentications are rate-limited per client address.

After ``auth_failure_limit`` failures (an unknown or revoked bearer token, a bad ``?token=`` on
``/ws/me``, an unknown feed token, a refused host sign-in) within
``auth_failure_window_seconds`` of the first one, every further authentication attempt from
that address is refused — 429 with ``Retry-After``, or close code 4429 on a WebSocket
(``realtime/protocol.py``) — until the window passes. A good token from a blocked address is
refused too: letting it through would tell a guesser which guess was right. Other addresses are
never affected.

The address is ``connection/address.py``'s :func:`peer_address`, as for every per-address limit;
``X-Forwarded-For`` counts only from the proxies in ``TAKEAMOMENT_FORWARDED_ALLOW_IPS``.
Counters live in this process's memory, or in Redis when ``TAKEAMOMENT_REDIS_URL`` is set, so that
every process of a deployment shares them. Litestar's stores (``MemoryStore``, ``RedisStore``)
offer only get and set, which would lose counts between processes; Redis's ``INCR`` does not.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from litestar.connection import ASGIConnection
from litestar.exceptions import TooManyRequestsException
from redis.asyncio import Redis
from redis.exceptions import RedisError

from takeamoment.connection.address import peer_address
from takeamoment.db.engine import Database
from takeamoment.redis_client import Breaker
from takeamoment.services.auth import Principal, authenticate
from takeamoment.settings import Settings

logger = logging.getLogger(__name__)

STATE_KEY = "auth_limiter"
_MAX_TRACKED_ADDRESSES = 10_000  # past this, forget expired windows before adding more
STORE_TIMEOUT_S = 0.5  # the longest a request waits on the counters (Redis)

AnyConnection = ASGIConnection[Any, Any, Any, Any]


class TooManyAuthFailures(TooManyRequestsException):
    """429: this address failed to authenticate too often; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            detail=(
                f"too many failed authentications from your address; try again in {retry_after} s"
            ),
            headers={"Retry-After": str(retry_after)},
        )


class FailureCounter(Protocol):
    """Counts failures per key in a fixed window that starts at the key's first failure."""

    async def count(self, key: str) -> tuple[int, int]:
        """(failures in the current window, whole seconds until it ends); (0, 0) when none."""
        ...

    async def add(self, key: str) -> None:
        """Count one failure, starting a window when none is open."""
        ...


@dataclass
class MemoryFailureCounter:
    """Counters in this process only; ``clock`` is monotonic seconds (a parameter for tests)."""

    window_seconds: int
    clock: Callable[[], float] = time.monotonic
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    def _open(self, key: str) -> tuple[float, int] | None:
        window = self._windows.get(key)
        if window is not None and window[0] <= self.clock():
            del self._windows[key]
            return None
        return window

    async def count(self, key: str) -> tuple[int, int]:
        window = self._open(key)
        if window is None:
            return 0, 0
        ends_at, failures = window
        return failures, math.ceil(ends_at - self.clock())

    async def add(self, key: str) -> None:
        window = self._open(key)
        if window is None:
            if len(self._windows) >= _MAX_TRACKED_ADDRESSES:
                now = self.clock()
                self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
            window = (self.clock() + self.window_seconds, 0)
        self._windows[key] = (window[0], window[1] + 1)


@dataclass
class RedisFailureCounter:
    """Counters every process shares: ``SET NX EX`` opens a window, ``INCR`` counts in it."""

    redis: Redis
    prefix: str
    window_seconds: int

    async def count(self, key: str) -> tuple[int, int]:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(self.prefix + key)
            pipe.ttl(self.prefix + key)
            raw, ttl = await pipe.execute()
        if raw is None:
            return 0, 0
        return int(raw), max(int(ttl), 1)

    async def add(self, key: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.prefix + key, 0, ex=self.window_seconds, nx=True)
            pipe.incr(self.prefix + key)
            await pipe.execute()


@dataclass
class AuthLimiter:
    """Refuses authentication from addresses that failed ``limit`` times in the window.

    The counter is asked for at most ``STORE_TIMEOUT_S``; after it failed, ``breaker`` keeps
    requests from asking it again for a few seconds (every sign-in would otherwise wait on a
    Redis that does not answer).
    """

    counter: FailureCounter
    limit: int
    exempt: frozenset[str] = frozenset()
    breaker: Breaker = field(default_factory=Breaker)

    async def ensure_allowed(self, address: str) -> None:
        """Raise TooManyAuthFailures while ``address`` is blocked."""
        if address in self.exempt or self.breaker.is_open:
            return
        try:
            failures, seconds_left = await asyncio.wait_for(
                self.counter.count(address), STORE_TIMEOUT_S
            )
        except (RedisError, OSError) as error:
            # Fail open: the tokens carry 256 bits, so the limit is a second line of defence,
            # and an outage of Redis must not lock every user out (nor hold every request).
            self.breaker.failed()
            logger.warning("auth failure limit unavailable: Redis did not answer (%r)", error)
            return
        if failures >= self.limit:
            raise TooManyAuthFailures(max(seconds_left, 1))

    async def failed(self, address: str) -> None:
        """Count one failed authentication from ``address``."""
        if address in self.exempt or self.breaker.is_open:
            return
        try:
            await asyncio.wait_for(self.counter.add(address), STORE_TIMEOUT_S)
        except (RedisError, OSError) as error:
            self.breaker.failed()
            logger.warning("could not count a failed authentication in Redis (%r)", error)


def make_limiter(
    settings: Settings, redis: Redis | None, breaker: Breaker | None = None
) -> AuthLimiter:
    """Counters in Redis when the deployment has one (shared by every process), else in memory."""
    counter: FailureCounter
    if redis is not None:
        prefix = f"{settings.bus_channel}:auth-failures:"
        counter = RedisFailureCounter(redis, prefix, settings.auth_failure_window_seconds)
    else:
        counter = MemoryFailureCounter(settings.auth_failure_window_seconds)
    exempt = frozenset(settings.limit_exempt_addresses)
    return AuthLimiter(counter, settings.auth_failure_limit, exempt, breaker or Breaker())


def auth_limiter(connection: AnyConnection) -> AuthLimiter:
    """The app's limiter (made by ``create_app`` with :func:`make_limiter`)."""
    limiter: AuthLimiter = connection.app.state[STATE_KEY]
    return limiter


def client_address(connection: AnyConnection) -> str:
    """The caller's address, as every per-address limit counts it (:func:`peer_address`)."""
    return peer_address(connection.scope)


async def authenticate_attempt(connection: AnyConnection, token: str) -> Principal | None:
    """:func:`authenticate`, refused while the caller's address is blocked; failures count.

    Raises TooManyAuthFailures while blocked (before the token is even looked up).
    """
    limiter, address = auth_limiter(connection), client_address(connection)
    await limiter.ensure_allowed(address)
    db: Database = connection.app.state.db
    principal = await authenticate(db, token)
    if principal is None:
        await limiter.failed(address)
    return principal
