"""At most ``ws_max_per_client`` concurrent WebSockets per client address.

One more is accepted and closed at once with code 1013 ("try again later", RFC 6455) and a
reason, so that browsers and ``takeamoment watch`` see why and retry with their usual backoff.
Connections are counted per process (per app instance): with N processes or workers behind a
balancer an address may hold up to N times the limit. 0 means unlimited. The address is the ASGI
client's host (``connection/address.py``), as for the HTTP rate limit (``api/limits.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar, WebSocket

from takeamoment.connection.address import peer_address
from takeamoment.realtime.protocol import CLOSE_TRY_AGAIN

STATE_KEY = "ws_connections"


class ConnectionCounter:
    """Open WebSockets per client address; ``acquire`` and ``release`` never await, so a check
    and its increment cannot interleave with another connection's."""

    def __init__(self, max_per_client: int) -> None:
        self.max_per_client = max_per_client
        self._open: Counter[str] = Counter()

    def acquire(self, client: str) -> bool:
        """Count one more connection from ``client``; False (and nothing counted) when full."""
        if self.max_per_client > 0 and self._open[client] >= self.max_per_client:
            return False
        self._open[client] += 1
        return True

    def release(self, client: str) -> None:
        """One connection from ``client`` is gone; its entry goes with its last connection."""
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]

    def open(self, client: str) -> int:
        return self._open[client]


def connection_counter(app: Litestar) -> ConnectionCounter:
    """This app's counter (the real-time plugin's)."""
    counter: ConnectionCounter = app.state[STATE_KEY]
    return counter


async def within_connection_limit(
    socket: WebSocket[Any, Any, Any], stream: Callable[[], Awaitable[None]]
) -> None:
    """Run ``stream`` while counting the connection against its address; refuse it when full.

    Called by each WebSocket handler rather than installed as route middleware: Litestar's
    middleware wrappers stay on the stack of every open connection, about 1.5 KiB each of
    ten thousand idle viewers (``bench/fanout.py``).
    """
    app = socket.app
    client = peer_address(socket.scope)
    if app.state.settings.is_limit_exempt(client):
        await stream()
        return
    counter = connection_counter(app)
    if not counter.acquire(client):
        await socket.accept()
        await socket.close(
            code=CLOSE_TRY_AGAIN,
            reason=f"too many connections from your address (limit {counter.max_per_client})",
        )
        return
    try:
        await stream()
    finally:
        counter.release(client)
