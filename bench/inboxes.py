"""Many people's ``/ws/me`` connections in a few worker processes, timing every notification.

Each person has their own URL (``/ws/me?token=...``), so this is not the viewer load client of
``loadclient.py`` (one URL for everyone). A worker process runs one asyncio loop with plain
``asyncio.Protocol`` connections driven by the ``websockets`` Sans-I/O client: no task per
connection, and a message is timestamped with ``time.time_ns()`` in ``data_received``, the moment
its bytes reach the worker, before anything is parsed. ``time.time_ns()`` is the wall clock, so
it can be compared with the server's ``due_at`` and ``at`` (UTC ISO strings) and across
processes.

For every notification the worker keeps a :class:`Receipt` (when, kind, seq, id, due_at, at,
slot). The parent (:class:`InboxPool`) asks for counts while it waits (``status``) and for every
receipt at the end (``collect``).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from _workers import STOP_TIMEOUT_S, PipeWorker, start_workers, stop_workers
from _wsclient import CLOSE_TIMEOUT_S, TextClient
from websockets.protocol import State
from websockets.uri import WebSocketURI, parse_uri

OPEN_ATTEMPTS = 3
OPEN_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 60.0


class InboxError(RuntimeError):
    """A worker process died, failed a command or did not answer in time."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """One notification as a person received it; ``received_ns`` is ``time.time_ns()``."""

    received_ns: int
    kind: str
    seq: int
    id: str
    due_at: str
    at: str
    slot_id: str
    minutes_before: int | None


def parse_receipt(received_ns: int, text: bytes) -> Receipt | None:
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") != "notification":
        return None
    slot = message.get("slot") or {}
    return Receipt(
        received_ns=received_ns,
        kind=str(message.get("kind")),
        seq=int(message.get("seq") or 0),
        id=str(message.get("id")),
        due_at=str(message.get("due_at")),
        at=str(message.get("at")),
        slot_id=str(slot.get("id")) if isinstance(slot, dict) else "",
        minutes_before=message.get("minutes_before"),
    )


# --- inside a worker process ------------------------------------------------------------------


class Inbox(TextClient):
    """One person's ``/ws/me``: the handshake, then a receipt for every notification."""

    def __init__(self, shard: Shard, person: str, uri: WebSocketURI) -> None:
        super().__init__(uri, time.time_ns)
        self.shard = shard
        self.person = person
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_response(self) -> None:
        if self.ws.handshake_exc is not None:
            self._fail(self.ws.handshake_exc)
        elif self.ws.state is State.OPEN and not self.opened.done():
            self.opened.set_result(None)

    def on_text(self, text: bytes, now: int) -> None:
        receipt = parse_receipt(now, text)
        if receipt is not None:
            self.shard.receipts[self.person].append(receipt)

    def on_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("closed during the handshake"))
        self.shard.lost(self)

    def _fail(self, exc: BaseException) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
            self.opened.exception()  # retrieved: never "exception was never retrieved"


@dataclass(slots=True)
class Shard:
    """A worker's open inboxes and every receipt, by person."""

    inboxes: set[Inbox] = field(default_factory=set)
    receipts: dict[str, list[Receipt]] = field(default_factory=lambda: defaultdict(list))
    lost_people: list[str] = field(default_factory=list)

    def lost(self, inbox: Inbox) -> None:
        if inbox in self.inboxes:
            self.inboxes.discard(inbox)
            if not inbox.leaving:
                self.lost_people.append(inbox.person)


class Worker(PipeWorker):
    """Runs the parent's commands on this process's event loop."""

    def __init__(self, pipe: Connection) -> None:
        super().__init__(pipe)
        self.shard = Shard()

    def handlers(self) -> dict[str, Callable[..., Awaitable[Any]]]:
        return {"connect": self.connect, "status": self.status, "collect": self.collect}

    async def connect(self, people: Sequence[tuple[str, str]], concurrency: int) -> dict[str, Any]:
        """Open one inbox per (person, url), ``concurrency`` handshakes at a time."""
        gate = asyncio.Semaphore(concurrency)
        errors: Counter[str] = Counter()

        async def one(person: str, url: str) -> bool:
            async with gate:
                return await self._open(person, parse_uri(url), errors)

        opened = await asyncio.gather(*(one(person, url) for person, url in people))
        return {"opened": sum(opened), "failed": len(opened) - sum(opened), "errors": errors}

    async def _open(self, person: str, uri: WebSocketURI, errors: Counter[str]) -> bool:
        loop = asyncio.get_running_loop()
        for attempt in range(OPEN_ATTEMPTS):
            inbox: Inbox | None = None
            try:
                _, inbox = await loop.create_connection(
                    lambda: Inbox(self.shard, person, uri), uri.host, uri.port
                )
                await asyncio.wait_for(asyncio.shield(inbox.opened), OPEN_TIMEOUT_S)
                self.shard.inboxes.add(inbox)
                return True
            except Exception as error:  # refused, reset, timed out, handshake refused: retry
                errors[type(error).__name__] += 1
                if inbox is not None:
                    inbox.abort()
                await asyncio.sleep(0.2 * (attempt + 1))
        return False

    async def status(self) -> dict[str, Any]:
        """How many people have at least one notification of each kind, and who was lost."""
        people_with: Counter[str] = Counter()
        for receipts in self.shard.receipts.values():
            people_with.update({r.kind for r in receipts})
        return {
            "open": len(self.shard.inboxes),
            "lost": list(self.shard.lost_people),
            "people_with": people_with,
            "latest_ns": max(
                (r.received_ns for rs in self.shard.receipts.values() for r in rs), default=0
            ),
        }

    async def collect(self) -> dict[str, list[Receipt]]:
        return dict(self.shard.receipts)

    async def close(self) -> None:
        inboxes = list(self.shard.inboxes)
        for inbox in inboxes:
            inbox.leave()
        if inboxes:
            await asyncio.wait([inbox.closed for inbox in inboxes], timeout=CLOSE_TIMEOUT_S)
        for inbox in inboxes:
            if not inbox.closed.done():
                inbox.abort()


def worker_main(pipe: Connection) -> None:
    """Entry point of a worker process; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(Worker(pipe).serve())


# --- in the parent ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    open: int
    lost: list[str]
    people_with: Counter[str]
    latest_ns: int


class InboxPool:
    """``processes`` worker processes; the people are dealt out between them in turn."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._workers: list[multiprocessing.process.BaseProcess] = []
        self._pipes: list[Connection] = []
        self._replies: list[asyncio.Future[Any] | None] = []

    async def __aenter__(self) -> InboxPool:
        self._workers, self._pipes = start_workers(
            worker_main, "inboxes", self.processes, self._on_message
        )
        self._replies = [None] * self.processes
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker: ask, then terminate, then kill. Safe to call twice."""
        stop_workers(self._workers, self._pipes, STOP_TIMEOUT_S + CLOSE_TIMEOUT_S)
        self._workers, self._pipes = [], []

    def _on_message(self, index: int) -> None:
        pipe = self._pipes[index]
        try:
            while pipe.poll():
                self._settle(index, pipe.recv())
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(pipe.fileno())
            self._settle(index, ("error", "", f"worker process inboxes-{index} exited"))

    def _settle(self, index: int, message: tuple[str, str, Any]) -> None:
        future, self._replies[index] = self._replies[index], None
        if future is None or future.done():
            return
        kind, name, value = message
        if kind == "reply":
            future.set_result(value)
        else:
            where = f"inboxes-{index}: {name}" if name else f"inboxes-{index}"
            future.set_exception(InboxError(f"{where}: {value}"))

    async def _ask(self, index: int, *command: Any) -> Any:
        """Send a command and wait for its answer; no time limit of its own."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._replies[index] = future
        self._pipes[index].send(command)
        return await future

    async def _ask_all(self, *command: Any) -> list[Any]:
        asks = (self._ask(i, *command) for i in range(self.processes))
        try:
            async with asyncio.timeout(REPLY_TIMEOUT_S):
                return list(await asyncio.gather(*asks))
        except TimeoutError as error:
            raise InboxError(f"the client processes did not answer {command[0]!r}") from error

    async def connect(
        self, people: Sequence[tuple[str, str]], concurrency: int
    ) -> tuple[int, Counter[str]]:
        """Open every (person, url): how many opened, and the errors met on the way.

        No time limit of its own: the caller bounds it (``asyncio.timeout``).
        """
        shares = [people[i :: self.processes] for i in range(self.processes)]
        replies = await asyncio.gather(
            *(self._ask(i, "connect", share, concurrency) for i, share in enumerate(shares))
        )
        errors = sum((r["errors"] for r in replies), Counter[str]())
        return sum(r["opened"] for r in replies), errors

    async def status(self) -> Status:
        replies = await self._ask_all("status")
        return Status(
            open=sum(r["open"] for r in replies),
            lost=[person for r in replies for person in r["lost"]],
            people_with=sum((r["people_with"] for r in replies), Counter[str]()),
            latest_ns=max(r["latest_ns"] for r in replies),
        )

    async def collect(self) -> dict[str, list[Receipt]]:
        receipts: dict[str, list[Receipt]] = {}
        for reply in await self._ask_all("collect"):
            receipts.update(reply)
        return receipts
