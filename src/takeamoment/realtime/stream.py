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

# Close codes of our own (RFC 6455 leaves 4000-4999 to applications).
CLOSE_TOO_SLOW = 4008  # the backlog overflowed: reconnect with ?since=<last seq seen>
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_BIG = 1009
MAX_INCOMING_BYTES = 64 * 1024

LoadAfter = Callable[[int], Awaitable[list[dict[str, Any]]]]
# Returns when the subscriber may no longer listen (its token was revoked).
Expiry = Callable[[], Coroutine[Any, Any, None]]


async def pump(
    socket: WebSocket[Any, Any, Any],
    subscription: Subscription,
    start: list[dict[str, Any]],
    last_seq: int,
    load_after: LoadAfter,
    expiry: Expiry | None = None,
) -> None:
    """Send ``start``, then live messages after ``last_seq``, until the client goes or lags
    (or ``expiry`` returns: the stream is then closed with 4401)."""
    writer = asyncio.create_task(_write(socket, subscription, start, last_seq, load_after))
    reader = asyncio.create_task(_read_until_closed(socket))
    overflow = asyncio.create_task(subscription.overflowed.wait())
    expired = asyncio.create_task(expiry() if expiry else _never())
    tasks = (writer, reader, overflow, expired)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if expired in done:
        await _close(socket, CLOSE_UNAUTHORIZED, "the token was revoked")
    elif overflow in done:
        await _close(socket, CLOSE_TOO_SLOW, "too far behind: reconnect with ?since=<last seq>")
    elif reader in done and reader.exception() is None and reader.result() == CLOSE_TOO_BIG:
        await _close(socket, CLOSE_TOO_BIG, "message too big")


async def _write(
    socket: WebSocket[Any, Any, Any],
    subscription: Subscription,
    start: list[dict[str, Any]],
    last_seq: int,
    load_after: LoadAfter,
) -> None:
    await _send_start(socket, start)
    subscription.sent = last_seq
    while True:
        if subscription.queue.empty():
            subscription.send_now = socket.send_text  # parked: live messages may go directly
        outgoing = await subscription.queue.get()
        subscription.send_now = None
        if outgoing.seq <= subscription.sent:
            continue  # already sent: in the starting point, directly, or delivered twice
        if outgoing.seq > subscription.sent + 1:  # a hole: fill it from the database
            await _fill(socket, subscription, outgoing.seq, load_after)
        await socket.send_text(outgoing.text)
        subscription.sent = outgoing.seq


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


async def _never() -> None:
    await asyncio.Event().wait()


async def _send_start(socket: WebSocket[Any, Any, Any], start: list[dict[str, Any]]) -> None:
    """Send the starting point, then let it go: a snapshot is ~13 KiB per viewer, and the caller
    shares this list, so it would otherwise live as long as the connection."""
    for message in start:
        await socket.send_text(Outgoing.of(message).text)
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
