"""Webhooks: 1,000 changes to 20 webhooks (20,000 signed POSTs) vs a plain signing loop.

What it measures: for each backend a real ``takeamoment serve`` process (webhooks to 127.0.0.1
allowed) holds one event with N slots back to back on one channel (1,000 by default) and W
webhooks (20), all pointed at one receiver process (``tests/delivery/webhook_receiver.py``),
which verifies every message with ``standardwebhooks.Webhook(secret).verify``. The host then
delays the first slot by 5 minutes with cascade: one transaction moves all N slots, writes N
``slot.rescheduled`` changes and N×W webhook messages, and the server's webhook worker sends
them. Measured: from the commit (the messages visible in the database, read directly every
10 ms) until the receiver has verified all N×W (polled every 10 ms).

The baselines, in the same run, against the same receiver: the same N×W bodies (the messages' own
JSON, read back from the database) each signed with ``standardwebhooks`` and POSTed with one
``aiohttp`` session (the HTTP client the server sends with), first in a plain loop (one at a time),
then as many at a time as the server may send (``--concurrency``, the server's
``TAKEAMOMENT_DELIVERY_CONCURRENCY``, 16 by default). ``ratio`` = ours / baseline: what the outbox
(claims, rows, every try recorded, retries, order per webhook) costs over sending the same bytes
with nothing kept.

Run: ``.venv/bin/python bench/webhooks.py [--changes N] [--webhooks W]
[--backend sqlite|postgres]``. Progress goes to stderr; stdout gets a Markdown table, the
details and the command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the receiver of tests/delivery

import aiohttp  # noqa: E402
import httpx  # noqa: E402
from _report import backends_report, run_main  # noqa: E402
from _server import PG_ADMIN_DSN, BenchError, free_port, running_servers, stop  # noqa: E402
from bookings import Call, backend_version, log, run_checked  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402
from standardwebhooks import Webhook  # noqa: E402

BACKENDS = ("sqlite", "postgres")
DEFAULT_CHANGES = 1000
DEFAULT_WEBHOOKS = 20
SETUP_CONCURRENCY = 8
POLL_S = 0.01
ARRIVAL_TIMEOUT_S = 900.0
DEFAULT_CONCURRENCY = 16  # the server's default TAKEAMOMENT_DELIVERY_CONCURRENCY
SLOT_MINUTES = 10
FIRST_SLOT = datetime(2030, 10, 10, 8, tzinfo=UTC)


@dataclass(slots=True)
class Result:
    backend: str
    changes: int
    webhooks: int
    delay_s: float
    ours_s: float
    plain_s: float
    concurrent_s: float
    concurrency: int
    load_before: float
    load_after: float
    errors: int

    @property
    def messages(self) -> int:
        return self.changes * self.webhooks


# --- the receiver -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def receiver(workdir: Path) -> AsyncIterator[str]:
    """The receiver in a process of its own; yields its URL."""
    port = free_port()
    with (workdir / "receiver.log").open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "tests.delivery.webhook_receiver", str(port)),
            cwd=ROOT,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/_counts")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise BenchError("the receiver did not start")
        yield url
    finally:
        await stop(process)


async def counts(client: httpx.AsyncClient, url: str) -> dict[str, int]:
    counted: dict[str, int] = (await client.get(f"{url}/_counts")).json()
    return counted


async def arrival(client: httpx.AsyncClient, url: str, expected: int, start: float) -> float:
    """Seconds from ``start`` until the receiver has verified ``expected`` messages."""
    deadline = start + ARRIVAL_TIMEOUT_S
    while True:
        counted = await counts(client, url)
        now = time.perf_counter()
        if counted["received"] >= expected:
            return now - start
        if counted["errors"]:
            raise BenchError(f"the receiver refused messages: {counted}")
        if now > deadline:
            raise BenchError(f"not everything arrived in {ARRIVAL_TIMEOUT_S:.0f}s: {counted}")
        await asyncio.sleep(POLL_S)


# --- ours -------------------------------------------------------------------------------------


async def setup(
    client: httpx.AsyncClient, auth: dict[str, str], url: str, changes: int, webhooks: int
) -> tuple[str, dict[str, str]]:
    """The event, its ``changes`` slots back to back, then the webhooks; the first slot's id
    and each webhook's secret by receiver name."""
    last_end = FIRST_SLOT + timedelta(minutes=SLOT_MINUTES * changes)
    event = {
        "slug": "hooks",
        "title": "Webhooks",
        "timezone": "UTC",
        "starts_at": FIRST_SLOT.isoformat(),
        "ends_at": (last_end + timedelta(days=1)).isoformat(),
        "changeover_minutes": 0,
    }
    await run_checked(client, [Call("POST", "/api/events", event)], 1, auth)
    channel = Call("POST", "/api/events/hooks/channels", {"slug": "main", "name": "Main"})
    await run_checked(client, [channel], 1, auth)
    slots = [
        Call(
            "POST",
            "/api/events/hooks/slots",
            {
                "channel": "main",
                "title": f"Session {i}",
                "starts_at": (FIRST_SLOT + timedelta(minutes=SLOT_MINUTES * i)).isoformat(),
                "ends_at": (FIRST_SLOT + timedelta(minutes=SLOT_MINUTES * (i + 1))).isoformat(),
            },
        )
        for i in range(changes)
    ]
    made = await run_checked(client, slots, SETUP_CONCURRENCY, auth)
    first = min(made, key=lambda slot: slot["starts_at"])
    log(f"  {changes} slots made")
    secrets = {}
    for i in range(webhooks):
        body = {"url": f"{url}/hooks/h{i}", "types": ["slot.rescheduled"]}
        (created,) = await run_checked(
            client, [Call("POST", "/api/events/hooks/webhooks", body)], 1, auth
        )
        secrets[f"h{i}"] = created["secret"]
    await client.post(f"{url}/_secrets", json=secrets)
    log(f"  {webhooks} webhooks registered")
    return first["id"], secrets


async def commit_seen(database_url: str, messages: int) -> float:
    """When the delay's messages became visible in the database (its commit), read directly."""
    engine = create_async_engine(database_url)
    query = text("SELECT count(*) FROM webhook_message")
    try:
        while True:
            async with engine.connect() as connection:
                if (await connection.execute(query)).scalar_one() >= messages:
                    return time.perf_counter()
            await asyncio.sleep(POLL_S)
    finally:
        await engine.dispose()


async def measure_ours(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    url: str,
    slot_id: str,
    messages: int,
    database_url: str,
) -> tuple[float, float]:
    """(request → commit, commit → all verified at the receiver), in seconds."""
    started = time.perf_counter()
    watching = asyncio.create_task(commit_seen(database_url, messages))
    arriving = asyncio.create_task(arrival(client, url, messages, started))
    response = await client.post(
        f"/api/slots/{slot_id}/delay", json={"minutes": 5, "cascade": True}, headers=auth
    )
    if response.status_code != 200:
        raise BenchError(f"delay: {response.status_code} {response.text[:300]}")
    committed = await watching
    since_start = await arriving
    written = committed - started
    return written, since_start - written


# --- baselines --------------------------------------------------------------------------------


async def stored_messages(database_url: str) -> list[tuple[str, str, str]]:
    """(receiver name, webhook-id, body) of every message the server sent."""
    engine = create_async_engine(database_url)
    query = text(
        "SELECT w.url, m.id, m.body FROM webhook_message m JOIN webhook w ON w.id = m.webhook_id"
        " ORDER BY m.seq"
    )
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).all()
    finally:
        await engine.dispose()
    return [(row[0].rsplit("/", 1)[-1], f"msg_{row[1]}", row[2]) for row in rows]


async def measure_baseline(
    client: httpx.AsyncClient,
    url: str,
    messages: Sequence[tuple[str, str, str]],
    secrets: dict[str, str],
    at_once: int,
) -> float:
    """Sign and POST every message, ``at_once`` at a time; seconds until all were verified."""
    await client.post(f"{url}/_reset")
    signers = {name: Webhook(secret) for name, secret in secrets.items()}
    queue = list(reversed(messages))

    async def send_all(sender: aiohttp.ClientSession) -> None:
        while queue:
            name, msg_id, body = queue.pop()
            now = datetime.now(UTC)
            headers = {
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signers[name].sign(msg_id, now, body),
                "content-type": "application/json",
            }
            async with sender.post(f"{url}/hooks/{name}", data=body, headers=headers) as answer:
                await answer.read()
                if answer.status >= 300:
                    raise BenchError(f"the receiver answered {answer.status}")

    started = time.perf_counter()
    # Watched while sending, as ours is: the polling costs both runs the same.
    arriving = asyncio.create_task(arrival(client, url, len(messages), started))
    connector = aiohttp.TCPConnector(limit=at_once)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as sender:
        await asyncio.gather(*(send_all(sender) for _ in range(at_once)))
    return await arriving


# --- one backend ------------------------------------------------------------------------------


async def bench_backend(args: argparse.Namespace, backend: str) -> Result:
    log(f"{backend}: starting the receiver and the server")
    async with contextlib.AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tam-webhooks-")))
        url = await stack.enter_async_context(receiver(workdir))
        env = {
            "TAKEAMOMENT_OUTBOUND_ALLOW_PRIVATE": "true",
            "TAKEAMOMENT_DELIVERY_CONCURRENCY": str(args.concurrency),
        }
        cluster = await stack.enter_async_context(
            running_servers(backend=backend, pg_admin_dsn=args.pg_admin_dsn, extra_env=env)
        )
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=cluster.servers[0].url, timeout=600, trust_env=False)
        )
        slot_id, secrets = await setup(client, cluster.auth, url, args.changes, args.webhooks)
        messages = args.changes * args.webhooks
        load_before = os.getloadavg()[0]
        log(f"{backend}: measuring (load average {load_before:.2f})")
        delay_s, ours_s = await measure_ours(
            client, cluster.auth, url, slot_id, messages, cluster.database_url
        )
        log(f"  ours: delay → commit {delay_s:.2f}s, then all {messages:,} in {ours_s:.2f}s")
        stored = await stored_messages(cluster.database_url)
        if len(stored) != messages:
            raise BenchError(f"{len(stored)} messages stored, {messages} expected")
        plain_s = await measure_baseline(client, url, stored, secrets, 1)
        log(f"  plain loop: {plain_s:.2f}s")
        concurrent_s = await measure_baseline(client, url, stored, secrets, args.concurrency)
        log(f"  {args.concurrency} at a time: {concurrent_s:.2f}s")
        errors = (await counts(client, url))["errors"]
        return Result(
            backend,
            args.changes,
            args.webhooks,
            delay_s,
            ours_s,
            plain_s,
            concurrent_s,
            args.concurrency,
            load_before,
            os.getloadavg()[0],
            errors,
        )


# --- report -----------------------------------------------------------------------------------


def table(results: Sequence[Result], labels: dict[str, str]) -> list[str]:
    lines = [
        "| backend | changes × webhooks | delay → commit s | ours: all verified s"
        " | plain loop s | ours / plain | concurrent (N at a time) s | ours / concurrent |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {labels[r.backend]} | {r.changes:,} × {r.webhooks} | {r.delay_s:.2f}"
            f" | {r.ours_s:.2f} | {r.plain_s:.2f} | {r.ours_s / r.plain_s:.2f}×"
            f" | {r.concurrent_s:.2f} ({r.concurrency}) | {r.ours_s / r.concurrent_s:.2f}× |"
        )
    return lines


def details(r: Result) -> str:
    return (
        f"- {r.backend}: {r.messages:,} messages ({r.messages / r.ours_s:,.0f}/s ours,"
        f" {r.messages / r.plain_s:,.0f}/s plain loop); signatures refused at the receiver:"
        f" {r.errors}; load average {r.load_before:.2f} before, {r.load_after:.2f} after"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=DEFAULT_CHANGES, help="changes made")
    parser.add_argument("--webhooks", type=int, default=DEFAULT_WEBHOOKS, help="webhooks (≤ 20)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="TAKEAMOMENT_DELIVERY_CONCURRENCY for the server, and the concurrent baseline's",
    )
    parser.add_argument("--backend", choices=BACKENDS, help="one backend (default: both)")
    parser.add_argument("--pg-admin-dsn", default=PG_ADMIN_DSN, help="where the scratch db goes")
    args = parser.parse_args(argv)
    if not 1 <= args.changes <= 5000:
        parser.error("--changes must be 1..5000")
    if not 1 <= args.webhooks <= 20:
        parser.error("--webhooks must be 1..20 (an event's limit)")
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
    setup = (
        f"{args.changes:,} slots back to back and {args.webhooks} webhooks; the host delays the"
        f" first slot with cascade ({args.changes:,} changes in one transaction). One server"
        f" process, the receiver in another process, on the same {os.cpu_count()}-CPU machine,"
        f" Python {platform.python_version()}. Times from the delay's commit (the messages"
        " visible in the database) until the receiver has verified every message."
    )
    print(backends_report(table(results, labels), setup, [details(r) for r in results], failures))
    return 1 if failures or any(r.errors for r in results) else 0


def main() -> None:
    run_main(run, parse_args(), log, "interrupted: servers stopped, scratch databases dropped")


if __name__ == "__main__":
    main()
