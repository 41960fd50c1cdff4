"""Booking throughput with every conflict check, on SQLite and on PostgreSQL, against a baseline.

What it measures: how many ``POST /api/slots/{id}/bookings`` a real ``takeamoment serve`` process
answers per second when C clients book N distinct (person, slot) pairs at once. Each booking runs
the whole rule set in one write transaction (event and person locks, the person's other bookings,
overlap, changeover, availability) and ends in 201 (booked) or 409 (``person_overlap`` /
``changeover``): no pair repeats, so no request stops early at "already booked". Afterwards the
host's schedule is read back to check that nobody ended up double-booked.

Why the baseline: a req/s number alone mostly measures this machine, the HTTP client and the
server's HTTP stack. So the same server, in the same run, with the same client and concurrency,
also answers N ``GET /healthz`` (no database, no auth), right before and right after the
bookings. ``bookings/healthz`` is the share of the bare HTTP rate that survives the database work
and the conflict checks; it compares across machines far better than the raw numbers.

Run: ``.venv/bin/python bench/bookings.py [--requests N] [--concurrency C] [--backends ...]``.
Progress goes to stderr; stdout is a Markdown table and the command that produced it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
from _report import backends_report, bounded, run_main
from _server import HOST, PG_ADMIN_DSN, BenchError, postgres_version, running_servers

BACKENDS = ("sqlite", "postgres")

EVENT = "bench"
DAY = datetime(2030, 10, 10, tzinfo=UTC)  # far ahead, so nothing is ever "in the past"
CHANNELS = 4
SLOT_MINUTES = 15  # back to back: 96 slots a channel, aligned across channels
# About 60 requests per person over 96 start times makes roughly half of them conflict
# (adjacent 15-minute slots are closer than the default 5-minute changeover allows).
REQUESTS_PER_PERSON = 60
WARMUP_REQUESTS = 50
SETUP_CONCURRENCY = 4

REQUEST_TIMEOUT_S = 30.0
PHASE_TIMEOUT_S = 300.0
MAX_REQUESTS = 100_000
MAX_CONCURRENCY = 256


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int  # 0 when no HTTP answer came (connection error, timeout)
    content: bytes
    seconds: float
    error: str = ""

    def json(self) -> Any:
        return json.loads(self.content) if self.content else None


@dataclass(slots=True)
class Phase:
    """N calls sent with C concurrent workers, and what came back."""

    outcomes: list[Outcome]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.outcomes) / self.seconds if self.seconds > 0 else 0.0

    def count(self, *statuses: int) -> int:
        return sum(1 for o in self.outcomes if o.status in statuses)

    def errors(self, *expected: int) -> Counter[str]:
        return Counter(
            o.error or f"HTTP {o.status}" for o in self.outcomes if o.status not in expected
        )

    def latency_ms(self, percentile: int) -> float:
        cuts = statistics.quantiles([o.seconds for o in self.outcomes], n=100)
        return cuts[percentile - 1] * 1000


@dataclass(slots=True)
class Result:
    backend: str
    healthz_before: Phase
    bookings: Phase
    healthz_after: Phase
    conflict_kinds: Counter[str] = field(default_factory=Counter)
    held: int = 0  # active bookings of the measured people in the schedule afterwards
    rule_breaks: int = 0  # pairs of them closer than the changeover: must be 0

    @property
    def errors(self) -> Counter[str]:
        errors = (
            self.healthz_before.errors(200)
            + self.bookings.errors(201, 409)
            + self.healthz_after.errors(200)
        )
        if self.rule_breaks:
            errors["double-booked in the schedule"] += self.rule_breaks
        if self.held != self.bookings.count(201):
            errors["schedule holds a different number of bookings than were created"] += 1
        return errors


# --- talking to the server -----------------------------------------------------------------


async def _send(client: httpx.AsyncClient, call: Call, headers: dict[str, str]) -> Outcome:
    started = time.perf_counter()
    try:
        response = await client.request(call.method, call.path, json=call.body, headers=headers)
    except httpx.HTTPError as error:
        return Outcome(0, b"", time.perf_counter() - started, type(error).__name__)
    return Outcome(response.status_code, response.content, time.perf_counter() - started)


async def run_phase(
    client: httpx.AsyncClient,
    calls: Sequence[Call],
    concurrency: int,
    headers: dict[str, str] | None = None,
) -> Phase:
    """Send every call, ``concurrency`` at a time, and time the whole batch."""
    outcomes: list[Outcome | None] = [None] * len(calls)
    pending = iter(range(len(calls)))
    sent_headers = headers or {}

    async def worker() -> None:
        for index in pending:  # one shared iterator: each call is taken by exactly one worker
            outcomes[index] = await _send(client, calls[index], sent_headers)

    started = time.perf_counter()
    try:
        async with asyncio.timeout(PHASE_TIMEOUT_S), asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(calls))):
                group.create_task(worker())
    except TimeoutError as error:
        raise BenchError(f"{len(calls)} requests took over {PHASE_TIMEOUT_S:.0f}s") from error
    seconds = time.perf_counter() - started
    return Phase([o for o in outcomes if o is not None], seconds)


async def run_checked(
    client: httpx.AsyncClient,
    calls: Sequence[Call],
    concurrency: int,
    headers: dict[str, str],
    expected: int = 201,
) -> list[Any]:
    """Setup calls: every one must answer ``expected``; their JSON bodies, in order."""
    phase = await run_phase(client, calls, concurrency, headers)
    for call, outcome in zip(calls, phase.outcomes, strict=True):
        if outcome.status != expected:
            detail = outcome.error or outcome.content[:300].decode(errors="replace")
            raise BenchError(f"{call.method} {call.path}: {outcome.status} {detail}")
    return [outcome.json() for outcome in phase.outcomes]


def healthz_calls(count: int) -> list[Call]:
    return [Call("GET", "/healthz")] * count


# --- building the schedule through the API --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    slot_ids: list[str]
    person_ids: list[str]
    warmup_person_id: str


def _at(minutes: int) -> str:
    return (DAY + timedelta(minutes=minutes)).isoformat()


def slot_calls(event: str) -> list[Call]:
    calls = []
    for start in range(0, 24 * 60, SLOT_MINUTES):
        for channel in range(CHANNELS):
            body = {
                "channel": f"ch-{channel}",
                "title": f"Session {start // 60:02d}:{start % 60:02d}",
                "starts_at": _at(start),
                "ends_at": _at(start + SLOT_MINUTES),
            }
            calls.append(Call("POST", f"/api/events/{event}/slots", body))
    return calls


def people_calls(count: int) -> list[Call]:
    return [
        Call("POST", "/api/people", {"name": f"Creator {i}", "handle": f"c{i}", "role": "creator"})
        for i in range(count)
    ]


async def build_schedule(client: httpx.AsyncClient, auth: dict[str, str], people: int) -> Schedule:
    event = EVENT
    body = {
        "slug": event,
        "title": "Booking benchmark",
        "timezone": "UTC",
        "starts_at": _at(0),
        "ends_at": _at(24 * 60),
    }
    await run_checked(client, [Call("POST", "/api/events", body)], 1, auth)
    channels = [
        Call("POST", f"/api/events/{event}/channels", {"slug": f"ch-{i}", "name": f"Channel {i}"})
        for i in range(CHANNELS)
    ]
    await run_checked(client, channels, 1, auth)
    slots = await run_checked(client, slot_calls(event), SETUP_CONCURRENCY, auth)
    created = await run_checked(client, people_calls(people + 1), SETUP_CONCURRENCY, auth)
    ids = [person["id"] for person in created]
    return Schedule([slot["id"] for slot in slots], ids[1:], ids[0])


def booking_calls(schedule: Schedule, count: int, seed: int) -> list[Call]:
    """``count`` distinct (person, slot) pairs, drawn at random so some succeed and some clash."""
    people, slots = schedule.person_ids, schedule.slot_ids
    pairs = random.Random(seed).sample(range(len(people) * len(slots)), count)
    return [
        Call(
            "POST",
            f"/api/slots/{slots[pair % len(slots)]}/bookings",
            {"person_id": people[pair // len(slots)], "role": "creator"},
        )
        for pair in pairs
    ]


def warmup_calls(schedule: Schedule, seed: int) -> list[Call]:
    """Bookings for a person the measured run never uses, so warming up changes nothing there."""
    slots = random.Random(seed).sample(schedule.slot_ids, WARMUP_REQUESTS)
    body = {"person_id": schedule.warmup_person_id, "role": "creator"}
    return [Call("POST", f"/api/slots/{slot}/bookings", body) for slot in slots]


async def check_schedule(
    client: httpx.AsyncClient, auth: dict[str, str], schedule: Schedule
) -> tuple[int, int]:
    """After the run, from the host's schedule: bookings held, and pairs that break a rule."""
    response = await client.get(f"/api/events/{EVENT}/schedule", headers=auth)
    if response.status_code != 200:
        raise BenchError(f"GET schedule: {response.status_code} {response.text[:300]}")
    data = response.json()
    changeover = timedelta(minutes=data["event"].get("changeover_minutes", 5))
    measured = set(schedule.person_ids)
    busy: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for slot in data["slots"]:
        times = (datetime.fromisoformat(slot["starts_at"]), datetime.fromisoformat(slot["ends_at"]))
        for booking in slot.get("bookings", []):
            if booking["person"]["id"] in measured:
                busy[booking["person"]["id"]].append(times)
    breaks = sum(
        1
        for times in busy.values()
        for (_, ends), (starts, _) in pairwise(sorted(times))
        if starts < ends + changeover
    )
    return sum(len(times) for times in busy.values()), breaks


def conflict_kinds(phase: Phase) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for outcome in phase.outcomes:
        if outcome.status == 409:
            extra = (outcome.json() or {}).get("extra") or [{"kind": "no kind"}]
            kinds.update({item.get("kind", "no kind") for item in extra})
    return kinds


# --- the server under test --------------------------------------------------------------------


def new_client(port: int, concurrency: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}",
        timeout=REQUEST_TIMEOUT_S,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        trust_env=False,  # never through a proxy: 127.0.0.1 only
    )


async def backend_version(backend: str, pg_admin_dsn: str) -> str:
    if backend == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    return await postgres_version(pg_admin_dsn)


# --- one backend, end to end ------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


async def timed_phase(
    client: httpx.AsyncClient,
    calls: Sequence[Call],
    args: argparse.Namespace,
    what: str,
    headers: dict[str, str] | None = None,
) -> Phase:
    phase = await run_phase(client, calls, args.concurrency, headers)
    log(f"  {len(calls)} x {what}: {phase.seconds:.1f}s, {phase.rate:,.0f} req/s")
    return phase


async def measure(
    client: httpx.AsyncClient, auth: dict[str, str], args: argparse.Namespace, backend: str
) -> Result:
    people = max(2, -(-args.requests // REQUESTS_PER_PERSON))
    started = time.perf_counter()
    schedule = await build_schedule(client, auth, people)
    log(
        f"{backend}: built {len(schedule.slot_ids)} slots on {CHANNELS} channels and"
        f" {people} people in {time.perf_counter() - started:.1f}s; warming up"
    )
    bookings = booking_calls(schedule, args.requests, args.seed)
    await run_phase(client, healthz_calls(WARMUP_REQUESTS), args.concurrency)
    await run_phase(client, warmup_calls(schedule, args.seed), args.concurrency, auth)
    before = await timed_phase(client, healthz_calls(args.requests), args, "GET /healthz")
    booked = await timed_phase(client, bookings, args, "POST /api/slots/{id}/bookings", auth)
    after = await timed_phase(client, healthz_calls(args.requests), args, "GET /healthz again")
    held, breaks = await check_schedule(client, auth, schedule)
    return Result(backend, before, booked, after, conflict_kinds(booked), held, breaks)


async def bench_backend(args: argparse.Namespace, backend: str) -> Result:
    log(f"{backend}: starting the server")
    async with running_servers(backend=backend, pg_admin_dsn=args.pg_admin_dsn) as cluster:
        port = cluster.servers[0].port
        async with new_client(port, args.concurrency) as client:
            try:
                log(f"{backend}: the server is ready on port {port}")
                return await measure(client, cluster.auth, args, backend)
            except BenchError as error:
                raise BenchError(f"{error}\n{cluster.log_tails()}") from error


# --- the report -------------------------------------------------------------------------------


def _n(value: float) -> str:
    return f"{value:,.0f}"


def table(results: Sequence[Result], labels: dict[str, str]) -> list[str]:
    lines = [
        "| backend | healthz req/s | bookings req/s | bookings/healthz"
        " | created (201) | refused (409) | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        ratio = r.bookings.rate / r.healthz_before.rate if r.healthz_before.rate else 0.0
        lines.append(
            f"| {labels[r.backend]} | {_n(r.healthz_before.rate)} | {_n(r.bookings.rate)}"
            f" | {ratio:.2f} | {_n(r.bookings.count(201))} | {_n(r.bookings.count(409))}"
            f" | {sum(r.errors.values())} |"
        )
    return lines


def details(result: Result) -> str:
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(result.conflict_kinds.items()))
    errors = ", ".join(f"{what} x{n}" for what, n in result.errors.most_common())
    b = result.bookings
    return (
        f"- {result.backend}: booking latency p50 {b.latency_ms(50):.0f} ms,"
        f" p95 {b.latency_ms(95):.0f} ms; 409 kinds: {kinds or 'none'};"
        f" schedule afterwards: {result.held} bookings held, {result.rule_breaks} double-booked;"
        f" healthz after the bookings {_n(result.healthz_after.rate)} req/s"
        + (f"; errors: {errors}" if errors else "")
    )


def report(
    results: Sequence[Result],
    failures: dict[str, str],
    labels: dict[str, str],
    args: argparse.Namespace,
) -> str:
    setup = (
        f"{args.requests} requests per phase, {args.concurrency} concurrent clients (httpx),"
        f" one server process (uvicorn, 1 worker) on the same {os.cpu_count()}-CPU machine,"
        f" Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end."
        " healthz measured right before the bookings."
    )
    return backends_report(table(results, labels), setup, [details(r) for r in results], failures)


# --- command line -----------------------------------------------------------------------------


def _backends(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BACKENDS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose among {','.join(BACKENDS)}")
    return list(dict.fromkeys(names))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--requests",
        type=bounded(WARMUP_REQUESTS, MAX_REQUESTS),
        default=2000,
        help="requests per phase (healthz before, bookings, healthz after); default 2000",
    )
    parser.add_argument(
        "--concurrency",
        type=bounded(1, MAX_CONCURRENCY),
        default=16,
        help="concurrent client tasks; default 16",
    )
    parser.add_argument(
        "--backends",
        type=_backends,
        default=list(BACKENDS),
        help="comma-separated, among sqlite,postgres; default both",
    )
    parser.add_argument("--seed", type=int, default=1, help="which (person, slot) pairs; default 1")
    parser.add_argument(
        "--pg-admin-dsn",
        default=PG_ADMIN_DSN,
        help=f"where to CREATE/DROP the scratch database; default {PG_ADMIN_DSN}",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    results: list[Result] = []
    failures: dict[str, str] = {}
    for backend in args.backends:
        try:
            results.append(await bench_backend(args, backend))
        except BenchError as error:
            log(f"{backend}: FAILED: {error}")
            failures[backend] = str(error)
    labels = {b: await backend_version(b, args.pg_admin_dsn) for b in args.backends}
    print(report(results, failures, labels, args))
    errors = sum(sum(r.errors.values()) for r in results)
    return 1 if failures or errors else 0


def main() -> None:
    run_main(run, parse_args(), log, "interrupted: servers stopped, scratch databases dropped")


if __name__ == "__main__":
    main()
