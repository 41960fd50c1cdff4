"""An HTTP/1.1 load client light enough not to be the bottleneck on a 2-CPU machine.

httpx costs about as much CPU per request as the server it measures, so ``http_servers.py``
uses this instead: K worker processes (``_workers.py``), each with C keep-alive connections as plain
``asyncio.Protocol``s that send prepared request bytes one after another
and read each response by its ``Content-Length``. Every response's status is counted and its
latency kept. A worker measures for the given number of seconds, then reports; the parent adds
the workers' own CPU time (``/proc/<pid>/stat``) so the report can show the client's share.

The parent side is :class:`HttpLoad`; ``worker_main`` is what each worker process runs.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from _workers import STOP_TIMEOUT_S, PipeWorker, start_workers, stop_workers

REPLY_SLACK_S = 60.0


def request_bytes(
    method: str, path: str, port: int, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """One HTTP/1.1 request, keep-alive, as it goes on the wire."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PATCH", "PUT"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Connection(asyncio.Protocol):
    """Sends its requests in turn, one at a time, until ``deadline``; records every answer."""

    def __init__(self, requests: Sequence[bytes], deadline: float, tally: _Tally) -> None:
        self.requests, self.deadline, self.tally = requests, deadline, tally
        self.index = 0
        self.buffer = b""
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        if time.monotonic() >= self.deadline:
            self.transport.close()
            return
        self.sent_at = time.perf_counter()
        self.transport.write(self.requests[self.index % len(self.requests)])
        self.index += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (head_end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:head_end].decode("latin-1").split("\r\n")
            status = int(head[0].split(" ", 2)[1])
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding":
                    self.tally.statuses["chunked (not read)"] += 1
                    self._fail()
                    return
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            self.buffer = self.buffer[end:]
            self.tally.record(status, time.perf_counter() - self.sent_at)
            self._send()

    def _fail(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if time.monotonic() < self.deadline:
            self.tally.statuses["connection lost"] += 1
        if not self.done.done():
            self.done.set_result(None)


@dataclass(slots=True)
class _Tally:
    statuses: Counter[int | str]
    latencies: list[float]

    def record(self, status: int, seconds: float) -> None:
        self.statuses[status] += 1
        self.latencies.append(seconds)


class Worker(PipeWorker):
    def handlers(self) -> dict[str, Callable[..., Awaitable[Any]]]:
        return {"run": self.run}

    async def close(self) -> None:
        return None

    async def run(
        self, port: int, requests: list[bytes], connections: int, seconds: float
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        tally = _Tally(Counter(), [])
        deadline = time.monotonic() + seconds
        protocols: list[_Connection] = []
        for _ in range(connections):
            try:
                _, protocol = await loop.create_connection(
                    lambda: _Connection(requests, deadline, tally), "127.0.0.1", port
                )
                protocols.append(protocol)
            except OSError as error:
                tally.statuses[type(error).__name__] += 1
        started = time.monotonic()
        if protocols:
            await asyncio.wait([p.done for p in protocols], timeout=seconds + REPLY_SLACK_S)
        for protocol in protocols:
            protocol._fail()
        return {
            "statuses": dict(tally.statuses),
            "latencies": tally.latencies,
            "seconds": time.monotonic() - started,
        }


def worker_main(pipe: Connection) -> None:
    # The stock asyncio loop: uvloop's ``add_reader`` makes the pipe non-blocking, and a phase's
    # reply (every latency) is larger than a pipe holds at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(Worker(pipe).serve())


@dataclass(frozen=True, slots=True)
class Phase:
    """What the workers measured together in one phase."""

    statuses: Counter[int | str]
    latencies: list[float]
    seconds: float

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


class HttpLoad:
    """``processes`` worker processes; a phase's connections are split evenly between them."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._workers: list[Any] = []
        self._pipes: list[Connection] = []
        self._replies: list[asyncio.Future[Any]] = []

    async def __aenter__(self) -> HttpLoad:
        self._workers, self._pipes = start_workers(
            worker_main, "http-load", self.processes, self._on_message
        )
        self._replies = [asyncio.get_running_loop().create_future() for _ in self._pipes]
        return self

    async def __aexit__(self, *exc: object) -> None:
        stop_workers(self._workers, self._pipes, STOP_TIMEOUT_S)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._workers if p.pid is not None]

    def _on_message(self, index: int) -> None:
        try:
            message = self._pipes[index].recv()
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self._pipes[index].fileno())
            message = ("error", "run", "the worker process exited")
        reply = self._replies[index]
        if reply.done():
            return
        if message[0] == "reply":
            reply.set_result(message[2])
        else:
            reply.set_exception(RuntimeError(f"http-load-{index}: {message[2]}"))

    async def phase(
        self, port: int, requests: list[bytes], connections: int, seconds: float
    ) -> Phase:
        """Every worker sends ``requests`` in turn on its share of ``connections`` for
        ``seconds``; returns what they measured together."""
        loop = asyncio.get_running_loop()
        share, extra = divmod(connections, self.processes)
        asked = []
        for index, pipe in enumerate(self._pipes):
            count = share + (1 if index < extra else 0)
            if count:
                self._replies[index] = loop.create_future()
                pipe.send(("run", port, requests, count, seconds))
                asked.append(self._replies[index])
        async with asyncio.timeout(seconds + REPLY_SLACK_S):
            replies = await asyncio.gather(*asked)
        statuses: Counter[int | str] = Counter()
        latencies: list[float] = []
        for reply in replies:
            statuses.update(reply["statuses"])
            latencies += reply["latencies"]
        return Phase(statuses, latencies, max(r["seconds"] for r in replies))
