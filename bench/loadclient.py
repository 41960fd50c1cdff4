"""Many WebSocket viewers in a few worker processes, timing every message each one receives.

One Python process cannot read 10,000 sockets quickly enough to measure a server: the client
would be the bottleneck. So the viewers are spread over ``k`` worker processes, each running
one asyncio loop with plain ``asyncio.Protocol`` connections driven by the ``websockets``
Sans-I/O client (no task per connection). A message is timestamped with ``time.monotonic_ns()``
the moment its bytes reach the worker; on Linux that clock (``CLOCK_MONOTONIC``) is one clock
for the whole system, so times taken in different processes can be subtracted.

The first text message a viewer receives is its starting point (a snapshot); it counts as
"connected" only then. Every later message is recorded by its ``seq`` (read from the message's
JSON). When every open viewer of a worker has a ``seq``, the worker tells the parent at
once, with the latest receive time, so the parent can wait for "all viewers have it" without
polling.

The parent side is :class:`ViewerPool`; ``worker_main`` is what each worker process runs.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import signal
import socket
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from _workers import STOP_TIMEOUT_S, PipeWorker, start_workers, stop_workers
from _wsclient import CLOSE_TIMEOUT_S, TextClient
from websockets.uri import WebSocketURI, parse_uri

OPEN_ATTEMPTS = 3
OPEN_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 60.0  # collecting receipts, closing viewers
SLOW_RCVBUF = 4096  # bytes: a slow viewer's receive buffer
RELEASE_WAIT_S = 15.0  # for the released slow viewers to read their close frames


class LoadClientError(RuntimeError):
    """A worker process died or did not answer in time."""


# --- inside a worker process ------------------------------------------------------------------


def seq_of(message: bytes) -> int:
    """The message's top-level ``seq`` (-1 when it has none)."""
    try:
        seq = json.loads(message).get("seq", -1)
    except (ValueError, AttributeError):
        return -1
    return seq if isinstance(seq, int) else -1


class Viewer(TextClient):
    """One WebSocket connection: handshake, then timestamp every text message as it arrives."""

    def __init__(self, shard: Shard, uri: WebSocketURI, slow: bool = False) -> None:
        super().__init__(uri, time.monotonic_ns)
        self.shard = shard
        # A slow viewer stops reading once it has its starting point (a client that hangs).
        self.slow = slow
        self.started: asyncio.Future[tuple[int, int]] = (  # (seq, bytes)
            asyncio.get_running_loop().create_future()
        )
        self.size = 0

    def on_response(self) -> None:
        if self.ws.handshake_exc is not None:
            self._fail(self.ws.handshake_exc)

    def on_text(self, text: bytes, now: int) -> None:
        seq, self.size = seq_of(text), len(text)
        if not self.started.done():
            self.started.set_result((seq, self.size))
            if self.slow and self.transport is not None:
                self.transport.pause_reading()
        elif not self.slow:
            self.shard.received(seq, now, self.size)

    def on_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("closed before the first message"))
        if not self.slow:
            self.shard.lost(self)

    def close_code(self) -> str:
        """How the server closed this connection: its close code, or "open"."""
        received = self.ws.close_rcvd
        if received is not None:
            return str(received.code)
        return "closed without a code" if self.closed.done() else "open"

    def _fail(self, exc: BaseException) -> None:
        if not self.started.done():
            self.started.set_exception(exc)
            self.started.exception()  # retrieved: never "exception was never retrieved"


@dataclass(slots=True)
class Shard:
    """A worker's viewers and what they received: per seq, one receive time per viewer."""

    pipe: Connection
    viewers: set[Viewer] = field(default_factory=set)
    slow: list[Viewer] = field(default_factory=list)
    times: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    sizes: dict[int, int] = field(default_factory=dict)
    complete: set[int] = field(default_factory=set)
    lost_count: int = 0

    def received(self, seq: int, now: int, size: int) -> None:
        times = self.times[seq]
        times.append(now)
        self.sizes.setdefault(seq, size)
        self._check(seq)

    def lost(self, viewer: Viewer) -> None:
        if viewer in self.viewers:
            self.viewers.discard(viewer)
            if not viewer.leaving:
                self.lost_count += 1
                for seq in list(self.times):  # fewer viewers: some seq may now be complete
                    self._check(seq)

    def _check(self, seq: int) -> None:
        times = self.times[seq]
        if seq not in self.complete and len(times) >= len(self.viewers):
            self.complete.add(seq)
            size = self.sizes.get(seq, 0)
            self.pipe.send(("all", seq, max(times), len(times), self.lost_count, size))

    def reset(self) -> None:
        self.viewers.clear()
        self.slow.clear()
        self.times.clear()
        self.sizes.clear()
        self.complete.clear()
        self.lost_count = 0


class Worker(PipeWorker):
    """Runs the parent's commands on this process's event loop."""

    def __init__(self, pipe: Connection) -> None:
        super().__init__(pipe)
        self.shard = Shard(pipe)

    def handlers(self) -> dict[str, Callable[..., Awaitable[Any]]]:
        return {
            "connect": self.connect,
            "collect": self.collect,
            "leave": self.leave,
            "release": self.release,
        }

    async def close(self) -> None:
        await self._drop_all()

    async def connect(
        self, url: str, count: int, sources: Sequence[str | None], concurrency: int, slow: int = 0
    ) -> dict[str, Any]:
        """Open ``count`` viewers, at most ``concurrency`` handshakes at a time; the first
        ``slow`` of them stop reading once they have their starting point."""
        uri = parse_uri(url)
        gate = asyncio.Semaphore(concurrency)
        errors: Counter[str] = Counter()
        started = time.monotonic()

        async def one(index: int) -> tuple[int, int] | None:
            async with gate:
                return await self._open(uri, sources[index % len(sources)], errors, index < slow)

        results = await asyncio.gather(*(one(i) for i in range(count)))
        opened = [r for r in results if r is not None]
        return {
            "opened": len(opened),
            "failed": count - len(opened),
            "start_seqs": Counter(seq for seq, _ in opened),
            "start_bytes": max((size for _, size in opened), default=0),
            "seconds": time.monotonic() - started,
            "errors": errors,
        }

    async def _open(
        self, uri: WebSocketURI, source: str | None, errors: Counter[str], slow: bool = False
    ) -> tuple[int, int] | None:
        loop = asyncio.get_running_loop()
        local = (source, 0) if source else None
        for attempt in range(OPEN_ATTEMPTS):
            viewer: Viewer | None = None
            try:
                if slow:
                    viewer = await self._open_slow(uri, source)
                else:
                    _, viewer = await loop.create_connection(
                        lambda: Viewer(self.shard, uri), uri.host, uri.port, local_addr=local
                    )
                started = await asyncio.wait_for(asyncio.shield(viewer.started), OPEN_TIMEOUT_S)
                if slow:
                    self.shard.slow.append(viewer)
                else:
                    self.shard.viewers.add(viewer)  # counted once it has its starting point
                return started
            except Exception as error:  # refused, reset, timed out, handshake refused: retry
                errors[type(error).__name__] += 1
                if viewer is not None:
                    viewer.abort()
                await asyncio.sleep(0.2 * (attempt + 1))
        return None

    async def _open_slow(self, uri: WebSocketURI, source: str | None) -> Viewer:
        """A viewer whose socket takes little before the server must hold on to the rest
        (a small receive buffer: no autotuning), as a phone that lost its network would."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
            sock.setblocking(False)
            if source:
                sock.bind((source, 0))
            await loop.sock_connect(sock, (uri.host, uri.port))
        except OSError:
            sock.close()
            raise
        _, viewer = await loop.create_connection(
            lambda: Viewer(self.shard, uri, slow=True), sock=sock
        )
        return viewer

    async def release(self) -> dict[str, Any]:
        """Let the slow viewers read again; how the server had closed each (code or "open")."""
        for viewer in self.shard.slow:
            if viewer.transport is not None and not viewer.transport.is_closing():
                viewer.transport.resume_reading()
        waits = [viewer.closed for viewer in self.shard.slow if not viewer.closed.done()]
        if waits:
            await asyncio.wait(waits, timeout=RELEASE_WAIT_S)
        return {"codes": Counter(viewer.close_code() for viewer in self.shard.slow)}

    async def collect(self) -> dict[str, Any]:
        shard = self.shard
        return {
            "times": dict(shard.times),
            "sizes": dict(shard.sizes),
            "open": len(shard.viewers),
            "lost": shard.lost_count,
        }

    async def leave(self) -> dict[str, Any]:
        """Close every viewer cleanly (aborting the stragglers) and forget what was recorded."""
        count = len(self.shard.viewers)
        await self._drop_all()
        self.shard.reset()
        return {"closed": count}

    async def _drop_all(self) -> None:
        viewers = [*self.shard.viewers, *self.shard.slow]
        for viewer in viewers:
            viewer.leave()
        waits = [viewer.closed for viewer in viewers]
        if waits:
            await asyncio.wait(waits, timeout=CLOSE_TIMEOUT_S)
        for viewer in viewers:
            if not viewer.closed.done():
                viewer.abort()


def worker_main(pipe: Connection) -> None:
    """Entry point of a worker process; Ctrl-C is the parent's to handle, not ours."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(Worker(pipe).serve())


# --- in the parent ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    opened: int
    failed: int
    start_seqs: Counter[int]
    start_bytes: int
    seconds: float
    errors: Counter[str]


@dataclass(frozen=True, slots=True)
class Received:
    """What the viewers received after their starting point: per seq, every receive time."""

    times: dict[int, list[int]]
    sizes: dict[int, int]
    open: int
    lost: int


class ViewerPool:
    """``processes`` worker processes; viewers are split evenly between them."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._workers: list[multiprocessing.process.BaseProcess] = []
        self._pipes: list[Connection] = []
        self._replies: list[asyncio.Future[Any] | None] = []
        self._complete: dict[tuple[int, int], asyncio.Future[tuple[int, int, int]]] = {}
        self._assigned: list[int] = []

    async def __aenter__(self) -> ViewerPool:
        self._workers, self._pipes = start_workers(
            worker_main, "viewers", self.processes, self._on_message
        )
        self._replies = [None] * self.processes
        self._assigned = [0] * self.processes
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._workers if p.pid is not None]

    def close(self) -> None:
        """Stop every worker: ask, then terminate, then kill. Safe to call twice."""
        stop_workers(self._workers, self._pipes, STOP_TIMEOUT_S)
        self._workers, self._pipes = [], []

    def _on_message(self, index: int) -> None:
        pipe = self._pipes[index]
        try:
            while pipe.poll():
                self._dispatch(index, pipe.recv())
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(pipe.fileno())
            self._worker_died(index)

    def _dispatch(self, index: int, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "all":
            _, seq, latest, _, lost, size = message
            completion = self._completion(index, seq)
            if not completion.done():
                completion.set_result((latest, lost, size))
            return
        reply = self._replies[index]
        self._replies[index] = None
        if reply is None or reply.done():
            return
        if kind == "reply":
            reply.set_result(message[2])
        else:
            reply.set_exception(LoadClientError(f"viewers-{index} {message[1]}: {message[2]}"))

    def _worker_died(self, index: int) -> None:
        error = LoadClientError(f"worker process viewers-{index} exited")
        future = self._replies[index]
        if future is not None and not future.done():
            future.set_exception(error)
        for (worker, _), waiting in self._complete.items():
            if worker == index and not waiting.done():
                waiting.set_exception(error)

    def _completion(self, index: int, seq: int) -> asyncio.Future[tuple[int, int, int]]:
        key = (index, seq)
        if key not in self._complete:
            self._complete[key] = asyncio.get_running_loop().create_future()
        return self._complete[key]

    async def _ask(self, index: int, *command: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._replies[index] = future
        self._pipes[index].send(command)
        return await future

    async def _ask_all(self, *command: Any, busy_only: bool = False) -> list[Any]:
        indexes = [i for i in range(self.processes) if self._assigned[i] or not busy_only]
        async with asyncio.timeout(REPLY_TIMEOUT_S):
            return list(await asyncio.gather(*(self._ask(i, *command) for i in indexes)))

    async def connect(
        self, url: str, count: int, sources: Sequence[str | None], concurrency: int, slow: int = 0
    ) -> Connected:
        """Open ``count`` viewers of ``url`` and wait until each has its starting message.

        No time limit of its own: the caller bounds it (``asyncio.timeout``).
        """
        share, extra = divmod(count, self.processes)
        self._assigned = [share + (1 if i < extra else 0) for i in range(self.processes)]
        slow_share, slow_extra = divmod(slow, self.processes)
        slows = [slow_share + (1 if i < slow_extra else 0) for i in range(self.processes)]
        self._complete.clear()
        replies = await asyncio.gather(
            *(
                self._ask(i, "connect", url, n, sources, concurrency, slows[i])
                for i, n in enumerate(self._assigned)
                if n
            )
        )
        return Connected(
            opened=sum(r["opened"] for r in replies),
            failed=sum(r["failed"] for r in replies),
            start_seqs=sum((r["start_seqs"] for r in replies), Counter()),
            start_bytes=max(r["start_bytes"] for r in replies),
            seconds=max(r["seconds"] for r in replies),
            errors=sum((r["errors"] for r in replies), Counter()),
        )

    async def all_received(self, seq: int) -> tuple[int, int, int]:
        """Wait until every open viewer has ``seq``.

        Returns the latest receive time (ns), how many viewers were lost so far, and the
        message's size in bytes.
        No time limit of its own: the caller bounds it (``asyncio.timeout``).
        """
        waits = [self._completion(i, seq) for i, n in enumerate(self._assigned) if n]
        results = await asyncio.gather(*waits)
        latest = max(result[0] for result in results)
        return latest, sum(result[1] for result in results), max(result[2] for result in results)

    async def collect(self) -> Received:
        replies = await self._ask_all("collect", busy_only=True)
        times: dict[int, list[int]] = defaultdict(list)
        sizes: dict[int, int] = {}
        for reply in replies:
            for seq, stamps in reply["times"].items():
                times[seq] += stamps
            sizes.update(reply["sizes"])
        return Received(
            dict(times),
            sizes,
            sum(r["open"] for r in replies),
            sum(r["lost"] for r in replies),
        )

    async def release(self) -> Counter[str]:
        """Let the slow viewers read again; how many the server had closed with each code."""
        replies = await self._ask_all("release", busy_only=True)
        return sum((Counter(r["codes"]) for r in replies), Counter())

    async def leave(self) -> int:
        """Close every viewer; returns how many were open."""
        replies = await self._ask_all("leave")
        self._assigned = [0] * self.processes
        self._complete.clear()
        return sum(r["closed"] for r in replies)
