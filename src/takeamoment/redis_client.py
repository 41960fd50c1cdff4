"""Every Redis client of the app, made one way: bounded waits, no silent retries.

redis-py's defaults wait on a socket for ever and retry a failed command ten times, so a Redis
that accepts connections but never answers (paused, swapping, partitioned) would hold whoever
asked. Here connecting and each reply are bounded, and a failure is reported at once: callers
decide (the bus queues and retries in the background; limits let requests through).

``Breaker`` lets request paths stop asking a Redis that just failed, for a few seconds, so that
only one request in that time pays the timeout rather than every one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

CONNECT_TIMEOUT_S = 1.0
SOCKET_TIMEOUT_S = 1.0
# Idle connections are checked (PING) before use after this long, so one dropped by a restart is
# found before a request relies on it.
HEALTH_CHECK_INTERVAL_S = 15
# How long request paths skip Redis after it failed them.
BREAKER_COOLDOWN_S = 5.0


def redis_client(url: str) -> Redis:
    """A client with connect and socket timeouts and no retries of its own."""
    return Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
        retry=Retry(NoBackoff(), 0),
    )


@dataclass
class Breaker:
    """Open for ``cooldown`` seconds after a failure: meanwhile, do not ask Redis at all."""

    cooldown: float = BREAKER_COOLDOWN_S
    clock: Callable[[], float] = time.monotonic
    _open_until: float = 0.0

    @property
    def is_open(self) -> bool:
        return self.clock() < self._open_until

    def failed(self) -> None:
        self._open_until = self.clock() + self.cooldown
