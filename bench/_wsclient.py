"""One WebSocket client connection as a plain ``asyncio.Protocol``, for the load clients.

``loadclient.py`` (viewers) and ``inboxes.py`` (people's ``/ws/me``) hold thousands of these in
a worker process: no task per connection, the ``websockets`` Sans-I/O client drives the
protocol. :class:`TextClient` does the handshake, answers pings and closes, reassembles
fragmented text messages and hands each whole one to ``on_text(text, now)``, where ``now`` is
``clock()`` read first thing in ``data_received``: the moment the bytes reached the process,
before anything is parsed. A subclass says what a message, the handshake's answer and the
connection's end mean.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import WebSocketURI

CLOSE_TIMEOUT_S = 5.0


class TextClient(asyncio.Protocol):
    """A WebSocket client connection; ``closed`` resolves once the socket is gone."""

    def __init__(self, uri: WebSocketURI, clock: Callable[[], int]) -> None:
        self.clock = clock
        self.ws = ClientProtocol(uri, max_size=None)
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.text = b""
        self.leaving = False

    # --- what a subclass says ---

    def on_text(self, text: bytes, now: int) -> None:
        """A whole text message, received at ``now`` (``clock()``)."""
        raise NotImplementedError

    def on_response(self) -> None:
        """The handshake's answer is in: ``ws.handshake_exc`` says whether it failed."""
        raise NotImplementedError

    def on_lost(self, exc: Exception | None) -> None:
        """The socket is gone (``exc`` is None on a clean close); ``closed`` is already set."""
        raise NotImplementedError

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = self.clock()  # first: parsing must not count in the measured time
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                self._frame(event, now)
            elif isinstance(event, Response):
                self.on_response()
        self._flush()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self.on_lost(exc)

    # --- closing ---

    def leave(self) -> None:
        """Start a clean close: a close frame now, the socket once the server answers."""
        self.leaving = True
        if self.transport is None or self.transport.is_closing():
            return
        with contextlib.suppress(Exception):
            self.ws.send_close(1000)
            self._flush()

    def abort(self) -> None:
        self.leaving = True
        if self.transport is not None:
            self.transport.abort()

    # --- inside ---

    def _frame(self, frame: Frame, now: int) -> None:
        if frame.opcode is Opcode.TEXT:
            self.text = bytes(frame.data)
        elif frame.opcode is Opcode.CONT:
            self.text += frame.data
        else:
            return  # ping, pong, close: the protocol answers those itself
        if frame.fin:
            text, self.text = self.text, b""
            self.on_text(text, now)

    def _flush(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()  # an empty chunk means: half-close now
        if self.ws.close_expected():
            asyncio.get_running_loop().call_later(CLOSE_TIMEOUT_S, self.abort)
