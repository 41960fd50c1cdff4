"""Per-address request limits on HTTP routes: a 429 in the error map's shape (``api/errors.py``)
with a detail that says what the limit is.

Rate: Litestar's rate-limit middleware, whose 429 here names the limit and carries
``Retry-After``. Every HTTP route counts except the health probes and ``/static``; WebSockets are
limited separately (``realtime/limits.py``). The window is fixed: it starts at an address's first
request and lasts a minute. Counts live in this process's memory, or in Redis (one namespace per
deployment: the bus channel) when ``TAKEAMOMENT_REDIS_URL`` is set, so that every process of a
deployment shares them; two processes racing on one address may each let one extra request in.

The address is ``connection/address.py``'s :func:`peer_address`, the one every per-address limit
uses (requests here, WebSockets in ``realtime/limits.py``, failed sign-ins in
``connection/auth_limits.py``). The body size limit's 413 is the error map's too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis
from redis.exceptions import RedisError

from takeamoment.api.errors import http_error
from takeamoment.connection.address import peer_address
from takeamoment.redis_client import Breaker
from takeamoment.settings import Settings

if TYPE_CHECKING:
    from litestar.stores.base import Store
    from litestar.types import Receive, Scope, Send

logger = logging.getLogger(__name__)

STORE_NAME = "rate_limit"
EXCLUDED_PATHS = ["^/healthz", "^/readyz", "^/static/"]
STORE_TIMEOUT_S = 0.5  # the longest a request waits on the counts (Redis)


def _request_address(request: Request[Any, Any, Any]) -> str:
    return peer_address(request.scope)


class RequestRateLimit(RateLimitMiddleware):
    """Litestar's middleware, but its 429 names the limit and carries ``Retry-After``.

    The 429 is answered here, by the error map's handler (``api/errors.py``), rather than raised:
    an exception raised in a middleware is answered outside every middleware, so the security
    headers (``web/headers.py``) would miss it.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["litestar_app"]
        if app.state.settings.is_limit_exempt(peer_address(scope)):
            await self.app(scope, receive, send)
            return
        breaker: Breaker | None = app.state.get("redis_breaker")
        if breaker is not None and breaker.is_open:  # Redis failed a moment ago: do not wait on it
            await self.app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = app.request_class(scope)
        store = self.config.get_store_from_app(app)
        key = self.cache_key_from_request(request)
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S), self._lock:
                cache_object = await self.retrieve_cached_history(key, store)
                refused = len(cache_object.history) >= self.max_requests
                if not refused:
                    await self.set_cached_history(key=key, cache_object=cache_object, store=store)
        except (RedisError, OSError):
            # The limit guards the service; it must not take it down. While the shared store
            # (Redis) is away or silent, requests go through uncounted, as with no limit.
            logger.warning("rate-limit store unavailable; serving without the limit")
            if breaker is not None:
                breaker.failed()
            await self.app(scope, receive, send)
            return
        if refused:
            retry_after = max(1, cache_object.reset - int(time.time()))
            headers = self.create_response_headers(cache_object=cache_object)
            detail = (
                f"too many requests from your address (limit {self.max_requests} a minute); "
                f"try again in {retry_after} s"
            )
            refusal = TooManyRequestsException(
                detail=detail, headers={**headers, "Retry-After": str(retry_after)}
            )
            response = http_error(request, refusal)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)
            return
        send = self.create_send_wrapper(send=send, cache_object=cache_object)
        await self.app(scope, receive, send)


def rate_limit_config(settings: Settings) -> RateLimitConfig | None:
    """The app's request limit, or None when ``rate_limit_per_minute`` is 0 (no limit)."""
    if settings.rate_limit_per_minute <= 0:
        return None
    return RateLimitConfig(
        rate_limit=("minute", settings.rate_limit_per_minute),
        exclude=EXCLUDED_PATHS,
        middleware_class=RequestRateLimit,
        identifier_for_request=_request_address,
        store=STORE_NAME,
    )


def rate_limit_store(settings: Settings, redis: Redis | None) -> Store:
    """Where the counts live: Redis (shared by the deployment's processes) or this process."""
    if redis is not None:
        return RedisStore(
            redis,
            namespace=f"{settings.bus_channel}:rate_limit",
            handle_client_shutdown=False,  # the process's one client: ``create_app`` closes it
        )
    return MemoryStore()
