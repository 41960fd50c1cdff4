"""Follows: 10,000 browsers following one session, the host takes it live, vs a baseline.

What it measures: for each backend a real ``takeamoment serve`` process (push endpoints on
127.0.0.1 allowed) holds one published event whose slot N browsers (10,000 by default) follow
through ``POST /api/events/{slug}/follows``, each with its own subscription of the push service
the tests use (``tests/delivery/receivers.py``, in a process of its own: it checks every VAPID
JWT and decrypts every payload). The host then takes the slot live: one transaction writes the
notice and N ``follow_delivery`` rows, and the server's delivery worker sends them. Measured:
from the go-live's commit (the rows visible in the database, read directly every 10 ms) until
the push service has all N payloads (polled every 10 ms); the go-live's own time (request to
commit, writing the N rows) is shown too.

The baseline, in the same run, against the same push service: the same N payloads (the notice's JSON
with an unfollow link each) encrypted (``http_ece``) and POSTed with one ``aiohttp`` session (the
server's HTTP client) in a plain loop, one after another; and a concurrent baseline of 16 such loops
side by side (the server's default ``TAKEAMOMENT_DELIVERY_CONCURRENCY``). ``ratio`` = ours /
baseline: what the outbox (claims, rows, outcomes recorded, exactly once across a crash) costs over
sending the same bytes with nothing kept. Target: ≤ 1.3× the plain loop.

Run: ``.venv/bin/python bench/follows.py [--followers N] [--backend sqlite|postgres]``.
Progress goes to stderr; stdout gets a Markdown table, the details and the command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the receivers of tests/delivery

import httpx  # noqa: E402
from _report import backends_report, run_main  # noqa: E402
from _server import PG_ADMIN_DSN, BenchError, running_servers  # noqa: E402
from bookings import Call, backend_version, log, run_checked  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from delivery import CONCURRENT_PUSHES, plain_pushes, receivers  # noqa: E402

BACKENDS = ("sqlite", "postgres")
DEFAULT_FOLLOWERS = 10_000
SETUP_CONCURRENCY = 16
POLL_S = 0.01
ARRIVAL_TIMEOUT_S = 900.0


@dataclass(slots=True)
class Result:
    backend: str
    followers: int
    go_live_s: float
    ours_s: float
    plain_s: float
    concurrent_s: float
    load_before: float
    load_after: float
    errors: int


async def pushes(client: httpx.AsyncClient, push_url: str) -> dict[str, int]:
    answer: dict[str, int] = (await client.get(f"{push_url}/_counts")).json()
    return answer


async def all_arrived(client: httpx.AsyncClient, push_url: str, n: int, start: float) -> float:
    """Seconds from ``start`` until the push service has ``n`` payloads."""
    deadline = start + ARRIVAL_TIMEOUT_S
    while True:
        got = await pushes(client, push_url)
        now = time.perf_counter()
        if got["pushes"] >= n:
            return now - start
        if now > deadline:
            raise BenchError(f"not every push arrived in {ARRIVAL_TIMEOUT_S:.0f}s: {got}")
        await asyncio.sleep(POLL_S)


async def setup(
    client: httpx.AsyncClient, auth: dict[str, str], push_url: str, followers: int
) -> str:
    """A published event with one slot, followed by ``followers`` browsers."""
    event = {
        "slug": "follows",
        "title": "Follows",
        "timezone": "Europe/London",
        "starts_at": "2030-10-10T08:00:00Z",
        "ends_at": "2030-10-10T20:00:00Z",
    }
    await run_checked(client, [Call("POST", "/api/events", event)], 1, auth)
    channel = Call("POST", "/api/events/follows/channels", {"slug": "main", "name": "Main"})
    await run_checked(client, [channel], 1, auth)
    await run_checked(client, [Call("POST", "/api/events/follows/publish")], 1, auth, 200)
    body = {
        "channel": "main",
        "title": "Small habits that carried me through",
        "starts_at": "2030-10-10T09:30:00Z",
        "ends_at": "2030-10-10T10:00:00Z",
    }
    (slot,) = await run_checked(client, [Call("POST", "/api/events/follows/slots", body)], 1, auth)
    subs = (await client.post(f"{push_url}/_subscriptions?n={followers}", timeout=300)).json()
    calls = [
        Call("POST", "/api/events/follows/follows", {"subscription": s, "slot_id": slot["id"]})
        for s in subs
    ]
    await run_checked(client, calls, SETUP_CONCURRENCY, {})
    log(f"  {followers} browsers follow the slot")
    return str(slot["id"])


async def commit_seen(database_url: str, followers: int) -> float:
    """When the go-live's rows became visible in the database (its commit), read directly."""
    engine = create_async_engine(database_url)
    query = text("SELECT count(*) FROM follow_delivery")
    try:
        while True:
            async with engine.connect() as connection:
                if (await connection.execute(query)).scalar_one() >= followers:
                    return time.perf_counter()
            await asyncio.sleep(POLL_S)
    finally:
        await engine.dispose()


async def notice_payload(database_url: str) -> dict[str, Any]:
    """The notice the followers got, with an unfollow link as long as theirs."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(text("SELECT payload FROM follow_notice"))).one()
    finally:
        await engine.dispose()
    payload = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    return {**payload, "unfollow_url": "http://127.0.0.1:8000/follows/" + "x" * 56}


async def retries(database_url: str) -> tuple[int, str]:
    """How many deliveries took more than one try, and one of their errors."""
    engine = create_async_engine(database_url)
    query = text(
        "SELECT count(*), max(last_error) FROM follow_delivery"
        " WHERE attempts > 1 OR last_error IS NOT NULL"
    )
    try:
        async with engine.connect() as connection:
            count, error = (await connection.execute(query)).one()
    finally:
        await engine.dispose()
    return int(count), str(error or "")


async def bench_backend(args: argparse.Namespace, backend: str) -> Result:
    log(f"{backend}: starting the push service and the server")
    async with contextlib.AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tam-follows-")))
        where = await stack.enter_async_context(receivers(workdir))
        env = {
            "TAKEAMOMENT_OUTBOUND_ALLOW_PRIVATE": "true",
            "TAKEAMOMENT_DELIVERY_CONCURRENCY": str(args.concurrency),
        }
        cluster = await stack.enter_async_context(
            running_servers(backend=backend, pg_admin_dsn=args.pg_admin_dsn, extra_env=env)
        )
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=cluster.servers[0].url, timeout=60, trust_env=False)
        )
        slot_id = await setup(client, cluster.auth, where.push_url, args.followers)
        load_before = os.getloadavg()[0]
        log(f"{backend}: measuring (load average {load_before:.2f})")
        await client.post(f"{where.push_url}/_reset")
        started = time.perf_counter()
        watching = asyncio.create_task(commit_seen(cluster.database_url, args.followers))
        arriving = asyncio.create_task(all_arrived(client, where.push_url, args.followers, started))
        response = await client.post(
            f"/api/slots/{slot_id}/live", json={"early": True}, headers=cluster.auth, timeout=600
        )
        if response.status_code != 200:
            raise BenchError(f"go live: {response.status_code} {response.text[:300]}")
        committed = await watching
        go_live_s = committed - started
        ours_s = await arriving - go_live_s
        log(f"  ours: go-live {go_live_s:.2f}s, then all pushes {ours_s:.2f}s")
        retried, error = await retries(cluster.database_url)
        log(f"  deliveries tried more than once: {retried} {error}")
        notice = await notice_payload(cluster.database_url)
        baselines = []
        for at_once in (1, CONCURRENT_PUSHES):
            subs = (
                await client.post(
                    f"{where.push_url}/_subscriptions?n={args.followers}", timeout=300
                )
            ).json()
            await client.post(f"{where.push_url}/_reset")
            start = time.perf_counter()
            await plain_pushes(subs, notice, at_once)
            baselines.append(time.perf_counter() - start)
            got = (await pushes(client, where.push_url))["pushes"]
            if got != args.followers:
                raise BenchError(f"the baseline delivered {got} of {args.followers}")
            log(f"  baseline, {at_once} at once: {baselines[-1]:.2f}s")
        errors = (await pushes(client, where.push_url))["errors"]
        return Result(
            backend,
            args.followers,
            go_live_s,
            ours_s,
            baselines[0],
            baselines[1],
            load_before,
            os.getloadavg()[0],
            errors,
        )


def table(results: Sequence[Result], labels: dict[str, str]) -> list[str]:
    lines = [
        "| backend | followers | go-live → commit s | ours: all pushes s | plain loop s"
        " | ours / plain | 16 loops s | ours / 16 loops |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {labels[r.backend]} | {r.followers:,} | {r.go_live_s:.2f} | {r.ours_s:.2f}"
            f" | {r.plain_s:.2f} | {r.ours_s / r.plain_s:.2f}× | {r.concurrent_s:.2f}"
            f" | {r.ours_s / r.concurrent_s:.2f}× |"
        )
    return lines


def details(r: Result) -> str:
    return (
        f"- {r.backend}: VAPID or decryption errors at the push service: {r.errors};"
        f" load average {r.load_before:.2f} before, {r.load_after:.2f} after"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--followers", type=int, default=DEFAULT_FOLLOWERS, help="followers")
    parser.add_argument("--backend", choices=BACKENDS, help="one backend (default: both)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=CONCURRENT_PUSHES,
        help="the server's TAKEAMOMENT_DELIVERY_CONCURRENCY (pushes under way at once)",
    )
    parser.add_argument("--pg-admin-dsn", default=PG_ADMIN_DSN, help="where the scratch db goes")
    args = parser.parse_args(argv)
    if not 1 <= args.followers <= 50_000:
        parser.error("--followers must be 1..50000")
    args.backends = [args.backend] if args.backend else list(BACKENDS)
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
    setup_text = (
        f"{args.followers:,} browsers follow one session; the host takes it live. One server"
        f" process sending {args.concurrency} pushes at a time,"
        f" the push service in another, on the same {os.cpu_count()}-CPU machine,"
        f" Python {platform.python_version()}. Times from the go-live's commit (the rows visible"
        " in the database) until the push service has every payload."
    )
    print(
        backends_report(table(results, labels), setup_text, [details(r) for r in results], failures)
    )
    return 1 if failures or any(r.errors for r in results) else 0


def main() -> None:
    run_main(run, parse_args(), log, "interrupted: servers stopped, scratch databases dropped")


if __name__ == "__main__":
    main()
