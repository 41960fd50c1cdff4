"""The baseline for ``fanout.py``: the least a Python WebSocket server can do to fan a message out.

``websockets.asyncio.server.serve`` with ``websockets.broadcast()``: no framework, no database,
no per-viewer task or queue; one frame is written straight into every connection's transport.
That is the floor for one process on this machine, so ``fanout.py`` reports our server's
delivery time as a ratio to it.

Every viewer gets a "snapshot" of ``--snapshot-bytes`` on connect (with the last broadcast
``seq``), then whatever is broadcast.
Plain HTTP on the same port (answered from ``process_request``, before any upgrade):

- ``GET /healthz`` answers 200;
- ``GET /broadcast?seq=N&bytes=B`` broadcasts one text message of exactly B bytes with
  ``"seq": N`` to every open viewer, then answers 200 with the number of viewers and the
  milliseconds the ``broadcast()`` call itself took (``"5000 61.250"``).

Per-message deflate is off, as in ``takeamoment serve``.

Run: ``python bench/broadcast_server.py --port 8765 [--host 127.0.0.1] [--snapshot-bytes N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response

MAX_MESSAGE_BYTES = 1024 * 1024


def message_of_size(kind: str, seq: int, size: int) -> str:
    """A JSON object shaped like ours (type, seq, event, at, slot) padded to ``size`` bytes."""
    body = {
        "type": kind,
        "seq": seq,
        "event": "fanout",
        "at": datetime.now(UTC).isoformat(),
        "slot": {"pad": ""},
    }
    bare = len(json.dumps(body, separators=(",", ":")))
    body["slot"] = {"pad": "x" * max(0, size - bare)}
    return json.dumps(body, separators=(",", ":"))


class Baseline:
    def __init__(self, snapshot_bytes: int) -> None:
        self.snapshot_bytes = snapshot_bytes
        self.snapshot = message_of_size("snapshot", 0, snapshot_bytes)

    async def viewer(self, connection: ServerConnection) -> None:
        """Send the snapshot, then hold the connection (ignoring input) until it closes."""
        await connection.send(self.snapshot)
        async for _ in connection:
            pass

    def http(self, connection: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP requests; ``None`` lets a WebSocket handshake through."""
        url = urlsplit(request.path)
        if url.path == "/healthz":
            return connection.respond(HTTPStatus.OK, "ok\n")
        if url.path == "/broadcast":
            query = parse_qs(url.query)
            seq = int(query.get("seq", ["1"])[0])
            size = min(int(query.get("bytes", ["512"])[0]), MAX_MESSAGE_BYTES)
            started = time.perf_counter()
            viewers = connection.server.connections
            broadcast(viewers, message_of_size("slot.live", seq, size))
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.snapshot = message_of_size("snapshot", seq, self.snapshot_bytes)
            return connection.respond(HTTPStatus.OK, f"{len(viewers)} {elapsed_ms:.3f}\n")
        return None


async def run(host: str, port: int, snapshot_bytes: int) -> None:
    baseline = Baseline(snapshot_bytes)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.cancel)
    async with serve(
        baseline.viewer,
        host,
        port,
        process_request=baseline.http,
        compression=None,
        max_size=64 * 1024,
        backlog=2048,
    ):
        with contextlib.suppress(asyncio.CancelledError):
            await stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--snapshot-bytes", type=int, default=2048)
    args = parser.parse_args()
    asyncio.run(run(args.host, args.port, args.snapshot_bytes))


if __name__ == "__main__":
    main()
