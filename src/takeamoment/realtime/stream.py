"""Sending one subscriber a gap-free stream: a starting point, then live messages in seq order.

The hub delivers live messages as they arrive from the bus, possibly out of order, twice, or
with holes (a process died between commit and publish). The stream sends each seq exactly once,
in order: older or repeated seqs are skipped and holes are filled from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from takeamoment.realtime.hub import Outgoing, Subscription
from takeamoment.realtime.protocol import (
    CLOSE_TOO_BIG,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHORIZED,
    IN_PLACE_SEND,
    MAX_INCOMING_BYTES,
    TOO_SLOW_REASON,
)

LoadAfter = Callable[[int], Awaitable[list[dict[str, Any]]]]
# Returns when the subscriber may no longer listen (its token was revoked).
Expiry = Callable[[], Coroutine[Any, Any, object]]


async def pump(
    socket: WebSocket[Any, Any, Any],
    subscription: Subscription,
    start: list[Outgoing],
    last_seq: int,
    load_after: LoadAfter,
    expiry: Expiry | None = None,
) -> None:
    """Send ``start``, then live messages after ``last_seq``, until the client goes or lags
    (or ``expiry`` returns: the stream is then closed with 4401).

    The calling task reads the client's messages; it is interrupted (cancelled, and the
    cancellation withdrawn) when the stream must stop for another reason. A writer task exists
    only while the subscriber is behind, and ``expiry`` gets a task of its own.
    """
    stream = _Stream(socket, subscription, load_after)
    expired = asyncio.create_task(_expire(stream, expiry)) if expiry else None
    try:
        if subscription.overflowed:  # fell behind while its starting point was read
            stream.stop(CLOSE_TOO_SLOW, TOO_SLOW_REASON)
        else:
            await _send_start(socket, start)
            subscription.sent = last_seq
            stream.attach()
            if await _read_until_closed(socket) == CLOSE_TOO_BIG:
                stream.stop(CLOSE_TOO_BIG, "message too big")
    except asyncio.CancelledError:
        if not stream.stopping:  # cancelled from outside (shutdown): not ours to swallow
            raise
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
    finally:
        stream.detach()
        if expired is not None:
            expired.cancel()
    if stream.close_code is not None:
        await _close(socket, stream.close_code, stream.close_reason)


class _Stream:
    """One connection's delivery: parks the subscription, or drains its backlog when behind."""

    __slots__ = (
        "close_code",
        "close_reason",
        "in_place",
        "load_after",
        "reader",
        "socket",
        "stopping",
        "subscription",
        "writer",
    )

    def __init__(
        self, socket: WebSocket[Any, Any, Any], subscription: Subscription, load_after: LoadAfter
    ) -> None:
        self.socket = socket
        self.subscription = subscription
        self.load_after = load_after
        self.reader = asyncio.current_task()
        self.writer: asyncio.Task[None] | None = None
        # Written to in place only where the server's send allows it (``wsprotocol.py``).
        extensions = socket.scope.get("extensions") or {}
        self.in_place = IN_PLACE_SEND in extensions
        self.stopping = False
        self.close_code: int | None = None
        self.close_reason = ""
        subscription.on_overflow = self._overflowed

    def attach(self) -> None:
        """The starting point is sent: deliver what waits, then live messages."""
        self.subscription.on_waiting = self._wake
        self._wake()

    def detach(self) -> None:
        subscription = self.subscription
        subscription.on_waiting = subscription.on_overflow = subscription.send_now = None
        self.reader = None
        if self.writer is not None:
            self.writer.cancel()

    def stop(self, code: int | None, reason: str = "") -> None:
        """End the stream (closing it with ``code`` unless None); the reader is interrupted."""
        if self.stopping:
            return
        self.stopping = True
        self.close_code, self.close_reason = code, reason
        reader = self.reader
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()

    def _overflowed(self) -> None:
        self.stop(CLOSE_TOO_SLOW, TOO_SLOW_REASON)

    def _wake(self) -> None:
        """Something waits: park if the backlog is empty, else start the writer."""
        if self.writer is not None or self.stopping:
            return
        if self.subscription.backlog is None:
            if self.in_place:
                self.subscription.send_now = self.socket.send_text
            return
        self.subscription.send_now = None
        self.writer = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        subscription = self.subscription
        try:
            while (outgoing := subscription.next_waiting()) is not None:
                if outgoing.seq <= subscription.sent:
                    continue  # already sent: in the starting point, directly, or twice
                if outgoing.seq > subscription.sent + 1:  # a hole: fill it from the database
                    await _fill(self.socket, subscription, outgoing.seq, self.load_after)
                await self.socket.send_text(outgoing.text)
                subscription.sent = outgoing.seq
        except asyncio.CancelledError:
            raise
        except Exception:  # the client went away, or the database did: end this stream
            self.writer = None
            self.stop(None)
            return
        self.writer = None
        self._wake()  # nothing waits now: park (or drain what came in meanwhile)


async def _expire(stream: _Stream, expiry: Expiry) -> None:
    await expiry()
    stream.stop(CLOSE_UNAUTHORIZED, "the token was revoked")


async def _fill(
    socket: WebSocket[Any, Any, Any], subscription: Subscription, before: int, load_after: LoadAfter
) -> None:
    """Send every stored message after ``subscription.sent`` and before ``before``, page by page.

    ``load_after`` answers one page at a time; a viewer may be many pages behind.
    """
    while subscription.sent + 1 < before:
        page = await load_after(subscription.sent)
        for missing in page:
            if missing["seq"] >= before:
                return
            await socket.send_text(Outgoing.of(missing).text)
            subscription.sent = missing["seq"]
        if not page:  # the log has nothing more (trimmed, or the hole is not stored yet)
            return


async def _send_start(socket: WebSocket[Any, Any, Any], start: list[Outgoing]) -> None:
    """Send the starting point, then let it go: it would otherwise live as long as the
    connection (a replay may be long)."""
    for message in start:
        await socket.send_text(message.text)
    start.clear()


async def _read_until_closed(socket: WebSocket[Any, Any, Any]) -> int | None:
    """Read and ignore what the client sends; answer when it leaves or sends too much."""
    try:
        while True:
            message: dict[str, Any] = dict(await socket.receive())
            if message["type"] == "websocket.disconnect":
                return None
            size = len(message.get("bytes") or b"") + len((message.get("text") or "").encode())
            if size > MAX_INCOMING_BYTES:
                return CLOSE_TOO_BIG
    except WebSocketDisconnect:
        return None


async def _close(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(code=code, reason=reason), timeout=1)
