"""Calendar feed throughput: cold renders, a cached render and a 304, against a static file.

What it measures: a real ``takeamoment serve`` process and an event of 1,000 slots (4 channels of
back-to-back 15-minute slots, each with tags, a description and one confirmed creator), built
through the API. Then, against ``GET /events/{slug}/calendar.ics``:

- **cold, every slot changed**: before each timed GET, an untimed ``PATCH`` renames the event,
  which bumps its change ``seq`` (so the GET misses the feed cache) and changes the text of every
  slot (so no remembered VEVENT can be reused): the GET loads and renders all 1,000 slots.
- **cold, one slot changed**: the same with a ``PATCH`` that renames one slot: the GET loads all
  1,000 slots and renders only that one VEVENT again. This is what the first fetch after a typical
  schedule change pays. (A distinct ``?tag=`` per request would also miss the feed cache, but
  would render a different, mostly empty feed.)
- **cached**: the same GET again: one indexed read of the event row, then the cached bytes.
- **304**: the same GET with ``If-None-Match``: the same read, then no body.

The baseline is the same server, in the same run, serving the same bytes as a static file
(``GET /_bench/static/feed.ics``, a Litestar static-files route mounted only when
``TAKEAMOMENT_BENCH_STATIC_DIR`` is set, as this script does). Every phase runs once with one
client sending requests one after another (requests per second = 1 / mean latency), and the
cached, 304 and static phases run again with C concurrent clients. A cold render cannot run
concurrently: each needs its own schedule change, so that column is empty for it.

Run: ``.venv/bin/python bench/feeds.py [--cold N] [--requests N] [--concurrency C]
[--backend sqlite|postgres]``. Progress goes to stderr; stdout is a Markdown table and the
command that produced it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from _report import command_line, run_main
from _server import PG_ADMIN_DSN, BenchError, running_servers

# Shared with the booking benchmark: the HTTP client and how it sends calls.
from bookings import DAY, Call, backend_version, log, new_client, run_checked, run_phase

EVENT = "feeds"
CHANNELS = 4
SLOTS_PER_CHANNEL = 250  # 1,000 slots
SLOT_MINUTES = 15
PEOPLE = 40  # each on every tenth slot of one channel: never closer than the changeover
SETUP_CONCURRENCY = 4
WARMUP_REQUESTS = 20
DESCRIPTION = "Breathe in for four, hold for four, out for six. Questions welcome."
FEED = f"/events/{EVENT}/calendar.ics"
STATIC = "/_bench/static/feed.ics"


@dataclass(frozen=True, slots=True)
class Timing:
    """One phase: each request's latency when sent one at a time, and the rate under load."""

    label: str
    latencies: list[float]
    concurrent_rate: float | None = None

    @property
    def sequential_rate(self) -> float:
        return len(self.latencies) / sum(self.latencies)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000


# --- building the event through the API --------------------------------------------------------


def _at(minutes: int) -> str:
    return (DAY + timedelta(minutes=minutes)).isoformat()


def slot_calls() -> list[Call]:
    calls = []
    for step in range(SLOTS_PER_CHANNEL):
        start = step * SLOT_MINUTES
        for channel in range(CHANNELS):
            body = {
                "channel": f"ch-{channel}",
                "title": f"Session {step} on channel {channel}",
                "description": DESCRIPTION,
                "tags": ["calm", f"channel-{channel}"],
                "starts_at": _at(start),
                "ends_at": _at(start + SLOT_MINUTES),
            }
            calls.append(Call("POST", f"/api/events/{EVENT}/slots", body))
    return calls


async def build_event(client: httpx.AsyncClient, auth: dict[str, str]) -> list[str]:
    """The published event, its 1,000 slots and a confirmed creator on each; the slot ids."""
    minutes = SLOTS_PER_CHANNEL * SLOT_MINUTES
    body = {
        "slug": EVENT,
        "title": "Feed benchmark",
        "timezone": "Europe/London",
        "starts_at": _at(0),
        "ends_at": _at(minutes),
        "hashtags": ["#MentalHealth", "#SelfCare"],
        "safety_resources": [{"name": "Samaritans", "phone": "116 123", "region": "UK"}],
    }
    await run_checked(client, [Call("POST", "/api/events", body)], 1, auth)
    channels = [
        Call("POST", f"/api/events/{EVENT}/channels", {"slug": f"ch-{i}", "name": f"Channel {i}"})
        for i in range(CHANNELS)
    ]
    await run_checked(client, channels, 1, auth)
    slots = await run_checked(client, slot_calls(), SETUP_CONCURRENCY, auth)
    people_calls = [
        Call("POST", "/api/people", {"name": f"Creator {i}", "handle": f"c{i}", "role": "creator"})
        for i in range(PEOPLE)
    ]
    people = await run_checked(client, people_calls, SETUP_CONCURRENCY, auth)
    # Slot k is step k // CHANNELS on channel k % CHANNELS; person k % PEOPLE takes it.
    invites = [
        Call("POST", f"/api/slots/{slot['id']}/bookings", {"person_id": p["id"], "role": "creator"})
        for k, slot in enumerate(slots)
        for p in [people[k % PEOPLE]]
    ]
    bookings = await run_checked(client, invites, SETUP_CONCURRENCY, auth)
    for index, person in enumerate(people):  # each accepts their own, with their own token
        headers = {"Authorization": f"Bearer {person['token']}"}
        accepts = [
            Call("POST", f"/api/bookings/{booking['id']}/accept")
            for booking in bookings[index::PEOPLE]
        ]
        await run_checked(client, accepts, SETUP_CONCURRENCY, headers, expected=200)
    await run_checked(client, [Call("POST", f"/api/events/{EVENT}/publish")], 1, auth, 200)
    return [slot["id"] for slot in slots]


# --- the phases -------------------------------------------------------------------------------


async def timed(request: Callable[[], Awaitable[httpx.Response]], expected: int) -> float:
    started = time.perf_counter()
    response = await request()
    seconds = time.perf_counter() - started
    if response.status_code != expected:
        raise BenchError(f"expected {expected}, got {response.status_code}: {response.text[:200]}")
    return seconds


async def sequential(
    client: httpx.AsyncClient, path: str, count: int, expected: int, headers: dict[str, str]
) -> list[float]:
    return [await timed(lambda: client.get(path, headers=headers), expected) for _ in range(count)]


async def cold_renders(
    client: httpx.AsyncClient, auth: dict[str, str], path: str, count: int
) -> list[float]:
    """Rename what ``path`` names (untimed), then time the GET that has to render the feed again."""
    latencies, etags = [], []
    for index in range(count):
        body = {"title": f"Renamed {index % 2}"}
        await run_checked(client, [Call("PATCH", path, body)], 1, auth, 200)
        started = time.perf_counter()
        response = await client.get(FEED)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise BenchError(f"cold GET: {response.status_code} {response.text[:200]}")
        etags.append(response.headers["etag"])
    if any(before == after for before, after in zip(etags, etags[1:], strict=False)):
        raise BenchError("a cold GET returned the previous feed: it was not re-rendered")
    return latencies


async def concurrent_rate(
    client: httpx.AsyncClient, path: str, args: argparse.Namespace, expected: int, **headers: str
) -> float:
    phase = await run_phase(client, [Call("GET", path)] * args.requests, args.concurrency, headers)
    bad = phase.errors(expected)
    if bad:
        raise BenchError(f"GET {path} under load: {dict(bad)}")
    return phase.rate


async def measure(
    client: httpx.AsyncClient, auth: dict[str, str], static_dir: Path, args: argparse.Namespace
) -> tuple[list[Timing], int]:
    started = time.perf_counter()
    slot_ids = await build_event(client, auth)
    log(f"built {len(slot_ids)} slots with a creator each in {time.perf_counter() - started:.0f}s")
    first = await client.get(FEED)
    if first.status_code != 200:
        raise BenchError(f"GET {FEED}: {first.status_code} {first.text[:200]}")
    (static_dir / "feed.ics").write_bytes(first.content)  # the same bytes, as a static file
    etag = {"If-None-Match": first.headers["etag"]}
    for path in (STATIC, FEED):
        await sequential(client, path, WARMUP_REQUESTS, 200, {})

    n = args.requests
    static = await sequential(client, STATIC, n, 200, {})
    cached = await sequential(client, FEED, n, 200, {})
    not_modified = await sequential(client, FEED, n, 304, etag)
    log(f"sequential phases done; 2 x {args.cold} cold renders of {len(first.content):,} bytes")
    every_slot = await cold_renders(client, auth, f"/api/events/{EVENT}", args.cold)
    one_slot = await cold_renders(client, auth, f"/api/slots/{slot_ids[0]}", args.cold)
    # The concurrent phases after the cold ones: the cache holds the feed as it is now.
    fresh = await client.get(FEED)
    etag = {"If-None-Match": fresh.headers["etag"]}
    timings = [
        Timing("static file (baseline)", static, await concurrent_rate(client, STATIC, args, 200)),
        Timing("feed, cached render", cached, await concurrent_rate(client, FEED, args, 200)),
        Timing("feed, 304", not_modified, await concurrent_rate(client, FEED, args, 304, **etag)),
        Timing("feed, cold, one slot changed", one_slot),
        Timing("feed, cold, every slot changed", every_slot),
    ]
    return timings, len(first.content)


# --- the report -------------------------------------------------------------------------------


def _rate(per_second: float) -> str:
    return f"{per_second:,.1f}" if per_second < 10 else f"{per_second:,.0f}"


def _ratio(value: float) -> str:
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def table(timings: Sequence[Timing], concurrency: int) -> list[str]:
    base = timings[0]
    lines = [
        f"| response | req/s, 1 client | vs static | p50 ms | req/s, {concurrency} clients"
        " | vs static |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in timings:
        loaded = "n/a | n/a"
        if t.concurrent_rate is not None and base.concurrent_rate:
            loaded = (
                f"{_rate(t.concurrent_rate)} | {_ratio(t.concurrent_rate / base.concurrent_rate)}"
            )
        alone = f"{_rate(t.sequential_rate)} | {_ratio(t.sequential_rate / base.sequential_rate)}"
        lines.append(f"| {t.label} | {alone} | {t.p50_ms:.1f} | {loaded} |")
    return lines


def report(timings: Sequence[Timing], size: int, backend: str, args: argparse.Namespace) -> str:
    setup = (
        f"One event of {CHANNELS * SLOTS_PER_CHANNEL:,} slots; the feed is {size:,} bytes."
        f" {args.requests} requests per phase ({args.cold} of each cold kind), httpx client on"
        f" the same {os.cpu_count()}-CPU machine as the server (uvicorn, 1 worker), {backend},"
        f" Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end."
    )
    return "\n".join(
        [*table(timings, args.concurrency), "", setup, "", f"Command: `{command_line()}`"]
    )


# --- command line -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cold", type=int, default=30, help="cold renders to time; default 30")
    parser.add_argument(
        "--requests", type=int, default=1000, help="requests per other phase; default 1000"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="clients in the loaded phases; default 8"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-admin-dsn", default=PG_ADMIN_DSN)
    args = parser.parse_args(argv)
    if not (
        1 <= args.cold <= 1000 and 10 <= args.requests <= 100_000 and 1 <= args.concurrency <= 256
    ):
        parser.error("--cold 1..1000, --requests 10..100000, --concurrency 1..256")
    return args


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="tam-bench-feeds-") as tmp:
        workdir = Path(tmp)
        static_dir = workdir / "static"  # the benchmark-only static route serves this
        static_dir.mkdir()
        log(f"starting the server ({args.backend})")
        async with running_servers(
            backend=args.backend,
            pg_admin_dsn=args.pg_admin_dsn,
            extra_env={"TAKEAMOMENT_BENCH_STATIC_DIR": str(static_dir)},
            workdir=workdir,
        ) as cluster:
            port = cluster.servers[0].port
            async with new_client(port, args.concurrency) as client:
                try:
                    log(f"the server is ready on port {port}")
                    timings, size = await measure(client, cluster.auth, static_dir, args)
                except BenchError as error:
                    log(f"FAILED: {error}\n{cluster.log_tails()}")
                    return 1
    print(report(timings, size, await backend_version(args.backend, args.pg_admin_dsn), args))
    return 0


def main() -> None:
    run_main(run, parse_args(), log, "interrupted: server stopped, scratch database dropped")


if __name__ == "__main__":
    main()
