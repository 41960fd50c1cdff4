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

Several processes (``--redis-url``, ``--channel``, ``--reuse-port``): K processes share one port
(``SO_REUSEPORT``: the kernel spreads connections over them) and one Redis pub/sub channel;
``/broadcast`` on whichever process gets it publishes the message to Redis, and every process
broadcasts what it hears to its own viewers. That is the least a deployment of K processes
does to fan out, the baseline ``fanout.py --workers K`` compares ``serve --workers K`` with.

Run: ``python bench/broadcast_server.py --port 8765 [--host 127.0.0.1] [--snapshot-bytes N]
[--redis-url redis://... --channel NAME --reuse-port]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
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
    def __init__(self, snapshot_bytes: int, redis: Any = None, channel: str = "") -> None:
        self.snapshot_bytes = snapshot_bytes
        self.snapshot = message_of_size("snapshot", 0, snapshot_bytes)
        self.redis, self.channel = redis, channel
        self.server: Any = None
        self.publishing: set[asyncio.Task[Any]] = set()

    def deliver(self, seq: int, text: str) -> tuple[int, float]:
        """Broadcast ``text`` to this process's viewers; (viewers, milliseconds it took)."""
        started = time.perf_counter()
        viewers = self.server.connections if self.server is not None else set()
        broadcast(viewers, text)
        self.snapshot = message_of_size("snapshot", seq, self.snapshot_bytes)
        return len(viewers), (time.perf_counter() - started) * 1000

    async def listen(self) -> None:
        """Across processes: broadcast every message heard on the Redis channel."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        async for message in pubsub.listen():
            if message["type"] == "message":
                seq, _, text = message["data"].decode().partition(" ")
                self.deliver(int(seq), text)

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
            text = message_of_size("slot.live", seq, size)
            if self.redis is not None:  # every process, this one too, hears it from Redis
                publishing = asyncio.get_running_loop().create_task(
                    self.redis.publish(self.channel, f"{seq} {text}")
                )
                self.publishing.add(publishing)  # a strong reference until it is done
                publishing.add_done_callback(self.publishing.discard)
                return connection.respond(HTTPStatus.OK, "0 0.000\n")
            viewers, elapsed_ms = self.deliver(seq, text)
            return connection.respond(HTTPStatus.OK, f"{viewers} {elapsed_ms:.3f}\n")
        return None


async def run(args: argparse.Namespace) -> None:
    redis = None
    if args.redis_url:
        from redis.asyncio import Redis

        redis = Redis.from_url(args.redis_url)
    baseline = Baseline(args.snapshot_bytes, redis, args.channel)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.cancel)
    async with serve(
        baseline.viewer,
        args.host,
        args.port,
        process_request=baseline.http,
        compression=None,
        max_size=64 * 1024,
        backlog=2048,
        reuse_port=args.reuse_port,
    ) as server:
        baseline.server = server
        listener = asyncio.create_task(baseline.listen()) if redis is not None else None
        with contextlib.suppress(asyncio.CancelledError):
            await stop
        if listener is not None:
            listener.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--snapshot-bytes", type=int, default=2048)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--channel", default="broadcast-baseline")
    parser.add_argument("--reuse-port", action="store_true")
    parser.add_argument("--processes", type=int, default=1, help="K server processes (Redis)")
    args = parser.parse_args()
    if args.processes > 1:
        sys.exit(run_processes(args.processes))
    asyncio.run(run(args))


def run_processes(count: int) -> int:
    """K copies of this server, each with ``--processes 1``, as children of this process (so
    that a benchmark reads their memory as one tree); SIGTERM stops them all."""
    argv = [a for a in sys.argv[1:] if not a.startswith("--processes")]
    if "--processes" in sys.argv:
        index = sys.argv.index("--processes")
        argv = sys.argv[1:index] + sys.argv[index + 2 :]
    children = [
        subprocess.Popen([sys.executable, __file__, *argv, "--reuse-port"]) for _ in range(count)
    ]

    def stop(signum: int, frame: object) -> None:
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return max(child.wait() for child in children)


if __name__ == "__main__":
    main()
