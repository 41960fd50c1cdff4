"""Live fan-out: how long until every viewer of an event has a host's change, against a baseline.

What it measures: for each N (1,000, 5,000 and 10,000 by default), N viewers hold
``/ws/events/{slug}`` of one published event on a real ``takeamoment serve`` process (fresh
SQLite database, one uvicorn process). Once every viewer has its snapshot, a host makes at least
20 status changes, one at a time: ``POST /api/slots/{id}/live`` then ``/end`` (``PATCH`` of the
slot's title when those routes are missing). For each change the clock starts just before the
host's HTTP request and stops when the last of the N viewers has received the message; the
report gives the median and 99th percentile of that over the changes, the spread over every
(viewer, change), and the server's resident memory per idle viewer (``VmRSS`` before the viewers
connect and once they all sit idle, divided by N).

Why the baseline: "N ms to reach N viewers" mostly describes this machine (the loopback TCP
stack does much of the work) and the load client. So in the same run, for the same N and with
the same load client, a minimal server (``bench/broadcast_server.py``:
``websockets.asyncio.server.serve`` and ``websockets.broadcast()``, no framework, no database,
no per-viewer task) is triggered by a tiny HTTP request and broadcasts a message of the same
size as ours. Both servers are up at once, each with its own N viewers, and the changes
alternate between them, so background load on a shared machine weighs on both alike.
``ours/baseline`` of the medians is the figure to compare between runs and machines; the target
is at most 1.5 at 5,000 viewers.

The load client (``bench/loadclient.py``) spreads each server's viewers over a few worker
processes and timestamps messages with ``time.monotonic_ns()``, one clock for every process on
Linux.

Run: ``.venv/bin/python bench/fanout.py [--viewers 1000,5000,10000] [--changes 20] [--quick]``.
Progress goes to stderr; stdout is a Markdown table, the details, and the command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import resource
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from _report import bounded, command_line, ms, percentile
from _server import HOST, REDIS_URL, BenchError, free_port, running_servers, stop
from bookings import Call, new_client, run_checked
from loadclient import Connected, LoadClientError, Received, ViewerPool

BENCH_DIR = Path(__file__).resolve().parent
EVENT = "fanout"
DAY = datetime(2030, 10, 10, tzinfo=UTC)  # far ahead: nothing is ever "in the past"
SLOT_MINUTES = 30

DEFAULT_VIEWERS = (1000, 5000, 10000)
QUICK_VIEWERS = (200, 1000)
MIN_CHANGES = 20
TARGET_VIEWERS = 5000
TARGET_RATIO = 1.5

FD_MARGIN = 512  # descriptors a process needs besides its viewers
PORT_SHARE = 0.8  # at most this share of the ephemeral port range per source address
CONNECT_CONCURRENCY = 64  # handshakes in flight per worker process
SETTLE_S = 1.0  # after the last snapshot, before reading memory
PAUSE_S = 0.2  # between two changes, so one fan-out never overlaps the next
CHANGE_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 30.0
TIME_LIMIT_S = 1800.0


def log(message: str) -> None:
    print(f"[fanout] {message}", file=sys.stderr, flush=True)


# --- what a run records -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    started_ns: int  # just before the host's HTTP request
    answered_ns: int  # the HTTP response is in
    all_ns: int  # the last viewer has the message
    size: int  # of the message, in bytes

    @property
    def all_ms(self) -> float:
        return (self.all_ns - self.started_ns) / 1e6

    @property
    def http_ms(self) -> float:
        return (self.answered_ns - self.started_ns) / 1e6


@dataclass(slots=True)
class Run:
    """One server, one N: connecting, idle memory, and the timed changes."""

    server: str
    viewers: int
    pid: int
    connected: Connected | None = None
    changes: list[Change] = field(default_factory=list)
    received: Received | None = None
    rss_before_kib: int = 0
    rss_idle_kib: int = 0
    rss_after_kib: int = 0
    child_processes: int = 0
    live_end: bool | None = None  # ours only: which host change was used
    broadcast_ms: dict[int, float] = field(default_factory=dict)  # baseline only
    slow: int = 0  # viewers that stopped reading (--slow-share)
    slow_codes: dict[str, int] = field(default_factory=dict)  # how the server closed them
    client_cpu: float = 0.0  # CPUs the load clients used while the changes ran (both sides)
    workers: int = 1
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and len(self.changes) > 0

    def all_ms(self, p: int) -> float:
        return percentile([c.all_ms for c in self.changes], p)

    @property
    def kib_per_viewer(self) -> float:
        return (self.rss_idle_kib - self.rss_before_kib) / self.viewers

    def viewer_ms(self) -> list[float]:
        """Every (viewer, change) latency, from the host's request to that viewer's receipt."""
        if self.received is None:
            return []
        return [
            (stamp - change.started_ns) / 1e6
            for change in self.changes
            for stamp in self.received.times.get(change.seq, [])
        ]

    def first_ms(self) -> float:
        """Median over the changes of the time until the first viewer had the message."""
        times = self.received.times if self.received else {}
        firsts = [
            (min(times[c.seq]) - c.started_ns) / 1e6 for c in self.changes if times.get(c.seq)
        ]
        return statistics.median(firsts) if firsts else math.nan

    @property
    def missing(self) -> int:
        """Deliveries that never happened: viewers x changes minus receipts."""
        got = len(self.viewer_ms())
        return (self.viewers - self.slow) * len(self.changes) - got

    def sizes(self) -> list[int]:
        """The wire size of each measured message, in change order."""
        sizes = self.received.sizes if self.received else {}
        return [sizes[c.seq] for c in self.changes if c.seq in sizes]


def first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


# --- the two servers --------------------------------------------------------------------------


class Target(Protocol):
    """A server under test: where viewers connect, and how a host makes change number i."""

    name: str
    pid: int
    ws_url: str

    async def change(self, index: int, seq: int, size: int) -> None:
        """Change number ``index``, which viewers will see as ``seq``; ``size``: ours' size."""


@dataclass(slots=True)
class Ours:
    name: str
    pid: int
    ws_url: str
    client: httpx.AsyncClient
    auth: dict[str, str]
    slot_ids: list[str]
    use_live_end: bool
    description_bytes: int = 0

    async def change(self, index: int, seq: int, size: int) -> None:
        if self.use_live_end:  # slot k goes live at change 2k and ends at change 2k+1
            action = "live" if index % 2 == 0 else "end"
            body = {"early": True} if action == "live" else None  # slots may be far ahead
            call = Call("POST", f"/api/slots/{self.slot_ids[index // 2]}/{action}", body)
        elif self.description_bytes:  # every message then carries this much
            text = f"{index} " + "d" * self.description_bytes
            body = {"description": text[: self.description_bytes]}
            call = Call("PATCH", f"/api/slots/{self.slot_ids[0]}", body)
        else:
            call = Call("PATCH", f"/api/slots/{self.slot_ids[0]}", {"title": f"Take {index}"})
        response = await self.client.request(
            call.method, call.path, json=call.body, headers=self.auth
        )
        if response.status_code != 200:
            raise BenchError(f"{call.method} {call.path}: {response.status_code} {response.text}")


@dataclass(slots=True)
class Baseline:
    name: str
    pid: int
    ws_url: str
    client: httpx.AsyncClient
    broadcast_ms: dict[int, float] = field(default_factory=dict)  # seq: the call's own time

    async def change(self, index: int, seq: int, size: int) -> None:
        response = await self.client.get("/broadcast", params={"seq": seq, "bytes": size})
        if response.status_code != 200:
            raise BenchError(f"GET /broadcast: {response.status_code} {response.text}")
        self.broadcast_ms[seq] = float(response.text.split()[1])


def describe_change(use_live_end: bool, chosen: str, description_bytes: int = 0) -> str:
    if use_live_end:
        return (
            "`POST /api/slots/{id}/live` then `/end`, alternately, slot after slot"
            " (slot.live, slot.ended; found in /schema/openapi.json)"
        )
    if description_bytes:
        return f"`PATCH /api/slots/{{id}}` with a description of {description_bytes} bytes"
    why = "asked for with --change-kind patch" if chosen == "patch" else "no /live and /end"
    return f"`PATCH /api/slots/{{id}}` with a new title (slot.updated; {why})"


async def has_live_routes(client: httpx.AsyncClient) -> bool:
    """Whether the server's OpenAPI document lists ``POST /api/slots/{id}/live`` and ``/end``."""
    response = await client.get("/schema/openapi.json")
    if response.status_code != 200:
        return False
    paths: dict[str, Any] = response.json().get("paths", {})

    def has_post(suffix: str) -> bool:
        return any(
            p.startswith("/api/slots/{") and p.endswith(suffix) and "post" in ops
            for p, ops in paths.items()
        )

    return has_post("}/live") and has_post("}/end")


def slot_count(args: argparse.Namespace) -> int:
    """Slots for every change of one run: the probe, the warm-up and the measured ones."""
    changes: int = 1 + args.warmup + args.changes
    return changes // 2 + 2


async def build_event(client: httpx.AsyncClient, auth: dict[str, str], slots: int) -> list[str]:
    """One published event, one channel, ``slots`` back-to-back slots; returns their ids."""

    def at(minutes: int) -> str:
        return (DAY + timedelta(minutes=minutes)).isoformat()

    event = {
        "slug": EVENT,
        "title": "Fan-out benchmark",
        "timezone": "UTC",
        "starts_at": at(0),
        "ends_at": at(slots * SLOT_MINUTES),
    }
    await run_checked(client, [Call("POST", "/api/events", event)], 1, auth)
    channel = {"slug": "main", "name": "Main stage"}
    await run_checked(client, [Call("POST", f"/api/events/{EVENT}/channels", channel)], 1, auth)
    calls = [
        Call(
            "POST",
            f"/api/events/{EVENT}/slots",
            {
                "channel": "main",
                "title": f"Session {i}",
                "starts_at": at(i * SLOT_MINUTES),
                "ends_at": at((i + 1) * SLOT_MINUTES),
            },
        )
        for i in range(slots)
    ]
    created = await run_checked(client, calls, 1, auth)
    await run_checked(client, [Call("POST", f"/api/events/{EVENT}/publish")], 1, auth, 200)
    return [slot["id"] for slot in created]


def pool_pids(pools: Sequence[ViewerPool]) -> list[int]:
    return [pid for pool in pools for pid in pool.pids]


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU seconds of these processes so far (``/proc/<pid>/stat``)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def ours(args: argparse.Namespace, name: str = "ours") -> AsyncIterator[Ours]:
    """``takeamoment serve`` on a fresh database (``--workers`` worker processes sharing Redis
    when above 1), with one published event built."""
    async with running_servers(
        backend=args.backend,
        workers=args.workers,
        redis_url=args.redis_url if args.workers > 1 else None,
        extra_env=args.server_env,
        serve_args=("--server", args.server),
    ) as cluster:
        server = cluster.servers[0]
        async with new_client(server.port, 4) as client:
            try:
                slot_ids = await build_event(client, cluster.auth, slot_count(args))
                live_end = not args.description_bytes and (
                    args.change_kind == "live-end"
                    or (args.change_kind == "auto" and await has_live_routes(client))
                )
                ws_url = f"{server.ws_url}/ws/events/{EVENT}"
                pid = server.process.pid
                yield Ours(
                    name,
                    pid,
                    ws_url,
                    client,
                    cluster.auth,
                    slot_ids,
                    live_end,
                    args.description_bytes,
                )
            except BenchError as error:
                raise BenchError(f"{error}\n{cluster.log_tails()}") from error


@contextlib.asynccontextmanager
async def baseline(snapshot_bytes: int, args: argparse.Namespace) -> AsyncIterator[Baseline]:
    """``bench/broadcast_server.py`` on a free port (as many processes as ours has workers, on
    one port and one Redis channel); always stopped on the way out."""
    port = free_port()
    command = [sys.executable, str(BENCH_DIR / "broadcast_server.py"), "--port", str(port)]
    command += ["--host", HOST, "--snapshot-bytes", str(snapshot_bytes)]
    if args.workers > 1:
        channel = f"broadcast-baseline-{os.getpid()}-{port}"
        command += ["--processes", str(args.workers), "--redis-url", args.redis_url]
        command += ["--channel", channel]
    process = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.DEVNULL)
    try:
        async with new_client(port, 4) as client:
            await wait_healthy(client, process)
            if args.workers > 1:  # one answered; give the others a moment to listen too
                await asyncio.sleep(2.0)
            ws_url = f"ws://{HOST}:{port}/"
            yield Baseline("baseline", process.pid, ws_url, client)
    finally:
        await stop(process)


async def wait_healthy(client: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise BenchError(f"the baseline server exited with status {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get("/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise BenchError(f"the baseline server was not ready within {READY_TIMEOUT_S:.0f}s")


# --- the process under test -------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its descendants (a server's worker processes), from
    ``/proc/<pid>/status`` (``VmRSS``, in KiB)."""
    total = 0
    for one in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    if not total:
        raise BenchError(f"no VmRSS for process {pid}")
    return total


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, children first."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


def child_processes(pid: int) -> int:
    """How many child processes ``pid`` has (uvicorn with one worker should have none)."""
    children = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            children += len((task / "children").read_text().split())
    return children


def source_addresses(viewers: int, block: int) -> list[str | None]:
    """127.0.0.1 (no bind) while the ephemeral port range suffices, else 127.0.<block>.2, .3, …

    Each server gets its own block: ports picked by ``bind`` are per source address, whatever
    the destination.
    """
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    per_address = int((high - low + 1) * PORT_SHARE)
    if viewers <= per_address:
        return [None]
    return [f"127.0.{block}.{2 + i}" for i in range(math.ceil(viewers / per_address))]


def raise_fd_limit(viewers: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit toward the hard one; returns the most viewers it allows.

    Child processes (the servers, the load client's workers) inherit the raised limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = viewers + FD_MARGIN
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft - FD_MARGIN if soft != resource.RLIM_INFINITY else viewers


# --- one server, one N ------------------------------------------------------------------------


def connect_timeout(viewers: int) -> float:
    return 60.0 + viewers / 50  # 10,000 viewers: 260 s, far above what a healthy run takes


async def timed_change(target: Target, pool: ViewerPool, index: int, seq: int, size: int) -> Change:
    started = time.monotonic_ns()
    await target.change(index, seq, size)
    answered = time.monotonic_ns()
    async with asyncio.timeout(CHANGE_TIMEOUT_S):
        latest, _, received_size = await pool.all_received(seq)
    return Change(seq, started, answered, max(latest, started), received_size)


def only_start_seq(connected: Connected, viewers: int) -> int:
    if connected.opened != viewers:
        errors = ", ".join(f"{k} x{n}" for k, n in connected.errors.most_common(5))
        raise BenchError(f"{connected.opened} of {viewers} viewers connected ({errors})")
    if len(connected.start_seqs) != 1:
        raise BenchError(f"viewers started from different seqs: {dict(connected.start_seqs)}")
    return next(iter(connected.start_seqs))


@dataclass(slots=True)
class Side:
    """One server of a pair, the load client that watches it, and what it measured."""

    target: Target
    pool: ViewerPool
    run: Run
    block: int  # which block of source addresses its viewers use, when 127.0.0.1 is not enough
    next_seq: int = 0  # the seq the next change will carry


async def probe(target: Target, pool: ViewerPool, size: int) -> tuple[int, int, int]:
    """One viewer, one change, to warm the server up.

    Returns the seq of the next change, the snapshot's size and the change's size in bytes.
    """
    async with asyncio.timeout(READY_TIMEOUT_S):
        connected = await pool.connect(target.ws_url, 1, [None], 1)
    seq = only_start_seq(connected, 1) + 1
    change = await timed_change(target, pool, 0, seq, size)
    await pool.leave()
    return seq + 1, connected.start_bytes, change.size


async def connect_all(side: Side, viewers: int, slow: int = 0) -> None:
    """N viewers on ``side``, every one with its snapshot, starting right after the probe;
    the first ``slow`` of them stop reading then."""
    log(f"{side.run.server}: connecting {viewers:,} viewers ({slow} of them slow)")
    side.run.slow = slow
    side.run.rss_before_kib = rss_kib(side.target.pid)
    async with asyncio.timeout(connect_timeout(viewers)):
        side.run.connected = await side.pool.connect(
            side.target.ws_url,
            viewers,
            source_addresses(viewers, side.block),
            CONNECT_CONCURRENCY,
            slow,
        )
    start = only_start_seq(side.run.connected, viewers)
    if start != side.next_seq - 1:
        raise BenchError(f"{side.run.server}: snapshot seq {start}, expected {side.next_seq - 1}")
    seconds = side.run.connected.seconds
    log(f"{side.run.server}: {viewers:,} viewers have their snapshot after {seconds:.1f}s")


async def alternate_changes(sides: Sequence[Side], args: argparse.Namespace) -> None:
    """Change i on ours, then change i (same message size) on the baseline, and so on.

    Interleaving keeps both servers under the same background load, which on a shared machine
    drifts far more over a minute than between two changes.
    """
    for i in range(args.warmup + args.changes):
        size = args.fallback_bytes
        for side in sides:
            change = await timed_change(side.target, side.pool, 1 + i, side.next_seq, size)
            side.next_seq += 1
            size = change.size or size  # the baseline sends what ours just sent
            if i >= args.warmup:
                side.run.changes.append(change)
            await asyncio.sleep(PAUSE_S)


async def finish(side: Side) -> None:
    side.run.received = await side.pool.collect()
    side.run.rss_after_kib = rss_kib(side.target.pid)
    if side.run.slow:
        side.run.slow_codes = dict(await side.pool.release())
    side.run.child_processes = child_processes(side.target.pid)
    await side.pool.leave()
    run = side.run
    log(
        f"{run.server}: {run.viewers:,} viewers, median {run.all_ms(50):.1f} ms,"
        f" p99 {run.all_ms(99):.1f} ms, {run.kib_per_viewer:.1f} KiB per idle viewer"
    )


async def measure_pair(
    pools: Sequence[ViewerPool], mine: Run, theirs: Run, args: argparse.Namespace
) -> None:
    """Both servers up at once, N viewers on each, changes alternating between them.

    With ``--slow-share``, the baseline is a second server of ours whose viewers all read, and
    that share of our first server's viewers stop reading once they have their snapshot.
    """
    async with ours(args) as our_server, contextlib.AsyncExitStack() as stack:
        mine.pid, mine.live_end = our_server.pid, our_server.use_live_end
        mine.workers = args.workers
        our_side = Side(our_server, pools[0], mine, block=0)
        our_side.next_seq, snapshot_bytes, size = await probe(our_server, pools[0], 0)
        base_server: Target
        if args.slow_share:
            base_server = await stack.enter_async_context(ours(args, "ours, all reading"))
        else:
            base_server = await stack.enter_async_context(baseline(snapshot_bytes, args))
            theirs.broadcast_ms = base_server.broadcast_ms  # type: ignore[attr-defined]
        theirs.pid = base_server.pid
        base_side = Side(base_server, pools[1], theirs, block=1)
        base_side.next_seq, _, _ = await probe(base_server, pools[1], size)
        sides = (our_side, base_side)
        for side in sides:
            slow = int(mine.viewers * args.slow_share) if side is our_side else 0
            await connect_all(side, mine.viewers, slow)
        await asyncio.sleep(SETTLE_S)
        for side in sides:
            side.run.rss_idle_kib = rss_kib(side.target.pid)
        client_cpu = cpu_seconds(pool_pids(pools))
        started = time.monotonic()
        await alternate_changes(sides, args)
        mine.client_cpu = (cpu_seconds(pool_pids(pools)) - client_cpu) / (
            time.monotonic() - started
        )
        for side in sides:
            await finish(side)


@dataclass(frozen=True, slots=True)
class Pair:
    ours: Run
    base: Run

    @property
    def ratio(self) -> float:
        if not (self.ours.ok and self.base.ok):
            return math.nan
        return self.ours.all_ms(50) / self.base.all_ms(50)


async def bench_pair(pools: Sequence[ViewerPool], viewers: int, args: argparse.Namespace) -> Pair:
    """One N: ours and the baseline side by side; a failure marks both runs."""
    mine, theirs = Run("ours", viewers, 0), Run("baseline", viewers, 0)
    try:
        await measure_pair(pools, mine, theirs, args)
    except (BenchError, LoadClientError, TimeoutError, httpx.HTTPError) as error:
        STOP.check()
        log(f"{viewers:,} viewers FAILED: {error}")
        for run in (mine, theirs):
            run.error = first_line(error)
        for pool in pools:
            with contextlib.suppress(Exception):
                await pool.leave()
    return Pair(mine, theirs)


# --- the report -------------------------------------------------------------------------------


def table(pairs: Sequence[Pair]) -> list[str]:
    lines = [
        "| viewers | ours median ms | ours p99 ms | baseline median ms | baseline p99 ms"
        " | ours/baseline (median) | ours KiB per idle viewer | baseline KiB per idle viewer |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in pairs:
        o, b = p.ours, p.base
        lines.append(
            f"| {o.viewers:,} | {ms(o.all_ms(50))} | {ms(o.all_ms(99))}"
            f" | {ms(b.all_ms(50))} | {ms(b.all_ms(99))} | {_ratio(p.ratio)}"
            f" | {_kib(o)} | {_kib(b)} |"
        )
    return lines


def _ratio(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}×"


def _kib(run: Run) -> str:
    return f"{run.kib_per_viewer:.1f}" if run.connected and run.rss_idle_kib else "n/a"


def run_details(run: Run) -> str:
    if not run.ok:
        return f"- {run.server}, {run.viewers:,} viewers: FAILED: {run.error}"
    latencies = run.viewer_ms()
    http = statistics.median(c.http_ms for c in run.changes)
    sizes = sorted(set(run.sizes()))
    connected = run.connected
    assert connected is not None
    received = run.received
    return (
        f"- {run.server}, {run.viewers:,} viewers: per viewer and change p50"
        f" {ms(percentile(latencies, 50))} ms, p99 {ms(percentile(latencies, 99))} ms,"
        f" max {ms(max(latencies))} ms; first viewer after {ms(run.first_ms())} ms and host"
        f" request answered after {ms(http)} ms (medians){broadcast_note(run)};"
        f" {run.missing} deliveries missing, {received.lost if received else 0} viewers dropped;"
        f" message {sizes[0]}–{sizes[-1]} B, snapshot {connected.start_bytes} B;"
        f" {run.viewers:,} connected with snapshots in {connected.seconds:.1f}s;"
        f" server RSS {run.rss_before_kib / 1024:.0f} → {run.rss_idle_kib / 1024:.0f} MiB idle"
        f" → {run.rss_after_kib / 1024:.0f} MiB after the changes{slow_note(run)}"
    )


def slow_note(run: Run) -> str:
    if not run.slow:
        return ""
    codes = ", ".join(f"{code} × {n}" for code, n in sorted(run.slow_codes.items()))
    return (
        f"; {run.slow} slow viewers (not in the times above), how the server had closed them"
        f" when they read again: {codes or 'n/a'}"
    )


def broadcast_note(run: Run) -> str:
    measured = [run.broadcast_ms[c.seq] for c in run.changes if run.broadcast_ms.get(c.seq)]
    if not measured:  # none, or through Redis (the call only published)
        return ""
    return f", the `broadcast()` call itself {ms(statistics.median(measured))} ms (median)"


def verdicts(pairs: Sequence[Pair]) -> list[str]:
    at_target = [p for p in pairs if p.ours.viewers == TARGET_VIEWERS]
    if at_target and not math.isnan(at_target[0].ratio):
        ratio = at_target[0].ratio
        met = "met" if ratio <= TARGET_RATIO else "NOT met"
        target = (
            f"{TARGET_VIEWERS:,} viewers: ours/baseline = {ratio:.2f}"
            f" (target ≤ {TARGET_RATIO}): {met}"
        )
    else:
        target = f"{TARGET_VIEWERS:,} viewers: not measured in this run"
    biggest = max(pairs, key=lambda p: p.ours.viewers)
    o = biggest.ours
    held = (
        "yes"
        if o.ok and o.missing == 0 and o.received is not None and o.received.lost == 0
        else "no"
    )
    processes = "one process" if o.workers == 1 else f"{o.workers} worker processes"
    one = (
        f"{o.viewers:,} viewers held by {processes}: {held} (pid {o.pid},"
        f" {o.child_processes} child processes, every viewer received every change)"
        if held == "yes"
        else f"{o.viewers:,} viewers held by {processes}: no ({o.error or 'deliveries missing'})"
    )
    lines = [f"- Target at {target}.", f"- {one}."]
    lines += [f"- {line}" for pair in pairs for line in mode_verdicts(pair)]
    return lines


def mode_verdicts(pair: Pair) -> list[str]:
    """Across processes: median ≤ 1.5× and p99 ≤ 2×; slow consumers: healthy p99 ≤ 1.1×."""
    o, b = pair.ours, pair.base
    if not (o.ok and b.ok):
        return []
    median, p99 = o.all_ms(50) / b.all_ms(50), o.all_ms(99) / b.all_ms(99)
    cpu = f"load clients used {o.client_cpu:.2f} CPUs while the changes ran"
    if o.slow:
        met = "met" if p99 <= 1.1 else "NOT met"
        return [
            f"{o.viewers:,} viewers, {o.slow} of them slow: the others' p99 {p99:.2f}× and median"
            f" {median:.2f}× of a server whose viewers all read (target p99 ≤ 1.1): {met}; {cpu}"
        ]
    if o.workers > 1:
        met = "met" if median <= 1.5 and p99 <= 2 else "NOT met"
        return [
            f"{o.viewers:,} viewers over {o.workers} worker processes: median"
            f" {median:.2f}×, p99 {p99:.2f}× (targets ≤ 1.5 and ≤ 2): {met}; {cpu}"
        ]
    return [f"{o.viewers:,} viewers: {cpu}"]


def backlog_note(args: argparse.Namespace) -> str:
    return f", TAKEAMOMENT_WS_MAX_BACKLOG={args.backlog}" if args.backlog else ""


def slow_setup(args: argparse.Namespace) -> str:
    if not args.slow_share:
        return ""
    return (
        f"; {args.slow_share:.0%} of its viewers stop reading after their snapshot (4 KiB"
        " receive buffer), and the baseline is a second server of ours whose viewers all read"
    )


def report(pairs: Sequence[Pair], args: argparse.Namespace) -> str:
    kinds = {p.ours.live_end for p in pairs if p.ours.live_end is not None}
    kind = " / ".join(
        describe_change(k, args.change_kind, args.description_bytes) for k in sorted(kinds)
    )
    setup = (
        f"{args.changes} measured changes per server and row (after {args.warmup} warm-up"
        f" changes), one at a time, alternating between the two servers (both up, both with N"
        f" viewers), {PAUSE_S * 1000:.0f} ms apart. Time = from just before the host's HTTP"
        f" request until the last viewer has the message; with {args.changes} changes, p99 is"
        f" close to the slowest one. Host change: {kind}. Load client: {args.processes}"
        " processes per server, Sans-I/O `websockets` connections. Ours: `takeamoment serve"
        f" --server {args.server} --workers {args.workers}` on {args.backend}"
        f"{' and Redis' if args.workers > 1 else ''}{backlog_note(args)}{slow_setup(args)}."
        " Memory: VmRSS of the server's processes once all N viewers sit idle minus before"
        f" they connected, over N. {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}, load average {args.load_at_start:.1f} at the"
        f" start and {os.getloadavg()[0]:.1f} at the end."
    )
    lines = [*table(pairs), "", setup, ""]
    lines += verdicts(pairs)
    for pair in pairs:
        lines += [run_details(pair.ours), run_details(pair.base)]
    lines += ["", f"Command: `{command_line()}`"]
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------------


def _viewer_counts(value: str) -> list[int]:
    try:
        counts = [int(part.replace("_", "")) for part in value.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError("a comma-separated list of viewer counts") from error
    if not counts or any(n < 1 or n > 100_000 for n in counts):
        raise argparse.ArgumentTypeError("viewer counts must be between 1 and 100,000")
    return counts


def _changes(value: str) -> int:
    number = int(value)
    if not MIN_CHANGES <= number <= 1000:
        raise argparse.ArgumentTypeError(f"between {MIN_CHANGES} and 1000")
    return number


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--viewers",
        type=_viewer_counts,
        default=None,
        help="comma-separated viewer counts; default 1000,5000,10000 (--quick: 200,1000)",
    )
    parser.add_argument(
        "--changes", type=_changes, default=MIN_CHANGES, help="measured changes per N; default 20"
    )
    parser.add_argument(
        "--warmup", type=bounded(0, 100), default=2, help="unmeasured changes first; default 2"
    )
    parser.add_argument("--quick", action="store_true", help="a small run: 200 and 1,000 viewers")
    parser.add_argument(
        "--processes",
        type=bounded(1, 32),
        default=min(4, max(2, os.cpu_count() or 2)),
        help="load client worker processes per server; default 2-4 by CPU count",
    )
    parser.add_argument(
        "--change-kind",
        choices=("auto", "live-end", "patch"),
        default="auto",
        help="host change: /live and /end when the server has them (auto), or PATCH of a title",
    )
    parser.add_argument(
        "--workers",
        type=bounded(1, 16),
        default=1,
        help="ours: serve --workers K (PostgreSQL and Redis when above 1); the baseline: K"
        " broadcast processes on one port and one Redis channel; default 1",
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres"),
        default=None,
        help="ours' database; default sqlite, postgres with --workers above 1",
    )
    parser.add_argument("--redis-url", default=REDIS_URL, help="Redis for --workers above 1")
    parser.add_argument(
        "--slow-share",
        type=bounded(0, 0.5, float),
        default=0.0,
        help="this share of ours' viewers stop reading after their snapshot; the baseline is"
        " then a second server of ours whose viewers all read; default 0",
    )
    parser.add_argument(
        "--backlog",
        type=bounded(1, 100_000),
        default=None,
        help="TAKEAMOMENT_WS_MAX_BACKLOG for ours (default: the server's own)",
    )
    parser.add_argument(
        "--description-bytes",
        type=bounded(0, 5000),
        default=0,
        help="each host change sets a slot's description to this many bytes (PATCH), so every"
        " message carries it; default 0 (the changes are /live and /end)",
    )
    parser.add_argument(
        "--server",
        choices=("uvicorn", "uvicorn-h11", "granian"),
        default="uvicorn",
        help="the HTTP server ours runs on (takeamoment serve --server); default uvicorn",
    )
    parser.add_argument("--fallback-bytes", type=int, default=600, help=argparse.SUPPRESS)
    parser.add_argument(
        "--time-limit", type=float, default=TIME_LIMIT_S, help="seconds for the whole run"
    )
    args = parser.parse_args(argv)
    args.load_at_start = os.getloadavg()[0]
    if args.backend is None:
        args.backend = "postgres" if args.workers > 1 else "sqlite"
    args.server_env = {"TAKEAMOMENT_WS_MAX_BACKLOG": str(args.backlog)} if args.backlog else {}
    if args.viewers is None:
        args.viewers = list(QUICK_VIEWERS if args.quick else DEFAULT_VIEWERS)
    return args


def usable_counts(args: argparse.Namespace) -> list[int]:
    """The viewer counts this process's descriptor limit lets every server process and load
    client process hold: N spread over ``--workers`` server processes and ``--processes``
    load-client processes (a kernel spreads a shared port's connections unevenly: 20 % slack)."""
    spread = min(args.workers, args.processes)
    per_process = max(math.ceil(n / spread * (1.2 if spread > 1 else 1)) for n in args.viewers)
    allowed = raise_fd_limit(per_process) * spread
    usable = [n for n in args.viewers if n <= allowed]
    for n in sorted(set(args.viewers) - set(usable)):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        log(
            f"skipping {n:,} viewers: RLIMIT_NOFILE is {soft} (hard limit {hard}), one server"
            f" needs about {n + FD_MARGIN}; raise the hard limit (ulimit -Hn, limits.conf)"
        )
    return usable


async def run(args: argparse.Namespace) -> int:
    counts = usable_counts(args)
    pairs: list[Pair] = []
    async with (
        asyncio.timeout(args.time_limit),
        ViewerPool(args.processes) as our_pool,
        ViewerPool(args.processes) as base_pool,
    ):
        for viewers in counts:
            pair = await bench_pair((our_pool, base_pool), viewers, args)
            STOP.check()
            pairs.append(pair)
    if pairs:
        print(report(pairs, args))
    failed = not pairs or any(not (p.ours.ok and p.base.ok) for p in pairs)
    return 1 if failed else 0


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: stop measuring, clean up, report nothing."""


@dataclass(slots=True)
class StopRequest:
    """Set by SIGINT/SIGTERM. A cancellation can be swallowed on its way through a library
    (httpx/anyio turns one into "All connection attempts failed"), so the flag is checked too."""

    requested: bool = False

    def check(self) -> None:
        if self.requested:
            raise Interrupted


STOP = StopRequest()


async def run_stoppable(args: argparse.Namespace) -> int:
    """``run``, cancelled by Ctrl-C or SIGTERM, so that the cleanup code always runs."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        STOP.requested = True
        if task is not None:
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, request_stop)
    return await run(args)


def main() -> None:
    args = parse_args()
    try:
        status = asyncio.run(run_stoppable(args))
    except (KeyboardInterrupt, asyncio.CancelledError, Interrupted):
        log("interrupted: servers and viewer processes stopped")
        status = 130
    except TimeoutError:
        log(f"the run took longer than --time-limit {args.time_limit:.0f}s: stopped")
        status = 124
    sys.exit(status)


if __name__ == "__main__":
    main()
