"""Reminder lateness: 2,000 one-minute reminders falling due in the same minute, against a baseline.

What it measures: for each backend (SQLite, PostgreSQL) a real ``takeamoment serve`` process on a
fresh database holds one published event that reminds 1 minute ahead (``reminder_minutes: [1]``,
``changeover_minutes: 0``). N people (2,000 by default) are booked 8 to a slot (a group session)
in N/8 slots, each slot on its own channel, and every person accepts their own booking. Every
person holds ``/ws/me?token=...`` open (``inboxes.py``: a few client processes; each message is
stamped with ``time.time_ns()`` the moment its bytes arrive). Only then are the slots moved into
place, their starts spread evenly over ``--spread`` seconds (50 by default): the N reminders fall
due within one minute, 8 at a time every 0.2 s, while nobody else touches the server.
Lateness = arrival on the person's socket minus the message's ``due_at``; the report gives the
median, the 99th percentile and the worst, and how many people got their reminder exactly once,
not at all, or twice (each person's socket is the judge; ``GET /api/me/notifications`` for a
sample of 200 and the host's ``notice.missed`` log must agree). Each lateness is also split at
the message's ``at`` (when its transaction wrote it): due -> written is the scheduler and the
queue of write transactions, written -> socket is commit, real-time hub and WebSocket.

Why this order: the slots are created hours ahead and moved into place last, so nothing falls due
while the slow part of the setup runs, whatever this machine's speed. The lead is computed from
the measured pace of moves (a tenth of the slots is moved first to measure it; a move re-arms the
scheduler for every confirmed booking, so it is slower than it looks), so the first reminder is
due a few seconds after the setup ends.

Why the baseline: a lateness figure alone mostly describes this machine. So in the same run,
against the same server, the same people on the same sockets get one notification each through
the same path (``notify`` in a write transaction, commit, the real-time hub, ``/ws/me``),
started by a host instead of the scheduler and with no queue: before anyone has accepted, the
host moves each parked slot by an hour, one ``PATCH`` after the other, and its 8 people are told
``schedule.changed``. Baseline latency = arrival minus the moment the ``PATCH`` was sent, so it
also pays HTTP and the move's rule checks, which a reminder does not. ``ratio`` (of the medians)
says how much later a scheduled reminder reaches its person than a host's change reaches the same
person when nothing else is going on: 1 would mean the scheduler and the burst add nothing.

More than one process (``--workers N``): ``serve --workers N`` on PostgreSQL with Redis as the
bus (its own channel per run), so the sockets are spread over N server processes (the kernel
deals a shared port's connections out; the report counts each process's established sockets):
one process may hold at most 20,000 open files here. The scheduler runs in the one process that
holds the leader lock; its reminders reach the other's sockets through Redis.

Seeding (``--setup db``, the default above 2,000 people): people, their tokens and their invited
bookings are written straight into the tables (as ``notice_batches.py`` does) instead of 3
requests a person (most of an hour for 20,000 here); the baseline moves only the slots of the
first 1,000 people (a move took about 3 s with 20,000 people booked); then the slots are placed
and the bookings confirmed in one transaction, and the server's scheduler finds them at its next
re-arm (every 30 s: the first reminder is due 30 s + a margin later). From the due time on, all
of it is the server's: the scheduler, the notices, the bus, the sockets.

Run: ``.venv/bin/python bench/reminders.py [--bookings N] [--backend sqlite|postgres] [--quick]
[--workers N --clients P]`` (``--spread 0`` makes every reminder fall due in the same instant).
Progress goes to stderr; stdout is a Markdown table, the details, and the command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import math
import os
import platform
import random
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _report import backends_report, run_main
from _server import HOST, PG_ADMIN_DSN, REDIS_URL, BenchError, Cluster, running_servers
from bookings import Call, backend_version, log, run_checked
from inboxes import InboxError, InboxPool, Receipt, Status
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from takeamoment.db.engine import Database
from takeamoment.db.people import ApiToken
from takeamoment.db.people import Person as PersonRow
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import new_id, utcnow
from takeamoment.scheduler.runner import REARM_EVERY_S
from takeamoment.services.tokens import hash_token, new_token

BACKENDS = ("sqlite", "postgres")
EVENT = "reminders"
REMINDER_MINUTES = 1
SLOT_MINUTES = 30
PARKED_IN = timedelta(hours=3)  # where slots wait until they are placed

DEFAULT_BOOKINGS = 2000
QUICK_BOOKINGS = 200
DEFAULT_PER_SLOT = 8
DEFAULT_SPREAD_S = 50.0  # < 60: the first go-live (due + 60 s) comes after the last reminder
QUICK_SPREAD_S = 20.0
DEFAULT_CLIENTS = 2
SEED_ROWS = 2000  # people (with their token and booking) written per transaction
PORT_SLACK = 1.2  # a kernel deals a shared port's connections out unevenly
STORED_SAMPLE = 200

SETUP_CONCURRENCY = 16
HTTP_CONNECTIONS = 64
KEEPALIVE_S = 1.0
REQUEST_TIMEOUT_S = 60.0
CONNECT_CONCURRENCY = 64  # handshakes in flight per client process
FD_MARGIN = 1024
CALIBRATION_MIN = 5  # slots moved to measure the pace of moves
PLACE_SLOWER = 1.3  # room for the pace to drop while the slots are placed
LEAD_MARGIN_S = 5.0
MIN_LEAD_S = 10.0  # from placing the slots to the first reminder
MIN_LEFT_S = 2.0  # the last move's re-arm must be done before the first reminder
POLL_S = 0.25
BUSY_RETRIES = 20
LINGER_S = 2.0  # after the last reminder arrived: a duplicate would show by then
SERVER_GRACE_S = 120  # reminder_grace_seconds: later than this, a reminder is "missed"
ARRIVAL_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 180.0
CONNECTS_PER_S = 60  # at worst, on a busy machine: the connect time limit grows with the people
BASELINE_PEOPLE = 1000  # --setup db: the baseline moves only these people's slots
PLACED_MARGIN_S = 20.0  # --setup db: after the next re-arm tick, before the first reminder
SETUP_TIMEOUT_S = 300.0  # each setup step
SCHEDULER_TIMEOUT_S = 30.0
BACKEND_TIMEOUT_S = 1200.0

NS = 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- small helpers ----------------------------------------------------------------------------


def new_client(port: int) -> httpx.AsyncClient:
    """Like ``bookings.new_client``, but idle connections are dropped after a second: uvicorn
    closes them after 5 s, the waits between steps leave some idle about that long, and a
    request sent on a connection the server is closing fails with ``ReadError``."""
    limits = httpx.Limits(
        max_connections=HTTP_CONNECTIONS,
        max_keepalive_connections=HTTP_CONNECTIONS,
        keepalive_expiry=KEEPALIVE_S,
    )
    return httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}", timeout=REQUEST_TIMEOUT_S, limits=limits, trust_env=False
    )


@contextlib.asynccontextmanager
async def bounded(what: str, seconds: float) -> AsyncIterator[None]:
    """``asyncio.timeout`` that says which step ran out of time."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as error:
        raise BenchError(f"{what} took over {seconds:.0f}s") from error


def ns_of(iso: str) -> int:
    """An ISO timestamp with an offset as integer nanoseconds since the epoch (no float loss)."""
    return (datetime.fromisoformat(iso) - EPOCH) // timedelta(microseconds=1) * 1000


def iso_of(ns: int) -> str:
    return (EPOCH + timedelta(microseconds=ns // 1000)).isoformat()


async def run_limited(jobs: Iterable[Callable[[], Awaitable[Any]]], concurrency: int) -> list[Any]:
    """Run every job, at most ``concurrency`` at a time; their results in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


def checked(response: httpx.Response, what: str, expected: int = 200) -> Any:
    if response.status_code != expected:
        raise BenchError(f"{what}: {response.status_code} {response.text[:300]}")
    return response.json() if response.content else None


@dataclass(frozen=True, slots=True)
class Stats:
    """Milliseconds: median, 99th percentile, worst."""

    median: float
    p99: float
    worst: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if not values:
            return cls(math.nan, math.nan, math.nan)
        if len(values) == 1:
            return cls(values[0], values[0], values[0])
        p99 = statistics.quantiles(values, n=100, method="inclusive")[98]
        return cls(statistics.median(values), p99, max(values))

    def text(self) -> str:
        return f"median {self.median:,.0f} ms, p99 {self.p99:,.0f} ms, worst {self.worst:,.0f} ms"


# --- building the event -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(slots=True)
class Plan:
    """Person j is booked in slot j // per_slot; slot i is on channel i."""

    slot_ids: list[str]
    people: list[Person]
    per_slot: int
    booking_ids: dict[str, str] = field(default_factory=dict)  # person id -> booking id

    def slot_of(self, index: int) -> str:
        return self.slot_ids[index // self.per_slot]


def event_body(now: datetime) -> dict[str, Any]:
    return {
        "slug": EVENT,
        "title": "Reminder benchmark",
        "timezone": "UTC",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + PARKED_IN + timedelta(hours=3)).isoformat(),
        "reminder_minutes": [REMINDER_MINUTES],
        "changeover_minutes": 0,
    }


def slot_times(starts_at: datetime) -> dict[str, str]:
    ends_at = starts_at + timedelta(minutes=SLOT_MINUTES)
    return {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()}


def slot_body(channel: int, starts_at: datetime) -> dict[str, Any]:
    return {"channel": f"ch-{channel}", "title": f"Session {channel}", **slot_times(starts_at)}


async def create_all(
    client: httpx.AsyncClient, auth: dict[str, str], calls: Sequence[Call], what: str
) -> list[Any]:
    started = time.monotonic()
    created = await run_checked(client, calls, SETUP_CONCURRENCY, auth)
    seconds = time.monotonic() - started
    log(f"  {len(calls)} {what} in {seconds:.1f}s ({len(calls) / seconds:,.0f}/s)")
    return created


async def build(
    client: httpx.AsyncClient, auth: dict[str, str], people: int, per_slot: int
) -> Plan:
    """The event, one channel per slot, the slots parked hours ahead, the people: not booked."""
    created_slots = await build_event(client, auth, people, per_slot)
    person_calls = [
        Call("POST", "/api/people", {"name": f"Creator {i}", "handle": f"c{i}", "role": "creator"})
        for i in range(people)
    ]
    created = await create_all(client, auth, person_calls, "people")
    return Plan(
        [slot["id"] for slot in created_slots],
        [Person(p["id"], p["token"]) for p in created],
        per_slot,
    )


async def build_event(
    client: httpx.AsyncClient, auth: dict[str, str], people: int, per_slot: int
) -> list[Any]:
    """The event, one channel per slot, the slots parked hours ahead; the slots as created."""
    now = datetime.now(UTC)
    slots = math.ceil(people / per_slot)
    await run_checked(client, [Call("POST", "/api/events", event_body(now))], 1, auth)
    channels = [
        Call("POST", f"/api/events/{EVENT}/channels", {"slug": f"ch-{i}", "name": f"Channel {i}"})
        for i in range(slots)
    ]
    await create_all(client, auth, channels, "channels")
    path = f"/api/events/{EVENT}/slots"
    slot_calls = [Call("POST", path, slot_body(i, now + PARKED_IN)) for i in range(slots)]
    created_slots = await create_all(client, auth, slot_calls, "slots")
    await run_checked(client, [Call("POST", f"/api/events/{EVENT}/publish")], 1, auth, 200)
    return created_slots


async def seed(
    client: httpx.AsyncClient, auth: dict[str, str], database_url: str, people: int, per_slot: int
) -> Plan:
    """The event and slots through the API; the people, their tokens and their bookings
    (invited, as ``POST /api/slots/{id}/bookings`` leaves them) straight into the tables."""
    created_slots = await build_event(client, auth, people, per_slot)
    plan = Plan([slot["id"] for slot in created_slots], [], per_slot)
    started = time.monotonic()
    db = Database(database_url)
    try:
        for first in range(0, people, SEED_ROWS):
            rows = range(first, min(people, first + SEED_ROWS))
            plan.people += await db.write(lambda s, r=rows: _seed_people(s, created_slots, plan, r))
    finally:
        await db.dispose()
    seconds = time.monotonic() - started
    log(f"  {people} people with invited bookings written to the database in {seconds:.1f}s")
    return plan


async def _seed_people(
    session: AsyncSession, slots: Sequence[Any], plan: Plan, indexes: range
) -> list[Person]:
    tokens = [new_token() for _ in indexes]
    rows = [
        PersonRow(
            id=new_id(),
            name=f"Creator {i}",
            handle=f"c{i}",
            role="creator",
            feed_token_hash=hash_token(new_token()),
        )
        for i in indexes
    ]
    session.add_all(rows)
    await session.flush()  # no relationships declared: the order of inserts is ours
    session.add_all(
        ApiToken(token_hash=hash_token(token), role="creator", person_id=row.id)
        for token, row in zip(tokens, rows, strict=True)
    )
    bookings = []
    for i, row in zip(indexes, rows, strict=True):
        slot = slots[i // plan.per_slot]
        booking = Booking(
            id=new_id(),
            slot_id=slot["id"],
            person_id=row.id,
            role="creator",
            starts_at=datetime.fromisoformat(slot["starts_at"]),
            busy_until=datetime.fromisoformat(slot["ends_at"]),  # changeover_minutes: 0
        )
        plan.booking_ids[row.id] = booking.id
        bookings.append(booking)
    session.add_all(bookings)
    return [Person(row.id, token) for row, token in zip(rows, tokens, strict=True)]


async def place_in_database(database_url: str, plan: Plan, spread_s: float) -> int:
    """In one transaction, the slots moved into place (as ``placement`` says) and every
    booking confirmed, as its person's accept would; nothing is published, so the server's
    scheduler finds them at its next re-arm tick, which comes before the first due time.
    Answers the first due time."""
    first_due = time.time_ns() + int((REARM_EVERY_S + PLACED_MARGIN_S) * NS)
    moves = placement(plan, first_due, spread_s)
    db = Database(database_url)

    async def work(session: AsyncSession) -> int:
        now, confirmed = utcnow(), 0
        for slot_id, times in moves:
            starts_at = datetime.fromisoformat(times["starts_at"])
            ends_at = datetime.fromisoformat(times["ends_at"])
            await session.execute(
                update(Slot)
                .where(col(Slot.id) == slot_id)
                .values(starts_at=starts_at, ends_at=ends_at, updated_at=now)
            )
            result = await session.execute(
                update(Booking)
                .where(col(Booking.slot_id) == slot_id, col(Booking.status) == "invited")
                .values(
                    starts_at=starts_at,
                    busy_until=ends_at,  # changeover_minutes: 0
                    status="confirmed",
                    confirmed_at=now,
                    updated_at=now,
                )
            )
            confirmed += int(result.rowcount)  # type: ignore[attr-defined]
        return confirmed

    try:
        confirmed = await db.write(work)
    finally:
        await db.dispose()
    if confirmed != len(plan.people):
        raise BenchError(f"confirmed {confirmed} bookings in the database, not {len(plan.people)}")
    left = (first_due - time.time_ns()) / NS
    log(
        f"  {len(moves)} slots placed, {confirmed} bookings confirmed in the database;"
        f" first reminder due in {left:.1f}s"
    )
    if left < REARM_EVERY_S + MIN_LEFT_S:
        raise BenchError(f"placing the slots in the database left only {left:.1f}s; run again")
    return first_due


async def wait_scheduler(port: int) -> None:
    """With PostgreSQL the scheduler starts once a process wins the advisory lock. A new
    connection each time: with several worker processes, a kept-alive one would keep asking the
    same one, which may be the one on standby."""
    deadline = time.monotonic() + SCHEDULER_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            async with new_client(port) as client:
                if (await client.get("/readyz")).json().get("scheduler") == "running":
                    return
        await asyncio.sleep(0.2)
    raise BenchError(f"the scheduler did not start within {SCHEDULER_TIMEOUT_S:.0f}s")


# --- sockets ----------------------------------------------------------------------------------


async def connect_everyone(pool: InboxPool, port: int, plan: Plan) -> None:
    people = [(p.id, f"ws://{HOST}:{port}/ws/me?token={p.token}") for p in plan.people]
    started = time.monotonic()
    limit = max(CONNECT_TIMEOUT_S, len(people) / CONNECTS_PER_S)
    async with bounded(f"opening {len(people)} /ws/me connections", limit):
        opened, errors = await pool.connect(people, CONNECT_CONCURRENCY)
    seconds = time.monotonic() - started
    if opened != len(people):
        raise BenchError(f"only {opened} of {len(people)} /ws/me connections opened: {errors}")
    retried = f" ({sum(errors.values())} retries: {dict(errors)})" if errors else ""
    log(f"  {opened} people connected to /ws/me in {seconds:.1f}s{retried}")


async def wait_for_kind(pool: InboxPool, kind: str, people: int, within_s: float) -> Status:
    """Poll the client processes until ``people`` people have a ``kind``, or time is up."""
    deadline_ns = time.time_ns() + int(within_s * NS)
    while True:
        status = await pool.status()
        if status.people_with[kind] >= people or time.time_ns() >= deadline_ns:
            return status
        if not status.open:
            return status  # everyone is gone: nothing more will come
        await asyncio.sleep(POLL_S)


async def wait_for_everyone(pool: InboxPool, kind: str, people: int) -> None:
    status = await wait_for_kind(pool, kind, people, ARRIVAL_TIMEOUT_S)
    if status.people_with[kind] < people:
        got = status.people_with[kind]
        raise BenchError(f"only {got} of {people} people got {kind} within {ARRIVAL_TIMEOUT_S}s")
    log(f"  all {people} people got {kind}")


def established_sockets(pid: int, port: int) -> list[int]:
    """Established TCP connections to ``port`` held by ``pid`` or by each of its child
    processes (uvicorn's workers), from ``/proc``: how the kernel dealt the sockets out."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    inodes.add(fields[9])
    counts = []
    for one in [pid, *children_of(pid)]:
        held = 0
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{one}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    held += link.startswith("socket:[") and link[8:-1] in inodes
        counts.append(held)
    return [n for n in counts if n] or counts[:1]


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(child) for child in (task / "children").read_text().split()]
    return found


# --- bookings and the baseline: slot moves, one at a time -------------------------------------


def offsets_ns(slots: int, spread_s: float) -> list[int]:
    """Slot i's moment within the spread: evenly apart, the first at 0."""
    return [round(i * spread_s * NS / slots) for i in range(slots)]


async def book_all(client: httpx.AsyncClient, auth: dict[str, str], plan: Plan) -> None:
    """The host books everyone (each person is told ``booking.invited``)."""

    def book(index: int, person: Person) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            body = {"person_id": person.id, "role": "creator"}
            path = f"/api/slots/{plan.slot_of(index)}/bookings"
            response = await client.post(path, json=body, headers=auth)
            plan.booking_ids[person.id] = checked(response, "POST booking", 201)["id"]

        return run

    started = time.monotonic()
    async with bounded("booking everyone", SETUP_TIMEOUT_S):
        await run_limited((book(i, p) for i, p in enumerate(plan.people)), SETUP_CONCURRENCY)
    rate = len(plan.people) / (time.monotonic() - started)
    log(f"  {len(plan.people)} people booked ({rate:,.0f}/s)")


async def move_one_at_a_time(
    client: httpx.AsyncClient, auth: dict[str, str], plan: Plan, slots: int
) -> dict[str, int]:
    """The baseline's host action: move each slot (still parked) by an hour, each request sent
    when the previous one has been answered. Answers when each slot's move was sent (ns)."""
    sent: dict[str, int] = {}
    later = datetime.now(UTC) + PARKED_IN + timedelta(hours=1)
    started = time.monotonic()
    async with bounded("the baseline moves", SETUP_TIMEOUT_S):
        for slot_id in plan.slot_ids[:slots]:
            sent[slot_id] = time.time_ns()
            response = await client.patch(
                f"/api/slots/{slot_id}", json=slot_times(later), headers=auth
            )
            checked(response, "PATCH slot (baseline)")
    log(f"  baseline: {len(sent)} slots moved one at a time in {time.monotonic() - started:.1f}s")
    return sent


async def accept_all(client: httpx.AsyncClient, plan: Plan) -> None:
    """Every person accepts their own booking, in the order their reminders fall due."""

    def accept(person: Person) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            path = f"/api/bookings/{plan.booking_ids[person.id]}/accept"
            return checked(await client.post(path, headers=person.auth), "accept")

        return run

    started = time.monotonic()
    async with bounded("accepting the bookings", SETUP_TIMEOUT_S):
        await run_limited((accept(p) for p in plan.people), SETUP_CONCURRENCY)
    rate = len(plan.people) / (time.monotonic() - started)
    log(f"  {len(plan.people)} bookings accepted ({rate:,.0f}/s)")


# --- the measured minute ----------------------------------------------------------------------


async def move_slots(
    client: httpx.AsyncClient, auth: dict[str, str], moves: Sequence[tuple[str, dict[str, str]]]
) -> float:
    """PATCH each (slot, times), ``SETUP_CONCURRENCY`` at a time; answers the rate (per second)."""

    def move(slot_id: str, body: dict[str, str]) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            response = await client.patch(f"/api/slots/{slot_id}", json=body, headers=auth)
            return checked(response, "PATCH slot")

        return run

    started = time.monotonic()
    async with bounded("moving the slots", SETUP_TIMEOUT_S):
        await run_limited((move(*m) for m in moves), SETUP_CONCURRENCY)
    return len(moves) / (time.monotonic() - started)


async def calibrate(client: httpx.AsyncClient, auth: dict[str, str], plan: Plan) -> float:
    """How fast this server moves slots now that everyone is confirmed (each move makes the
    scheduler re-arm every confirmed booking): a tenth of the slots, moved among parked times."""
    later = slot_times(datetime.now(UTC) + PARKED_IN + timedelta(hours=2))
    sample = plan.slot_ids[: max(CALIBRATION_MIN, len(plan.slot_ids) // 10)]
    rate = await move_slots(client, auth, [(slot_id, later) for slot_id in sample])
    log(f"  {len(sample)} slots moved to measure the pace: {rate:,.1f}/s")
    return rate


def placement(plan: Plan, first_due: int, spread_s: float) -> list[tuple[str, dict[str, str]]]:
    """Where each slot goes so that the reminders fall due from ``first_due`` over ``spread_s``."""
    offsets = offsets_ns(len(plan.slot_ids), spread_s)
    moves = []
    for slot_id, offset in zip(plan.slot_ids, offsets, strict=True):
        due = EPOCH + timedelta(microseconds=(first_due + offset) // 1000)
        moves.append((slot_id, slot_times(due + timedelta(minutes=REMINDER_MINUTES))))
    return moves


async def arm(client: httpx.AsyncClient, auth: dict[str, str], plan: Plan, spread_s: float) -> int:
    """The slots are moved into place, all before the first reminder is due (everyone has
    accepted); the lead is computed from the measured pace of moves. Answers the first due time."""
    rate = await calibrate(client, auth, plan)
    lead_s = max(MIN_LEAD_S, len(plan.slot_ids) / max(rate, 0.1) * PLACE_SLOWER + LEAD_MARGIN_S)
    first_due = time.time_ns() + int(lead_s * NS)
    rate = await move_slots(client, auth, placement(plan, first_due, spread_s))
    left = (first_due - time.time_ns()) / NS
    log(f"  {len(plan.slot_ids)} slots placed ({rate:,.1f}/s); first reminder due in {left:.1f}s")
    if left < MIN_LEFT_S:
        raise BenchError(
            f"the slots were placed only {left:.1f}s before the first reminder was due (wanted"
            f" {MIN_LEFT_S:.0f}s): the server slowed down after the pace was measured; run again"
        )
    return first_due


# --- checks against the server's record -------------------------------------------------------


async def stored_reminders(
    client: httpx.AsyncClient, people: Sequence[Person]
) -> dict[str, list[str]]:
    """Each person's stored reminder ids, from ``GET /api/me/notifications``."""

    def read(person: Person) -> Callable[[], Awaitable[tuple[str, list[str]]]]:
        async def run() -> tuple[str, list[str]]:
            response = await client.get("/api/me/notifications", headers=person.auth)
            for _ in range(BUSY_RETRIES):  # 503: the server's pool is busy; it says retry
                if response.status_code != 503:
                    break
                await asyncio.sleep(POLL_S * 4)
                response = await client.get("/api/me/notifications", headers=person.auth)
            stored = checked(response, "GET /api/me/notifications")
            return person.id, [n["id"] for n in stored if n["kind"] == "reminder"]

        return run

    async with bounded("reading notifications back", ARRIVAL_TIMEOUT_S):
        return dict(await run_limited((read(p) for p in people), SETUP_CONCURRENCY))


async def missed_notices(client: httpx.AsyncClient, auth: dict[str, str]) -> int:
    """``notice.missed`` entries in the event's change log (reminders too late to send)."""
    since, missed = 0, 0
    async with bounded("reading the change log", ARRIVAL_TIMEOUT_S):
        while True:
            response = await client.get(f"/api/events/{EVENT}/changes?since={since}", headers=auth)
            page = checked(response, "GET changes")
            if not page:
                return missed
            missed += sum(1 for change in page if change.get("type") == "notice.missed")
            since = page[-1]["seq"]


# --- results ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    backend: str
    bookings: int
    slots: int
    reminders: dict[str, Stats]  # total: arrival - due_at; written: "at" - due_at; delivered
    baselines: dict[str, Stats]  # the same, from the host's request sent
    once: int
    missing: int
    duplicates: int
    wrong_reminders: int  # a reminder of someone else's slot, or with other minutes
    lost: int
    stored_checked: int
    stored_wrong: int
    missed_recorded: int
    setup_s: float
    sockets: list[int] = field(default_factory=list)  # established /ws/me sockets per process
    samples: list[Sample] = field(default_factory=list, repr=False)

    @property
    def lateness(self) -> Stats:
        return self.reminders["total"]

    @property
    def baseline(self) -> Stats:
        return self.baselines["total"]

    @property
    def ratio(self) -> float:
        return self.lateness.median / self.baseline.median if self.baseline.median else math.nan

    @property
    def ok(self) -> bool:
        problems = self.missing + self.duplicates + self.lost + self.stored_wrong
        return not (problems or self.missed_recorded or self.wrong_reminders)


def reminders_of(receipts: Sequence[Receipt]) -> list[Receipt]:
    return [r for r in receipts if r.kind == "reminder"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One person's notification: when it was owed (due, or the host's request sent), when its
    transaction wrote it (``at``) and when it reached the person's socket; ns since the epoch."""

    phase: str  # "reminder" or "baseline"
    person: str
    owed_ns: int
    at_ns: int
    received_ns: int


def sample_stats(samples: Sequence[Sample]) -> dict[str, Stats]:
    return {
        "total": Stats.of([(s.received_ns - s.owed_ns) / 1e6 for s in samples]),
        "written": Stats.of([(s.at_ns - s.owed_ns) / 1e6 for s in samples]),
        "delivered": Stats.of([(s.received_ns - s.at_ns) / 1e6 for s in samples]),
    }


def reminder_samples(
    plan: Plan, receipts: dict[str, list[Receipt]]
) -> tuple[list[Sample], Counter[int], int]:
    """The first reminder of each person; how many people got 0, 1, 2+; reminders that are
    not the one owed (another slot, other minutes)."""
    samples: list[Sample] = []
    counts: Counter[int] = Counter()
    wrong = 0
    for index, person in enumerate(plan.people):
        mine = reminders_of(receipts.get(person.id, []))
        counts[min(len(mine), 2)] += 1
        wrong += sum(
            1
            for r in mine
            if r.slot_id != plan.slot_of(index) or r.minutes_before != REMINDER_MINUTES
        )
        samples += [
            Sample("reminder", person.id, ns_of(r.due_at), ns_of(r.at), r.received_ns)
            for r in mine[:1]
        ]
    return samples, counts, wrong


def baseline_samples(
    plan: Plan, receipts: dict[str, list[Receipt]], moved: dict[str, int]
) -> list[Sample]:
    """Each person's first ``schedule.changed`` (the baseline move of their slot)."""
    samples = []
    for index, person in enumerate(plan.people):
        changed = [r for r in receipts.get(person.id, []) if r.kind == "schedule.changed"]
        sent = moved.get(plan.slot_of(index))
        if sent is None:
            continue  # --setup db: only some slots are moved for the baseline
        samples += [
            Sample("baseline", person.id, sent, ns_of(r.at), r.received_ns) for r in changed[:1]
        ]
    return samples


def write_samples(path: Path, results: Sequence[Result]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["backend", "phase", "person", "owed_ns", "at_ns", "received_ns"])
        for r in results:
            writer.writerows(
                [r.backend, s.phase, s.person, s.owed_ns, s.at_ns, s.received_ns] for s in r.samples
            )


def stored_sample(plan: Plan, receipts: dict[str, list[Receipt]], seed: int) -> list[Person]:
    """A random sample, plus everyone whose socket did not show exactly one reminder."""
    odd = [p for p in plan.people if len(reminders_of(receipts.get(p.id, []))) != 1]
    sample = random.Random(seed).sample(plan.people, min(STORED_SAMPLE, len(plan.people)))
    return list({p.id: p for p in [*sample, *odd]}.values())


def stored_mismatches(stored: dict[str, list[str]], receipts: dict[str, list[Receipt]]) -> int:
    """People whose stored reminders are not exactly one, the one their socket received."""
    return sum(
        1
        for person, ids in stored.items()
        if len(ids) != 1 or ids != [r.id for r in reminders_of(receipts.get(person, []))]
    )


# --- one backend, end to end ------------------------------------------------------------------


async def setup(
    client: httpx.AsyncClient, cluster: Cluster, pool: InboxPool, args: Any
) -> tuple[Plan, dict[str, int], list[int]]:
    """The event, the people on their sockets, the bookings, the baseline, and everyone's
    acceptance; also the sockets each server process holds."""
    port, auth = cluster.servers[0].port, cluster.auth
    if args.setup == "db":
        plan = await seed(client, auth, cluster.database_url, args.bookings, args.per_slot)
        await connect_everyone(pool, port, plan)
    else:
        plan = await build(client, auth, args.bookings, args.per_slot)
        await connect_everyone(pool, port, plan)
        await book_all(client, auth, plan)
        await wait_for_everyone(pool, "booking.invited", len(plan.people))
    sockets = established_sockets(cluster.servers[0].process.pid, port)
    log(f"  /ws/me sockets per server process: {', '.join(f'{n:,}' for n in sockets)}")
    slots = len(plan.slot_ids)
    if args.setup == "db":
        slots = min(slots, math.ceil(BASELINE_PEOPLE / plan.per_slot))
    moved = await move_one_at_a_time(client, auth, plan, slots)
    await wait_for_everyone(pool, "schedule.changed", min(len(plan.people), slots * plan.per_slot))
    if args.setup == "api":
        await accept_all(client, plan)
    return plan, moved, sockets


async def measure(
    client: httpx.AsyncClient, cluster: Cluster, pool: InboxPool, args: Any
) -> Result:
    started = time.monotonic()
    auth = cluster.auth
    plan, moved, sockets = await setup(client, cluster, pool, args)
    if args.setup == "db":
        first_due = await place_in_database(cluster.database_url, plan, args.spread)
    else:
        first_due = await arm(client, auth, plan, args.spread)
    setup_s = time.monotonic() - started
    last_due = first_due + int(args.spread * NS)
    log(f"  reminders due from {iso_of(first_due)[11:23]} to {iso_of(last_due)[11:23]} UTC")
    within_s = (last_due - time.time_ns()) / NS + SERVER_GRACE_S + 10
    status = await wait_for_kind(pool, "reminder", len(plan.people), within_s)
    log(f"  {status.people_with['reminder']} people reminded; lingering {LINGER_S:.0f}s")
    await asyncio.sleep(LINGER_S)
    receipts = await pool.collect()
    stored = await stored_reminders(client, stored_sample(plan, receipts, args.seed))
    status = await pool.status()
    reminded, counts, wrong = reminder_samples(plan, receipts)
    baseline = baseline_samples(plan, receipts, moved)
    return Result(
        backend="",
        bookings=len(plan.people),
        slots=len(plan.slot_ids),
        reminders=sample_stats(reminded),
        baselines=sample_stats(baseline),
        once=counts[1],
        missing=counts[0],
        duplicates=counts[2],
        wrong_reminders=wrong,
        lost=len(status.lost),
        stored_checked=len(stored),
        stored_wrong=stored_mismatches(stored, receipts),
        missed_recorded=await missed_notices(client, auth),
        setup_s=setup_s,
        sockets=sockets,
        samples=reminded + baseline,
    )


async def bench_backend(args: argparse.Namespace, backend: str) -> Result:
    log(f"{backend}: starting the server")
    async with running_servers(
        backend=backend,
        workers=args.workers,
        redis_url=args.redis_url if args.workers > 1 else None,
        pg_admin_dsn=args.pg_admin_dsn,
        workdir=args.logs,
        extra_env=dict(item.split("=", 1) for item in args.server_env),
    ) as cluster:
        port = cluster.servers[0].port
        async with new_client(port) as client, InboxPool(args.clients) as pool:
            try:
                log(f"{backend}: the server is ready on port {port}")
                await wait_scheduler(port)
                async with bounded(f"{backend}: the whole run", BACKEND_TIMEOUT_S):
                    result = await measure(client, cluster, pool, args)
                result.backend = backend
                return result
            except (BenchError, InboxError, httpx.HTTPError) as error:
                what = f"{type(error).__name__}: {error}"
                raise BenchError(f"{what}\n{cluster.log_tails()}") from error


# --- the report -------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f} ms"


def table(results: Sequence[Result], labels: dict[str, str]) -> list[str]:
    lines = [
        "| backend | bookings | median | p99 | worst | delivered once | missing | duplicates"
        " | baseline median (p99) | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {labels[r.backend]} | {r.bookings:,} | {_ms(r.lateness.median)}"
            f" | {_ms(r.lateness.p99)} | {_ms(r.lateness.worst)} | {r.once:,} | {r.missing:,}"
            f" | {r.duplicates:,} | {_ms(r.baseline.median)} ({_ms(r.baseline.p99)})"
            f" | {r.ratio:.2f} |"
        )
    return lines


def details(r: Result) -> str:
    rem, base = r.reminders, r.baselines
    return (
        f"- {r.backend}: reminder lateness {rem['total'].text()}; of which due -> written"
        f" {rem['written'].text()}, written -> on the socket {rem['delivered'].text()}."
        f" Baseline (slot move sent -> schedule.changed on the socket) {base['total'].text()};"
        f" of which sent -> written {base['written'].text()}, written -> on the socket"
        f" {base['delivered'].text()}. p99 ratio {r.lateness.p99 / r.baseline.p99:.2f}."
        f" Stored check: {r.stored_checked} people read back, {r.stored_wrong} wrong;"
        f" notice.missed recorded: {r.missed_recorded}; connections lost: {r.lost};"
        f" reminders of the wrong slot: {r.wrong_reminders}. Setup {r.setup_s:.0f}s."
        f" /ws/me sockets per server process: {', '.join(f'{n:,}' for n in r.sockets)}."
    )


def report(
    results: Sequence[Result],
    failures: dict[str, str],
    labels: dict[str, str],
    args: argparse.Namespace,
) -> str:
    slots = math.ceil(args.bookings / args.per_slot)
    servers = (
        "One server process (uvicorn, 1 worker)"
        if args.workers == 1
        else f"`serve --workers {args.workers}` (uvicorn worker processes on one port, Redis as"
        " the bus)"
    )
    seeded = (
        "People, tokens and bookings written straight into the database; after the baseline, the"
        " slots placed and the bookings confirmed there in one transaction (found by the next"
        " re-arm tick)."
        if args.setup == "db"
        else "People, bookings and accepts through the API."
    )
    only = f" of the first {BASELINE_PEOPLE:,} people" if args.setup == "db" else ""
    setup = (
        f"{args.bookings:,} confirmed bookings, {args.per_slot} people a slot in {slots:,} slots"
        f" on as many channels, reminders due {args.per_slot} at a time evenly over"
        f" {args.spread:.0f}s; every person on /ws/me ({args.clients} client processes)."
        f" {servers} on the same {os.cpu_count()}-CPU machine, Python"
        f" {platform.python_version()}, load average {args.load_at_start:.1f} at the start and"
        f" {os.getloadavg()[0]:.1f} at the end. {seeded}"
        f" Baseline: the host moves each slot{only} (still hours ahead, nobody confirmed yet)"
        f" one request at a time; PATCH sent -> schedule.changed on each of its {args.per_slot}"
        " people's sockets."
    )
    return backends_report(table(results, labels), setup, [details(r) for r in results], failures)


# --- command line -----------------------------------------------------------------------------


def raise_open_files(people: int, workers: int, clients: int) -> None:
    """Each server process and each client process holds one socket per person it has: lift
    the soft limit (the servers and the clients inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    per_server = math.ceil(people / workers * (PORT_SLACK if workers > 1 else 1))
    wanted = max(per_server, math.ceil(people / clients)) + FD_MARGIN
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    if hard != resource.RLIM_INFINITY and hard < wanted:
        raise BenchError(
            f"{people} sockets over {workers} server process(es) need {wanted} open files each;"
            f" the hard limit is {hard}: add --workers"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--bookings", type=int, help=f"people reminded (default {DEFAULT_BOOKINGS})"
    )
    parser.add_argument("--backend", choices=BACKENDS, help="one backend (default: both)")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_BOOKINGS} bookings over {QUICK_SPREAD_S:.0f}s"
    )
    parser.add_argument("--per-slot", type=int, default=DEFAULT_PER_SLOT, help="people a slot")
    parser.add_argument("--spread", type=float, help="seconds the reminders fall due over (50)")
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help="client processes")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="serve --workers N (above 1: PostgreSQL only, Redis as the bus)",
    )
    parser.add_argument("--redis-url", default=REDIS_URL, help="Redis for --workers above 1")
    parser.add_argument("--logs", type=Path, help="keep the server's log in this directory")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the server (repeatable), e.g. TAKEAMOMENT_WS_REAUTH_SECONDS=600",
    )
    parser.add_argument(
        "--setup",
        choices=("api", "db"),
        help=f"people and bookings through the API or into the database (db above"
        f" {DEFAULT_BOOKINGS:,} people)",
    )
    parser.add_argument("--seed", type=int, default=1, help="which people are read back")
    parser.add_argument("--pg-admin-dsn", default=PG_ADMIN_DSN, help="where the scratch db goes")
    parser.add_argument("--samples", type=Path, help="write every timing to this CSV file")
    args = parser.parse_args(argv)
    args.bookings = args.bookings or (QUICK_BOOKINGS if args.quick else DEFAULT_BOOKINGS)
    if args.spread is None:
        args.spread = QUICK_SPREAD_S if args.quick else DEFAULT_SPREAD_S
    if not (1 <= args.bookings <= 20_000 and 1 <= args.per_slot <= 50 and 1 <= args.clients <= 8):
        parser.error("need 1..20000 bookings, 1..50 people a slot, 1..8 client processes")
    if not 0 <= args.spread < 60 * REMINDER_MINUTES:
        parser.error("--spread must be 0..59 seconds: the reminders fall due in one minute")
    if not 1 <= args.workers <= 4:
        parser.error("--workers must be 1..4")
    if args.workers > 1 and args.backend != "postgres":
        parser.error("--workers above 1 needs --backend postgres (and Redis)")
    args.setup = args.setup or ("db" if args.bookings > DEFAULT_BOOKINGS else "api")
    args.backends = [args.backend] if args.backend else list(BACKENDS)
    if any("=" not in item for item in args.server_env):
        parser.error("--server-env takes NAME=VALUE")
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    args.load_at_start = os.getloadavg()[0]
    return args


async def run(args: argparse.Namespace) -> int:
    results: list[Result] = []
    failures: dict[str, str] = {}
    for backend in args.backends:
        try:
            results.append(await bench_backend(args, backend))
            log(details(results[-1])[2:])
        except BenchError as error:
            log(f"{backend}: FAILED: {error}")
            failures[backend] = str(error)
    labels = {b: await backend_version(b, args.pg_admin_dsn) for b in args.backends}
    print(report(results, failures, labels, args))
    if args.samples:
        write_samples(args.samples, results)
    return 1 if failures or not all(r.ok for r in results) else 0


def main() -> None:
    args = parse_args()
    try:
        raise_open_files(args.bookings, args.workers, args.clients)
    except BenchError as error:
        log(str(error))
        sys.exit(1)
    interrupted = "interrupted: servers and client processes stopped, scratch databases dropped"
    run_main(run, args, log, interrupted)


if __name__ == "__main__":
    main()
