"""uvicorn's Sans-I/O WebSocket protocol, with less held per idle connection.

An idle viewer sits for hours on a connection that receives nothing, and at ten thousand viewers
every kilobyte per connection is ten megabytes. uvicorn's ``websockets-sansio`` protocol keeps,
for each connection: an ``asyncio.Queue`` for the messages the app will receive (four ``deque``
blocks, about 3 KiB, to hold a connect and a disconnect), an ``asyncio.Event`` for flow control,
and the handshake's parsed request and response for the whole life of the connection (about
2.5 KiB; the ASGI scope already has what the app needs). Measured with tracemalloc at 2,000 idle
viewers (``bench/fanout.py``, README "Performance").

This subclass keeps the protocol's behaviour and replaces only those: a one-consumer inbox and
a flag with the few methods the protocol calls, and the handshake objects let go once the
handshake is answered. Flow control is unchanged: a send still waits while the transport is
paused, and waits before it writes anything (``hub._completes_at_once`` relies on that), except
a close, which goes behind what the client has not read yet rather than wait for it. It also
bounds the kernel's send buffer of each connection (``SEND_BUFFER_BYTES``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from takeamoment.realtime.protocol import IN_PLACE_SEND

# The kernel's send buffer per connection, instead of Linux's autotuning up to 4 MiB: a client
# that stops reading holds that much of the kernel's memory, and its backlog (and so its
# 4008) begins only once it is full. Messages are small; 128 KiB in flight (the kernel
# doubles it) is far more than a viewer needs.
SEND_BUFFER_BYTES = 64 * 1024


class Inbox:
    """What the protocol needs of its receive queue: ``put_nowait``, ``get`` and ``empty``.

    One consumer at a time (the app's ``receive``), as ASGI has it.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items


class Flag:
    """What the protocol needs of ``asyncio.Event`` for flow control; waits only when cleared.

    ``pass_once`` lets the next ``wait`` through without setting the flag (nobody else wakes).
    """

    __slots__ = ("_is_set", "_pass", "_waiters")

    def __init__(self) -> None:
        self._is_set = True
        self._pass = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def pass_once(self) -> None:
        self._pass = True

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        self._is_set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._is_set = False

    async def wait(self) -> bool:
        if self._is_set or self._pass:
            self._pass = False
            return True  # without suspending: a send to a writable socket completes at once
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        await waiter
        return True


class LeanWebSocketsProtocol(WebSocketsSansIOProtocol):
    """``websockets-sansio`` holding less per connection (module doc), and less for a client
    that stops reading: a bounded kernel send buffer, and a close that does not wait for it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # none when the handshake was refused
        if scope is not None:
            scope["extensions"][IN_PLACE_SEND] = {}

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):  # a transport without a socket
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.close" and self.handshake_complete:
            # A client that stopped reading would keep the close waiting (the transport is
            # paused) until it reads again: put the close frame behind what it has not read.
            self.writable.pass_once()  # type: ignore[attr-defined]
        await super().send(message)
        if message["type"] == "websocket.accept":
            # The handshake is answered: nothing reads these again.
            self.request = self.response = None  # type: ignore[assignment]
