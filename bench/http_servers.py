"""HTTP throughput per server stack: our reads and a host write against a minimal Litestar route.

What it measures: for each server stack (``takeamoment serve --server ...``: ``uvicorn-h11``,
uvicorn on asyncio with h11 as it ran before; ``uvicorn``, on uvloop with httptools; ``granian``,
Granian's ASGI interface on uvloop), one server process on a fresh SQLite database seeded by
``load.py``'s ``seed`` (4 channels of 25 slots, 20 people booked and confirmed). Then the phases,
each ``--seconds`` long with ``--connections`` keep-alive connections sending one request after
another:

- ``minimal``: ``GET /healthz``, a Litestar handler that returns a two-key dict through the
  whole app (its middleware included): **the baseline** every other row is divided by;
- ``schedule``: ``GET /api/events/load/schedule`` (100 slots with their people) with
  ``Accept-Encoding: gzip``, as browsers send it; ``schedule, no gzip``: without;
- ``calendar``: ``GET /events/load/calendar.ics`` with ``Accept-Encoding: gzip``, as calendar
  apps send it: the cached render after the first request;
- ``calendar 304``: the same with ``If-None-Match`` (the current ETag);
- ``host write``: ``PATCH /api/slots/{id}`` renaming a slot (a write transaction, a change-log
  row, a publish), with the host's bearer token.

Every server is up for the whole run, and the phases rotate over kinds and servers, round after
round, so that background load on a shared machine weighs on all of them alike. Rates add up
every round. The load client (``_httpload.py``) runs in separate processes; its CPU and the
server's are reported per server, with the load average before and after.

Run: ``.venv/bin/python bench/http_servers.py [--servers uvicorn-h11,uvicorn,granian]
[--seconds 3] [--rounds 2] [--connections 16]``.
Progress goes to stderr; stdout is a Markdown table, the notes and the command.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _httpload import HttpLoad, Phase, request_bytes
from _report import bounded, command_line, percentile, run_main
from _server import Cluster, running_servers
from load import EVENT, cpu_seconds, seed

KINDS = ("minimal", "schedule", "schedule, no gzip", "calendar", "calendar 304", "host write")
GZIP = {"Accept-Encoding": "gzip"}  # as browsers and calendar apps send
SERVERS = ("uvicorn-h11", "uvicorn", "granian")
TARGETS = {"schedule": 0.5, "calendar": 0.8}  # at least this share of the minimal route's rate


def log(message: str) -> None:
    print(f"[http] {message}", file=sys.stderr, flush=True)


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Granian serves from worker processes)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += tree(int(child))
    return found


@dataclass(slots=True)
class Target:
    """One server stack under test, seeded, and what it measured per kind."""

    name: str
    cluster: Cluster
    slot_ids: list[str]
    statuses: dict[str, Counter[int | str]] = field(default_factory=lambda: defaultdict(Counter))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    busy_seconds: float = 0.0
    writes: int = 0

    @property
    def port(self) -> int:
        return self.cluster.servers[0].port

    def rate(self, kind: str) -> float:
        return len(self.latencies[kind]) / self.seconds[kind] if self.seconds[kind] else 0.0

    def ratio(self, kind: str) -> float:
        minimal = self.rate("minimal")
        return self.rate(kind) / minimal if minimal else 0.0

    def add(self, kind: str, phase: Phase) -> None:
        self.statuses[kind].update(phase.statuses)
        self.latencies[kind] += phase.latencies
        self.seconds[kind] += phase.seconds


async def requests_for(target: Target, kind: str) -> list[bytes]:
    port, auth = target.port, target.cluster.auth
    if kind == "minimal":
        return [request_bytes("GET", "/healthz", port)]
    if kind.startswith("schedule"):
        headers = GZIP if kind == "schedule" else {}
        return [request_bytes("GET", f"/api/events/{EVENT}/schedule", port, headers)]
    calendar = f"/events/{EVENT}/calendar.ics"
    if kind == "calendar":
        return [request_bytes("GET", calendar, port, GZIP)]
    if kind == "calendar 304":
        async with httpx.AsyncClient(base_url=target.cluster.servers[0].url) as client:
            etag = (await client.get(calendar, headers=GZIP)).headers["etag"]
        return [request_bytes("GET", calendar, port, {**GZIP, "If-None-Match": etag})]
    requests = []
    for slot_id in target.slot_ids[:8]:  # renames alternate, so every one changes something
        for title in ("Renamed A", "Renamed B"):
            body = f'{{"title": "{title} {target.writes}"}}'.encode()
            requests.append(request_bytes("PATCH", f"/api/slots/{slot_id}", port, auth, body))
    target.writes += 1
    return requests


async def run_phase(load: HttpLoad, target: Target, kind: str, args: argparse.Namespace) -> None:
    requests = await requests_for(target, kind)
    servers = [p for s in target.cluster.servers for p in tree(s.process.pid)]
    server_before, client_before = cpu_seconds(servers), cpu_seconds(load.pids)
    phase = await load.phase(target.port, requests, args.connections, args.seconds)
    target.server_cpu += cpu_seconds(servers) - server_before
    target.client_cpu += cpu_seconds(load.pids) - client_before
    target.busy_seconds += phase.seconds
    target.add(kind, phase)
    log(f"{target.name:12} {kind:17} {phase.rate:8.0f} req/s {dict(phase.statuses)}")


async def start_target(stack: contextlib.AsyncExitStack, name: str) -> Target:
    cluster = await stack.enter_async_context(
        running_servers(backend="sqlite", serve_args=("--server", name))
    )
    async with httpx.AsyncClient(base_url=cluster.servers[0].url, timeout=30) as client:
        seeded = await seed(client, cluster.auth)
    log(f"{name}: seeded on port {cluster.servers[0].port}")
    return Target(name, cluster, seeded.slots[0])


def table(targets: Sequence[Target]) -> list[str]:
    lines = [
        "| server | " + " | ".join(f"{k} req/s (× minimal)" for k in KINDS) + " |",
        "| --- |" + " ---: |" * len(KINDS),
    ]
    for t in targets:
        cells = [f"{t.rate('minimal'):,.0f}"]
        cells += [f"{t.rate(k):,.0f} ({t.ratio(k):.2f})" for k in KINDS[1:]]
        lines.append(f"| {t.name} | " + " | ".join(cells) + " |")
    return lines


def latency_line(t: Target) -> str:
    def p50(kind: str) -> str:
        values = t.latencies[kind]
        return f"{percentile(values, 50) * 1000:.1f}" if values else "n/a"

    errors = {
        k: {s: n for s, n in t.statuses[k].items() if not (isinstance(s, int) and s < 400)}
        for k in KINDS
    }
    errors = {k: v for k, v in errors.items() if v}
    busy = t.busy_seconds or 1.0
    return (
        f"- {t.name}: p50 ms "
        + ", ".join(f"{k} {p50(k)}" for k in KINDS)
        + f"; server CPU {t.server_cpu / busy:.2f}, load client CPU {t.client_cpu / busy:.2f}"
        f" (CPUs while measured); answers other than 2xx/3xx: {errors or 'none'}"
    )


def verdicts(targets: Sequence[Target]) -> list[str]:
    lines = []
    for t in targets:
        checks = [
            f"{kind} {t.ratio(kind):.2f}× (target ≥ {share}: "
            + ("met" if t.ratio(kind) >= share else "NOT met")
            + ")"
            for kind, share in TARGETS.items()
        ]
        lines.append(f"- {t.name}: " + "; ".join(checks))
    fastest = max(targets, key=lambda t: t.rate("schedule"))
    lines.append(f"- Most schedule requests per second: {fastest.name}.")
    return lines


def report(targets: Sequence[Target], args: argparse.Namespace, load_start: float) -> str:
    setup = (
        f"{args.rounds} rounds of {args.seconds:g} s per kind and server, rotating;"
        f" {args.connections} keep-alive connections from {args.processes} load-client"
        f" processes; one server process each, SQLite, access log off. {os.cpu_count()} CPUs,"
        f" load average {load_start:.1f} at the start and {os.getloadavg()[0]:.1f} at the end."
    )
    lines = [*table(targets), "", setup, ""]
    lines += [latency_line(t) for t in targets]
    lines += verdicts(targets)
    lines += ["", f"Command: `{command_line()}`"]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    load_start = os.getloadavg()[0]
    log(f"load average {load_start:.1f}")
    async with contextlib.AsyncExitStack() as stack:
        targets = [await start_target(stack, name) for name in args.servers]
        load = await stack.enter_async_context(HttpLoad(args.processes))
        for round_number in range(args.rounds):
            log(f"round {round_number + 1} of {args.rounds}")
            for kind in KINDS:
                for target in targets:
                    await run_phase(load, target, kind, args)
        print(report(targets, args, load_start))
    log(f"load average {os.getloadavg()[0]:.1f}")
    return 0


def _servers(value: str) -> list[str]:
    names = [part.strip() for part in value.split(",") if part.strip()]
    unknown = set(names) - set(SERVERS)
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"a comma-separated list of {', '.join(SERVERS)}")
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--servers", type=_servers, default=list(SERVERS))
    parser.add_argument("--seconds", type=bounded(1, 120, float), default=3.0)
    parser.add_argument("--rounds", type=bounded(1, 20), default=2)
    parser.add_argument("--connections", type=bounded(1, 256), default=16)
    parser.add_argument("--processes", type=bounded(1, 8), default=1)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_main(run, parse_args(), log, "interrupted: servers and load clients stopped")
