"""Seeing the service run: every request gets an id, a place in the metrics and (with JSON logs)
an access line; ``GET /metrics`` answers the addresses in ``TAKEAMOMENT_METRICS_ALLOW``.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any

from litestar import Request, Response, get
from litestar.enums import ScopeType
from litestar.exceptions import LitestarException, PermissionDeniedException
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from takeamoment import metrics
from takeamoment.api.deps import AppSettings
from takeamoment.connection.address import peer_address
from takeamoment.request_id import HEADER, bind_request_id, choose_request_id, unbind_request_id

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("takeamoment.access")

# Methods outside these are counted as OTHER: a label value per made-up method would not do.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_HEADER_BYTES = HEADER.encode()


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name.lower() == _HEADER_BYTES:
            return str(value.decode("latin-1"))
    return None


class ObservedRequests:
    """Wraps the whole app, outside Litestar's routing: Litestar's own middleware runs only for
    requests that match a route, and a 404 or a 405 must be counted and carry its id too."""

    def __init__(self, app: ASGIApp, *, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            await self.app(scope, receive, send)
            return
        request_id = choose_request_id(_incoming_id(scope))
        binding = bind_request_id(request_id)
        try:
            if scope["type"] == ScopeType.HTTP:
                await self._http(scope, receive, send, request_id)
            else:
                await self.app(scope, receive, send)
        finally:
            unbind_request_id(binding)

    async def _http(self, scope: HTTPScope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering
        id_header = (_HEADER_BYTES, request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*(message.get("headers") or ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Litestar answers every exception itself; one that escapes came after the answer
            # began, and uvicorn will only say "Exception in ASGI application".
            logger.exception("request failed after its answer began (request id %s)", request_id)
            raise
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: HTTPScope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = scope.get("path_template") or metrics.UNMATCHED_ROUTE
        metrics.request_answered(method, route, status, seconds)
        if self.access_log and access_logger.isEnabledFor(logging.INFO):
            duration_ms = round(seconds * 1000, 1)
            access_logger.info(
                "%s %s %d %.1f ms",
                method,
                scope["path"],
                status,
                duration_ms,
                extra={
                    "method": method,
                    "route": route,
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": duration_ms,
                    "client": peer_address(scope),
                },
            )


async def log_websocket_failure(error: Exception, scope: Scope) -> None:
    """An ``after_exception`` hook: a WebSocket handler's unexpected error is closed with 4500 by
    Litestar and logged only in debug mode; log it always (HTTP ones: ``api/errors.py``)."""
    if scope["type"] == ScopeType.WEBSOCKET and not isinstance(error, LitestarException):
        logger.error(
            "unhandled %s on %s",
            type(error).__name__,
            scope.get("path_template") or scope["path"],
            exc_info=error,
        )


def _allowed(address: str, allowed: list[str]) -> bool:
    """``address`` is one of ``allowed``, or inside one of its networks (``10.0.0.0/8``)."""
    if address in allowed:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:  # a name such as "testclient": compared as text above
            continue
    return False


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def metrics_endpoint(request: Request[Any, Any, Any], settings: AppSettings) -> Response[bytes]:
    """Prometheus text format, for the addresses in ``metrics_allow`` only."""
    if not _allowed(peer_address(request.scope), settings.metrics_allow):
        raise PermissionDeniedException(
            "metrics are served only to the addresses in TAKEAMOMENT_METRICS_ALLOW"
        )
    # In multiprocess mode this reads a few small files per worker: not worth a thread.
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
