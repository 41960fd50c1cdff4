"""Mixed load against two server processes on PostgreSQL and Redis, held for a stated duration.

What it does: starts two ``takeamoment serve`` processes on two ports, sharing one fresh
PostgreSQL database and Redis (``TAKEAMOMENT_REDIS_URL``, a bus channel of this run's own), and
seeds through the API one published event: 4 channels of 25 slots (100), 40 people, 20 of them
booked and confirmed. Then, for ``--duration`` seconds (60 by default), all at once:

- ``--viewers`` WebSocket viewers (``websockets`` client, in ``--viewer-processes`` separate
  processes so the HTTP load does not delay their clocks), half on each server, hold
  ``/ws/events/{slug}``: each counts its messages and checks that ``seq`` grows by exactly 1
  (a dropped connection is counted and resumed with ``?since=`` the last seq);
- ``--http-viewers`` HTTP viewers, each in a loop with ``--think-ms`` between requests,
  alternating servers, fetching in turn ``GET /api/events/{slug}/schedule``,
  ``GET /events/{slug}/calendar.ics`` without and with ``If-None-Match`` (the last ``ETag`` seen),
  a booked person's ``GET /feeds/{token}.ics``, and ``GET /healthz``;
- a host making one schedule change every ``--change-every`` seconds, alternating servers, in
  a cycle: rename a slot, move a slot (``PATCH`` of its times), delay a slot with cascade, go
  live, end, book a person, accept, remove the booking. After each change the host reads
  ``GET /api/events/{slug}/changes?since=N`` (untimed) to learn which ``seq`` it produced.
  Change-to-viewer latency = when a viewer received that ``seq`` minus the change's ``at``
  (taken by the server in the write transaction, just before the commit), both wall-clock times
  of this one machine. The report also gives it from the host's request going out and from the
  host's HTTP answer; the last is often negative: the server publishes after the commit, before
  it writes the HTTP response, so viewers usually have the change before the host has its answer.

The baseline, in the same run: ``GET /healthz`` (no database, no auth) is one of the HTTP
viewers' requests, so it is measured on the same servers under the same load; each request
kind's p50 is also given as a ratio to it. ``GET /healthz`` alone from the same clients for
``--baseline-seconds`` before the load starts shows what the load costs the bare HTTP path.

The servers run with ``TAKEAMOMENT_RATE_LIMIT_PER_MINUTE=0`` and
``TAKEAMOMENT_WS_MAX_PER_CLIENT=0``: all the load comes from 127.0.0.1, so per-client limits
would measure the limiter, not the service. The output says so.

Run: ``.venv/bin/python bench/load.py [--duration 60] [--viewers 200] [--http-viewers 8]``.
Progress goes to stderr; stdout gets Markdown tables and the command. The exit status is 0
only when there was no error (non-2xx/304 answer, exception, failed connection) and every
viewer saw every seq exactly once, in order, without a disconnect.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import platform
import random
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from _report import bounded, command_line, ms, percentile, run_main
from _server import PG_ADMIN_DSN, REDIS_URL, BenchError, Cluster, postgres_version, running_servers
from websockets.asyncio.client import connect

EVENT = "load"
DAY = datetime(2030, 10, 10, tzinfo=UTC)  # far ahead: nothing is ever "in the past"
CHANNELS = 4
SLOTS_PER_CHANNEL = 25
SLOT_MINUTES = 20
STEP_MINUTES = 30  # a 10-minute gap after every slot absorbs moves and delays
PEOPLE_BOOKED = 20
PEOPLE_SPARE = 20
SETUP_CONCURRENCY = 4

REQUEST_TIMEOUT_S = 30.0
CONNECT_CONCURRENCY = 32
DRAIN_TIMEOUT_S = 15.0  # after the last change, for every viewer to have it
PIPE_TIMEOUT_S = 120.0

HEALTHZ = "GET /healthz"
SCHEDULE = "GET /api/events/{slug}/schedule"
CALENDAR = "GET /events/{slug}/calendar.ics"
CALENDAR_INM = "GET /events/{slug}/calendar.ics + If-None-Match"
FEED = "GET /feeds/{token}.ics"
VIEWER_KINDS = (SCHEDULE, CALENDAR, CALENDAR_INM, FEED, HEALTHZ)
HOST_CALLS = {
    "rename": "PATCH /api/slots/{id} (title)",
    "move": "PATCH /api/slots/{id} (times)",
    "delay": "POST /api/slots/{id}/delay (cascade)",
    "live": "POST /api/slots/{id}/live",
    "end": "POST /api/slots/{id}/end",
    "book": "POST /api/slots/{id}/bookings",
    "accept": "POST /api/bookings/{id}/accept",
    "unbook": "DELETE /api/bookings/{id}",
}


def log(message: str) -> None:
    print(f"[load] {message}", file=sys.stderr, flush=True)


# --- WebSocket viewers, in worker processes ---------------------------------------------------


@dataclass(slots=True)
class ViewerState:
    server: int
    last: int | None = None
    messages: int = 0
    gaps: int = 0  # seqs skipped (a later one came first, or a snapshot replaced them)
    duplicates: int = 0
    disconnects: int = 0
    failed: str = ""
    receipts: list[tuple[int, int]] = field(default_factory=list)  # (seq, time.time_ns())

    def take(self, raw: str | bytes, now: int) -> None:
        """One message: a snapshot sets the starting seq, a change must be the next one."""
        self.messages += 1
        message = json.loads(raw)
        seq = message.get("seq")
        if not isinstance(seq, int):
            return
        if message.get("type") == "snapshot":  # after a reconnect: whatever it replaced is lost
            if self.last is not None and seq != self.last:
                self.gaps += max(1, seq - self.last)
            self.last = seq
            return
        if self.last is not None and seq <= self.last:
            self.duplicates += 1
            return
        if self.last is not None and seq > self.last + 1:
            self.gaps += seq - self.last - 1
        self.last = seq
        self.receipts.append((seq, now))


async def _viewer(
    state: ViewerState, url: str, gate: asyncio.Semaphore, stop: asyncio.Event
) -> None:
    """Hold one viewer until ``stop``; a dropped connection is counted and resumed."""
    connected = False
    while not stop.is_set():
        uri = url if state.last is None else f"{url}?since={state.last}"
        try:
            async with gate if not connected else contextlib.nullcontext():
                ws = await connect(uri, compression=None, max_size=None, open_timeout=30)
            connected = True
            async with ws:
                async for raw in ws:
                    state.take(raw, time.time_ns())
        except Exception as error:  # a failed handshake or a dropped connection
            if not connected:
                state.failed = f"{type(error).__name__}: {error}"[:200]
                return
        if not stop.is_set():
            state.disconnects += 1
            await asyncio.sleep(0.2)


async def _viewers_main(pipe: Connection, urls: list[tuple[int, str]]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    states = [ViewerState(server) for server, _ in urls]
    tasks = [
        asyncio.create_task(_viewer(state, url, gate, stop))
        for state, (_, url) in zip(states, urls, strict=True)
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # every viewer has its snapshot, or has failed
        if all(s.last is not None or s.failed for s in states):
            break
        await asyncio.sleep(0.05)
    pipe.send(("connected", sum(1 for s in states if s.last is not None), _failures(states)))
    command = await loop.run_in_executor(None, pipe.recv)  # ("drain", final_seq)
    final_seq: int = command[1]
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        if all(s.failed or (s.last or 0) >= final_seq for s in states):
            break
        await asyncio.sleep(0.05)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    receipts: dict[tuple[int, int], list[int]] = defaultdict(list)  # (server, seq): ns
    for state in states:
        for seq, ns in state.receipts:
            receipts[(state.server, seq)].append(ns)
    pipe.send(
        (
            "done",
            {
                "messages": sum(s.messages for s in states),
                "gaps": sum(s.gaps for s in states),
                "viewers_with_gaps": sum(1 for s in states if s.gaps),
                "duplicates": sum(s.duplicates for s in states),
                "disconnects": sum(s.disconnects for s in states),
                "behind": sum(1 for s in states if not s.failed and (s.last or 0) < final_seq),
                "failed": _failures(states),
                "receipts": dict(receipts),
            },
        )
    )


def _failures(states: Sequence[ViewerState]) -> dict[str, int]:
    return dict(Counter(s.failed for s in states if s.failed))


def viewers_worker(pipe: Connection, urls: list[tuple[int, str]]) -> None:
    """A worker process: hold the viewers, report "connected", then drain and report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    asyncio.run(_viewers_main(pipe, urls))


@dataclass(slots=True)
class ViewerResults:
    connected: int = 0
    messages: int = 0
    gaps: int = 0
    viewers_with_gaps: int = 0
    duplicates: int = 0
    disconnects: int = 0
    behind: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    receipts: dict[tuple[int, int], list[int]] = field(default_factory=lambda: defaultdict(list))


class ViewerProcesses:
    """The viewers, spread over worker processes; each viewer on server ``index % servers``."""

    def __init__(self, ws_urls: Sequence[str], viewers: int, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        urls = [(i % len(ws_urls), ws_urls[i % len(ws_urls)]) for i in range(viewers)]
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for k in range(processes):
            share = urls[k::processes]
            if not share:
                continue
            parent, child = context.Pipe()
            process = context.Process(target=viewers_worker, args=(child, share), daemon=True)
            process.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(process)
        self.results = ViewerResults()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    async def _recv(self, pipe: Connection) -> Any:
        def wait() -> Any:
            if not pipe.poll(PIPE_TIMEOUT_S):
                raise BenchError("a viewer process did not answer in time")
            return pipe.recv()

        try:
            return await asyncio.to_thread(wait)
        except EOFError as error:
            raise BenchError("a viewer process died") from error

    async def connected(self) -> None:
        for pipe in self.pipes:
            _, count, failed = await self._recv(pipe)
            self.results.connected += count
            self.results.failed.update(failed)

    async def drain(self, final_seq: int) -> ViewerResults:
        for pipe in self.pipes:
            pipe.send(("drain", final_seq))
        r = self.results
        for pipe in self.pipes:
            _, data = await self._recv(pipe)
            for name in ("messages", "gaps", "viewers_with_gaps", "duplicates", "disconnects"):
                setattr(r, name, getattr(r, name) + data[name])
            r.behind += data["behind"]
            r.failed.update(data["failed"])
            for key, stamps in data["receipts"].items():
                r.receipts[key].extend(stamps)
        return r

    def close(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()


# --- HTTP ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    """One kind of request: the latency of every answer (by status too), and what went wrong."""

    seconds: list[float] = field(default_factory=list)
    by_status: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, status: int, seconds: float, ok: bool, error: str = "") -> None:
        self.seconds.append(seconds)
        if status:
            self.by_status[status].append(seconds)
        if not ok:
            self.errors[error or f"HTTP {status}"] += 1

    @property
    def count(self) -> int:
        return len(self.seconds)

    def ms(self, p: int) -> float:
        return percentile(self.seconds, p) * 1000


def new_client(url: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url,
        timeout=REQUEST_TIMEOUT_S,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        trust_env=False,  # 127.0.0.1 only, never through a proxy
    )


async def timed(
    tally: Tally,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    ok: Callable[[int], bool],
    **kwargs: Any,
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError as error:
        tally.add(0, time.perf_counter() - started, False, type(error).__name__)
        return None
    tally.add(response.status_code, time.perf_counter() - started, ok(response.status_code))
    return response


def good(status: int) -> bool:
    return 200 <= status < 300 or status == 304


# --- seeding ---------------------------------------------------------------------------------


def at(minutes: int) -> str:
    return (DAY + timedelta(minutes=minutes)).isoformat()


@dataclass(slots=True)
class Seeded:
    slots: list[list[str]]  # per channel, in time order
    starts: dict[str, int]  # slot id: start, minutes after DAY (channel 1 only, for moves)
    booked_feeds: list[str]  # feed paths of the confirmed people
    spare_people: list[str]


async def checked(
    client: httpx.AsyncClient, auth: dict[str, str], calls: Sequence[tuple[str, str, Any]]
) -> list[Any]:
    """Setup calls, ``SETUP_CONCURRENCY`` at a time; any answer but 2xx stops the run."""
    results: list[Any] = [None] * len(calls)
    pending = iter(range(len(calls)))

    async def worker() -> None:
        for index in pending:
            method, path, body = calls[index]
            response = await client.request(method, path, json=body, headers=auth)
            if not 200 <= response.status_code < 300:
                raise BenchError(f"{method} {path}: {response.status_code} {response.text[:300]}")
            results[index] = response.json() if response.content else None

    async with asyncio.TaskGroup() as group:
        for _ in range(min(SETUP_CONCURRENCY, len(calls))):
            group.create_task(worker())
    return results


async def seed(client: httpx.AsyncClient, auth: dict[str, str]) -> Seeded:
    span = SLOTS_PER_CHANNEL * STEP_MINUTES + 24 * 60  # a day of room for delays
    event = {
        "slug": EVENT,
        "title": "Mixed load",
        "timezone": "UTC",
        "starts_at": at(0),
        "ends_at": at(span),
    }
    await checked(client, auth, [("POST", "/api/events", event)])
    channels = [
        ("POST", f"/api/events/{EVENT}/channels", {"slug": f"ch-{c}", "name": f"Stage {c}"})
        for c in range(CHANNELS)
    ]
    await checked(client, auth, channels)
    slot_calls = [
        (
            "POST",
            f"/api/events/{EVENT}/slots",
            {
                "channel": f"ch-{c}",
                "title": f"Session {c}.{i}",
                "starts_at": at(i * STEP_MINUTES),
                "ends_at": at(i * STEP_MINUTES + SLOT_MINUTES),
                "tags": ["load", f"stage-{c}"],
                "description": "A session of the mixed-load benchmark.",
            },
        )
        for c in range(CHANNELS)
        for i in range(SLOTS_PER_CHANNEL)
    ]
    created = await checked(client, auth, slot_calls)
    slots = [
        [s["id"] for s in created[c * SLOTS_PER_CHANNEL : (c + 1) * SLOTS_PER_CHANNEL]]
        for c in range(CHANNELS)
    ]
    starts = {slot: i * STEP_MINUTES for i, slot in enumerate(slots[1])}
    people_calls = [
        ("POST", "/api/people", {"name": f"Creator {i}", "handle": f"c{i}", "role": "creator"})
        for i in range(PEOPLE_BOOKED + PEOPLE_SPARE)
    ]
    people = await checked(client, auth, people_calls)
    booked = people[:PEOPLE_BOOKED]
    # One booking per person, on channels 2 and 3 (which only go live and end): no moves.
    stage = slots[2] + slots[3]
    bookings = await checked(
        client,
        auth,
        [
            ("POST", f"/api/slots/{stage[i]}/bookings", {"person_id": p["id"], "role": "creator"})
            for i, p in enumerate(booked)
        ],
    )
    await checked(
        client, auth, [("POST", f"/api/bookings/{b['id']}/accept", None) for b in bookings]
    )
    await checked(client, auth, [("POST", f"/api/events/{EVENT}/publish", None)])
    feeds = [urlsplit(p["feed_url"]).path for p in booked]
    return Seeded(slots, starts, feeds, [p["id"] for p in people[PEOPLE_BOOKED:]])


# --- the load --------------------------------------------------------------------------------


@dataclass(slots=True)
class ChangeTimes:
    """One seq the host caused; wall-clock ns (``time.time_ns()``, as the viewers stamp)."""

    kind: str
    server: int  # index of the process that took the write
    sent_ns: int  # the host's request about to go out
    written_ns: int  # the change's ``at``: taken in its write transaction, before the commit
    returned_ns: int  # the host has the HTTP answer


@dataclass(slots=True)
class Load:
    """Everything measured while the load runs."""

    http: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    host: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    changes: dict[int, ChangeTimes] = field(default_factory=dict)  # seq: its change
    last_seq: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    etags: dict[str, str] = field(default_factory=dict)


async def http_viewer(
    index: int,
    clients: Sequence[httpx.AsyncClient],
    feeds: Sequence[str],
    load: Load,
    deadline: float,
    think_s: float,
) -> None:
    rng = random.Random(index)
    kinds = itertools.cycle(VIEWER_KINDS[index % len(VIEWER_KINDS) :] + VIEWER_KINDS)
    for turn in itertools.count(index):
        if time.monotonic() >= deadline:
            return
        kind = next(kinds)
        client = clients[turn % len(clients)]
        headers: dict[str, str] = {}
        if kind == SCHEDULE:
            path = f"/api/events/{EVENT}/schedule"
        elif kind in (CALENDAR, CALENDAR_INM):
            path = f"/events/{EVENT}/calendar.ics"
            if kind == CALENDAR_INM and path in load.etags:
                headers["If-None-Match"] = load.etags[path]
        elif kind == FEED:
            path = rng.choice(feeds)
        else:
            path = "/healthz"
        response = await timed(load.http[kind], client, "GET", path, ok=good, headers=headers)
        if response is not None and "etag" in response.headers:
            load.etags[path] = response.headers["etag"]
        await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))


class Host:
    """The host's cycle of schedule changes; each change is timed and mapped to its seqs."""

    CYCLE = ("rename", "move", "delay", "live", "end", "book", "accept", "unbook")

    def __init__(self, clients: Sequence[httpx.AsyncClient], auth: dict[str, str], seeded: Seeded):
        self.clients = clients
        self.auth = auth
        self.seeded = seeded
        self.turn = 0
        self.moved: set[str] = set()  # channel-1 slots now 5 minutes late
        self.stage = seeded.slots[2] + seeded.slots[3]
        self.stage_next = 0
        self.live_slot = ""
        self.booking = ""

    def pick(self, channel: int, step: int) -> str:
        slots = self.seeded.slots[channel]
        return slots[(step // len(self.CYCLE)) % len(slots)]

    def request(self, kind: str) -> tuple[str, str, Any] | None:
        step = self.turn
        if kind == "rename":
            return "PATCH", f"/api/slots/{self.pick(0, step)}", {"title": f"Retitled {step}"}
        if kind == "move":
            slot = self.pick(1, step)
            start = self.seeded.starts[slot] + (0 if slot in self.moved else 5)
            body = {"starts_at": at(start), "ends_at": at(start + SLOT_MINUTES)}
            return "PATCH", f"/api/slots/{slot}", body
        if kind == "delay":
            return "POST", f"/api/slots/{self.pick(0, step)}/delay", {"minutes": 5, "cascade": True}
        if kind == "live":
            if self.stage_next >= len(self.stage):
                return None  # every stage slot has been live once
            self.live_slot = self.stage[self.stage_next]
            self.stage_next += 1
            return "POST", f"/api/slots/{self.live_slot}/live", {"early": True}
        if kind == "end":
            return ("POST", f"/api/slots/{self.live_slot}/end", None) if self.live_slot else None
        if kind == "book":
            spare = self.seeded.spare_people
            person = spare[(step // len(self.CYCLE)) % len(spare)]
            body = {"person_id": person, "role": "creator"}
            return "POST", f"/api/slots/{self.pick(1, step + 3 * len(self.CYCLE))}/bookings", body
        if kind == "accept":
            return ("POST", f"/api/bookings/{self.booking}/accept", None) if self.booking else None
        if kind == "unbook":
            return ("DELETE", f"/api/bookings/{self.booking}", None) if self.booking else None
        raise AssertionError(kind)

    def after(self, kind: str, response: httpx.Response) -> None:
        if kind == "move":
            slot = urlsplit(str(response.url)).path.rsplit("/", 1)[-1]
            self.moved ^= {slot}
        elif kind == "end":
            self.live_slot = ""
        elif kind == "book":
            self.booking = response.json()["id"]
        elif kind == "unbook":
            self.booking = ""

    async def run(self, load: Load, deadline: float, every_s: float) -> None:
        started = time.monotonic()
        while True:
            due = started + self.turn * every_s
            if due >= deadline:
                return
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await self.change(load)
            self.turn += 1

    async def change(self, load: Load) -> None:
        kind = self.CYCLE[self.turn % len(self.CYCLE)]
        server = self.turn % len(self.clients)
        client = self.clients[server]
        call = self.request(kind)
        if call is None:
            load.skipped[kind] += 1
            return
        method, path, body = call
        sent = time.time_ns()
        response = await timed(
            load.host[kind], client, method, path, ok=good, json=body, headers=self.auth
        )
        returned = time.time_ns()
        if response is None or not good(response.status_code):
            if response is not None:
                log(f"host {kind}: {response.status_code} {response.text[:200]}")
            if kind == "book":
                self.booking = ""
            return
        self.after(kind, response)
        changes = await client.get(f"/api/events/{EVENT}/changes", params={"since": load.last_seq})
        if changes.status_code != 200:
            raise BenchError(f"GET changes: {changes.status_code} {changes.text[:200]}")
        for message in changes.json():
            written = int(datetime.fromisoformat(message["at"]).timestamp() * 1e6) * 1000
            load.changes[message["seq"]] = ChangeTimes(kind, server, sent, written, returned)
            load.last_seq = max(load.last_seq, message["seq"])


async def healthz_alone(
    clients: Sequence[httpx.AsyncClient], concurrency: int, seconds: float, think_s: float
) -> Tally:
    """The quiet baseline: the same clients asking only ``GET /healthz`` for ``seconds``."""
    tally = Tally()
    deadline = time.monotonic() + seconds

    async def one(index: int) -> None:
        rng = random.Random(index)
        for turn in itertools.count(index):
            if time.monotonic() >= deadline:
                return
            await timed(tally, clients[turn % len(clients)], "GET", "/healthz", ok=good)
            await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))

    async with asyncio.TaskGroup() as group:
        for index in range(concurrency):
            group.create_task(one(index))
    return tally


async def current_seq(client: httpx.AsyncClient) -> int:
    response = await client.get(f"/api/events/{EVENT}/changes", params={"since": 0})
    if response.status_code != 200:
        raise BenchError(f"GET changes: {response.status_code} {response.text[:200]}")
    return max((m["seq"] for m in response.json()), default=0)


# --- one run ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    quiet: Tally
    load: Load
    viewers: ViewerResults
    seconds: float
    load_average: tuple[float, float]
    cpu: dict[str, float]  # CPUs used during the load, by whom
    postgres: str


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU seconds of these processes so far (``/proc/<pid>/stat``)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


async def measure(cluster: Cluster, args: argparse.Namespace) -> Outcome:
    servers = cluster.servers
    connections = args.http_viewers + 4
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(new_client(s.url, connections)) for s in servers]
        host_clients = [await stack.enter_async_context(new_client(s.url, 2)) for s in servers]
        started = time.monotonic()
        seeded = await seed(clients[0], cluster.auth)
        log(
            f"seeded {CHANNELS * SLOTS_PER_CHANNEL} slots and"
            f" {PEOPLE_BOOKED + PEOPLE_SPARE} people in {time.monotonic() - started:.1f}s"
        )
        load = Load(last_seq=await current_seq(clients[0]))
        think_s = args.think_ms / 1000
        quiet = await healthz_alone(clients, args.http_viewers, args.baseline_seconds, think_s)
        log(f"quiet healthz: {quiet.count} requests, p50 {quiet.ms(50):.1f} ms")
        ws_urls = [f"{s.ws_url}/ws/events/{EVENT}" for s in servers]
        pool = ViewerProcesses(ws_urls, args.viewers, args.viewer_processes)
        try:
            await pool.connected()
            log(
                f"{pool.results.connected} of {args.viewers} viewers connected;"
                f" load for {args.duration:.0f}s"
            )
            load_before = os.getloadavg()[0]
            cpu_pids = {
                "servers": [s.process.pid for s in servers],
                "viewer processes": pool.pids,
                "this process (HTTP viewers, host)": [os.getpid()],
            }
            cpu_before = {name: cpu_seconds(pids) for name, pids in cpu_pids.items()}
            started = time.monotonic()
            deadline = started + args.duration
            host = Host(host_clients, cluster.auth, seeded)
            async with asyncio.TaskGroup() as group:
                group.create_task(host.run(load, deadline, args.change_every))
                for index in range(args.http_viewers):
                    group.create_task(
                        http_viewer(index, clients, seeded.booked_feeds, load, deadline, think_s)
                    )
            seconds = time.monotonic() - started
            load_after = os.getloadavg()[0]
            cpu = {
                name: (cpu_seconds(pids) - cpu_before[name]) / seconds
                for name, pids in cpu_pids.items()
            }
            log(f"load done after {seconds:.1f}s; {len(load.changes)} changes; draining viewers")
            viewers = await pool.drain(load.last_seq)
        finally:
            pool.close()
    return Outcome(
        quiet,
        load,
        viewers,
        seconds,
        (load_before, load_after),
        cpu,
        await postgres_version(args.pg_admin_dsn),
    )


# --- the report ------------------------------------------------------------------------------


def _errors(tally: Tally) -> str:
    if not tally.errors:
        return "0"
    detail = ", ".join(f"{what} ×{n}" for what, n in tally.errors.most_common())
    return f"{sum(tally.errors.values())} ({detail})"


@dataclass(slots=True)
class Latencies:
    """Change-to-viewer ms over every (viewer, seq), from three starting points."""

    written: list[float] = field(default_factory=list)  # from the change's ``at``
    same: list[float] = field(default_factory=list)  # ``written``, viewer on the writing process
    other: list[float] = field(default_factory=list)  # ``written``, viewer on the other one
    sent: list[float] = field(default_factory=list)  # from the host's request going out
    answered: list[float] = field(default_factory=list)  # from the host's HTTP answer


def latencies(outcome: Outcome) -> Latencies:
    result = Latencies()
    for (server, seq), stamps in outcome.viewers.receipts.items():
        change = outcome.load.changes.get(seq)
        if change is None:
            continue
        for ns in stamps:
            ms = (ns - change.written_ns) / 1e6
            result.written.append(ms)
            (result.same if server == change.server else result.other).append(ms)
            result.sent.append((ns - change.sent_ns) / 1e6)
            result.answered.append((ns - change.returned_ns) / 1e6)
    return result


def missing_deliveries(outcome: Outcome) -> int:
    """Viewers x seqs the host made, minus receipts (only viewers that connected)."""
    expected = outcome.viewers.connected * len(outcome.load.changes)
    got = sum(
        len(stamps)
        for (_, seq), stamps in outcome.viewers.receipts.items()
        if seq in outcome.load.changes
    )
    return expected - got


def http_table(outcome: Outcome, args: argparse.Namespace) -> tuple[list[str], int]:
    """One row per request kind, the quiet baseline first; and the number of errors."""
    load = outcome.load
    base = load.http[HEALTHZ].ms(50)
    lines = [
        "| request | count | req/s | errors | p50 ms | p95 ms | p99 ms | p50 / healthz p50 |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]

    def row(name: str, tally: Tally, seconds: float, ratio: bool = True) -> None:
        share = f"{tally.ms(50) / base:.1f}" if ratio and base > 0 and tally.count else "—"
        lines.append(
            f"| {name} | {tally.count:,} | {tally.count / seconds:,.1f} | {_errors(tally)}"
            f" | {ms(tally.ms(50))} | {ms(tally.ms(95))} | {ms(tally.ms(99))} | {share} |"
        )

    row(f"{HEALTHZ}, quiet, before the load", outcome.quiet, args.baseline_seconds)
    row(f"{HEALTHZ} under the load (**baseline**)", load.http[HEALTHZ], outcome.seconds)
    for kind in VIEWER_KINDS[:-1]:
        row(kind, load.http[kind], outcome.seconds)
    for kind in Host.CYCLE:
        if kind in load.host:
            row(f"host: {HOST_CALLS[kind]}", load.host[kind], outcome.seconds)
    total = Tally()
    for tally in [*load.http.values(), *load.host.values()]:
        total.seconds += tally.seconds
        total.errors += tally.errors
    row("all requests under the load", total, outcome.seconds, ratio=False)
    return lines, sum(total.errors.values()) + sum(outcome.quiet.errors.values())


def ws_table(outcome: Outcome, args: argparse.Namespace, times: Latencies) -> list[str]:
    v = outcome.viewers
    written = times.written
    return [
        "| WebSocket viewers | connected | failed to connect | messages | gaps | duplicates"
        " | disconnects | missing at the end | change→viewer p50 ms | p95 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {args.viewers:,} on 2 processes | {v.connected:,} | {sum(v.failed.values())}"
        f" | {v.messages:,} | {v.gaps} | {v.duplicates} | {v.disconnects}"
        f" | {missing_deliveries(outcome):,} | {ms(percentile(written, 50))}"
        f" | {ms(percentile(written, 95))} | {ms(percentile(written, 99))} |",
    ]


def _p(values: Sequence[float]) -> str:
    return f"p50 {ms(percentile(values, 50))} ms, p99 {ms(percentile(values, 99))} ms"


def notes(outcome: Outcome, args: argparse.Namespace, times: Latencies) -> list[str]:
    load = outcome.load
    conditional = load.http[CALENDAR_INM].by_status
    answers = ", ".join(
        f"{len(conditional[status]):,} × {status} (p50"
        f" {ms(percentile(conditional[status], 50) * 1000)} ms)"
        for status in (304, 200)
    )
    skipped = ", ".join(f"{k} ×{n}" for k, n in load.skipped.items()) or "none"
    early = sum(1 for ms in times.answered if ms < 0)
    lines = [
        f"- Setup: two `takeamoment serve` processes (one uvicorn worker each) on one"
        f" {outcome.postgres} database and Redis (`TAKEAMOMENT_REDIS_URL`); one published event"
        f" of {CHANNELS * SLOTS_PER_CHANNEL} slots on {CHANNELS} channels,"
        f" {PEOPLE_BOOKED + PEOPLE_SPARE} people, {PEOPLE_BOOKED} confirmed bookings.",
        f"- Load for {outcome.seconds:.0f} s: {args.viewers} WebSocket viewers in"
        f" {args.viewer_processes} client process(es), half on each server;"
        f" {args.http_viewers} HTTP viewers with {args.think_ms:g} ms (±50 %) between"
        " requests, alternating servers; a host change every"
        f" {args.change_every:g} s through alternating processes ({len(load.changes)} seqs;"
        f" skipped: {skipped}).",
        "- Per-client limits off in the servers' environment (all load comes from 127.0.0.1):"
        " `TAKEAMOMENT_RATE_LIMIT_PER_MINUTE=0`, `TAKEAMOMENT_WS_MAX_PER_CLIENT=0`."
        " No request fails authentication, so failed-auth limiting"
        " (`TAKEAMOMENT_AUTH_FAILURE_LIMIT`) never applies.",
        "- Change→viewer: from the change's `at` (taken in its write transaction) to a viewer"
        " receiving that seq, over every (viewer, seq). Viewer on the process that took the"
        f" write: {_p(times.same)}; on the other process (through Redis): {_p(times.other)}."
        f" From the host's request going out: {_p(times.sent)}. From the host's HTTP answer:"
        f" {_p(times.answered)} ({early:,} of {len(times.answered):,} before the answer).",
        f"- Calendar GETs with the last `ETag` seen: {answers}; a change every"
        f" {args.change_every:g} s makes many of them stale.",
        f"- {os.cpu_count()} CPUs shared by the servers, the load clients and other work on the"
        f" machine; Python {platform.python_version()}; load average"
        f" {outcome.load_average[0]:.1f} when the load started,"
        f" {outcome.load_average[1]:.1f} when it ended. CPUs used during the load: "
        + ", ".join(f"{name} {used:.2f}" for name, used in outcome.cpu.items())
        + ".",
    ]
    if outcome.viewers.failed:
        lines.append(f"- Connection failures: {dict(outcome.viewers.failed)}")
    return lines


def report(outcome: Outcome, args: argparse.Namespace) -> tuple[str, bool]:
    """The Markdown report, and whether the run passed."""
    v = outcome.viewers
    times = latencies(outcome)
    http, errors = http_table(outcome, args)
    failed = sum(v.failed.values())
    missing = missing_deliveries(outcome)
    ok = not (errors or failed or v.gaps or v.duplicates or v.disconnects or missing or v.behind)
    verdict = (
        f"- {'PASS' if ok else 'FAIL'}: {errors} request errors, {failed} failed connections,"
        f" {v.gaps} gaps, {v.duplicates} duplicates, {v.disconnects} disconnects,"
        f" {missing} missing deliveries."
    )
    lines = [*http, "", *ws_table(outcome, args, times), "", *notes(outcome, args, times)]
    lines += [verdict, "", f"Command: `{command_line()}`"]
    return "\n".join(lines), ok


# --- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--duration", type=bounded(5, 3600, float), default=60.0, help="seconds; default 60")
    add("--viewers", type=bounded(1, 20_000, int), default=200, help="WebSocket viewers; 200")
    add("--http-viewers", type=bounded(1, 512, int), default=8, help="HTTP viewers; 8")
    add("--think-ms", type=bounded(0, 60_000, float), default=100.0, help="between requests; 100")
    add("--change-every", type=bounded(0.05, 60, float), default=1.0, help="host; 1 s")
    add("--viewer-processes", type=bounded(1, 16, int), default=1, help="for the viewers; 1")
    add("--baseline-seconds", type=bounded(1, 600, float), default=5.0, help="quiet healthz")
    add("--pg-admin-dsn", default=PG_ADMIN_DSN, help=f"scratch database admin; {PG_ADMIN_DSN}")
    add("--redis-url", default=REDIS_URL, help=f"Redis for the two processes; {REDIS_URL}")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    async with running_servers(
        processes=2,
        backend="postgres",
        redis_url=args.redis_url,
        pg_admin_dsn=args.pg_admin_dsn,
    ) as cluster:
        args.servers_seen = [s.port for s in cluster.servers]  # for the log only
        log(
            f"servers on ports {args.servers_seen},"
            f" database {cluster.database_url.rsplit('/', 1)[-1]}"
        )
        try:
            outcome = await measure(cluster, args)
        except (BenchError, httpx.HTTPError) as error:
            raise BenchError(f"{error}\n{cluster.log_tails()}") from error
    text, ok = report(outcome, args)
    print(text)
    return 0 if ok else 1


def main() -> None:
    interrupted = "interrupted: servers and viewer processes stopped, scratch database dropped"
    run_main(run, parse_args(), log, interrupted)


if __name__ == "__main__":
    main()
