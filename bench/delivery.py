"""Delivery: 2,000 people owed a notice at the same instant, by email and Web Push, vs a baseline.

What it measures: for each backend a real ``takeamoment serve`` process (email on, pointed at a
local SMTP server; push endpoints on 127.0.0.1 allowed) holds one slot with N people (2,000 by
default) invited to it, each with an email address and one browser subscribed to Web Push. The
receivers are the ones the tests use (``tests/delivery/receivers.py``), in a process of their
own: ``aiosmtpd`` parses every mail, and the push service checks every VAPID JWT and decrypts
every payload. The host then cancels the slot: one transaction writes N ``slot.cancelled``
notices and 2N delivery rows, and the server's delivery worker sends them. Measured: from the
commit (the moment the notices become visible in the database, read directly every 10 ms: the
cancel's answer comes later, once the real-time bus has had every notice, and the worker starts
before that) until the SMTP server has all N mails and the push service all N pushes. Each
receiver notes when its last one arrived, on the clock every process shares, and is asked only
every 0.25 s: asking every 10 ms (as before) took CPU from the receivers and the server on two
shared CPUs, a cost the baseline, timed with no one asking, did not pay. The time from the
cancel's request to its commit (writing the notices) is shown too.

The baseline, in the same run, against the same receivers: the same N mails (each composed by our
composer from the same notice, as the worker does) sent with ``aiosmtplib`` over one connection in a
plain loop, and the same N pushes encrypted (``http_ece``) and POSTed with one ``aiohttp`` session
(the HTTP client the server sends with) in a plain loop, the two loops running side by side as the
worker runs its channels; and a second, concurrent baseline with the server's defaults: 4 SMTP
connections and 16 pushes at a time. The server is given the plain loop's one SMTP connection
(``--smtp-connections``, 1 unless told) and sends 16 pushes at a time, its default
(``--pushes-at-once``). The same SMTP connections as the loop it is compared with: against receivers
on the same two shared CPUs, the concurrent baseline's 4 took 1.4–1.5× as long as one in two runs
and half as long in a third; it depends on the machine's other load.
``ratio`` = ours / baseline: what the outbox (claims, rows, outcomes recorded, retries
possible, exactly once) costs over sending the same bytes with nothing kept.

Run: ``.venv/bin/python bench/delivery.py [--people N] [--backend sqlite|postgres]
[--smtp-connections N] [--pushes-at-once N]``. Progress goes to stderr; stdout gets a Markdown
table, the details and the command.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the receivers of tests/delivery and the server's own composer

import aiohttp  # noqa: E402
import aiosmtplib  # noqa: E402
import httpx  # noqa: E402
from _report import backends_report, run_main  # noqa: E402
from _server import PG_ADMIN_DSN, BenchError, free_port, running_servers, stop  # noqa: E402
from bookings import Call, backend_version, log, run_checked  # noqa: E402
from py_vapid import Vapid02  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from takeamoment.delivery.email import Recipient, compose  # noqa: E402
from takeamoment.delivery.push import encrypt, push_payload  # noqa: E402
from takeamoment.services.mail_links import MailLinks  # noqa: E402

BACKENDS = ("sqlite", "postgres")
DEFAULT_PEOPLE = 2000
SETUP_CONCURRENCY = 16
POLL_S = 0.01  # the cancel's commit, watched in the database
ARRIVALS_POLL_S = 0.25  # the receivers, which time each arrival themselves
ARRIVAL_TIMEOUT_S = 600.0
MAIL_FROM = "takeamoment <notices@bench.test>"
# The server's defaults (TAKEAMOMENT_SMTP_CONNECTIONS, TAKEAMOMENT_DELIVERY_CONCURRENCY): the
# concurrent baseline's. The server runs with the plain loop's one SMTP connection, unless told.
SMTP_CONNECTIONS = 4
CONCURRENT_PUSHES = 16


@dataclass(frozen=True, slots=True)
class Arrival:
    mails_s: float
    pushes_s: float

    @property
    def both_s(self) -> float:
        return max(self.mails_s, self.pushes_s)


@dataclass(slots=True)
class Result:
    backend: str
    people: int
    cancel_s: float
    ours: Arrival
    plain: Arrival
    concurrent: Arrival
    load_before: float
    load_after: float
    errors: int


# --- receivers --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receivers:
    smtp_port: int
    smtp_control: str  # where the SMTP receiver answers /_counts
    push_url: str


async def _start(workdir: Path, name: str, *args: int) -> asyncio.subprocess.Process:
    with (workdir / f"{name}.log").open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "tests.delivery.receivers", name, *map(str, args)),
            cwd=ROOT,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )


@contextlib.asynccontextmanager
async def receivers(workdir: Path) -> AsyncIterator[Receivers]:
    """The SMTP server and the push service, each in a process of its own."""
    smtp_port, smtp_control, push_port = free_port(), free_port(), free_port()
    found = Receivers(
        smtp_port, f"http://127.0.0.1:{smtp_control}", f"http://127.0.0.1:{push_port}"
    )
    processes = [
        await _start(workdir, "smtp", smtp_port, smtp_control),
        await _start(workdir, "push", push_port),
    ]
    try:
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            for url in (found.smtp_control, found.push_url):
                for _ in range(200):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{url}/_counts")).status_code == 200:
                            break
                    await asyncio.sleep(0.05)
                else:
                    raise BenchError("the receivers did not start")
        yield found
    finally:
        await asyncio.gather(*(stop(p) for p in processes))


async def counts(client: httpx.AsyncClient, where: Receivers) -> dict[str, Any]:
    smtp, push = await asyncio.gather(
        client.get(f"{where.smtp_control}/_counts"), client.get(f"{where.push_url}/_counts")
    )
    mails, pushes = smtp.json(), push.json()
    return {
        "mails": mails["mails"],
        "pushes": pushes["pushes"],
        "errors": mails["errors"] + pushes["errors"],
        "last_mail_at": mails["last_mail_at"],
        "last_push_at": pushes["last_push_at"],
    }


async def reset(client: httpx.AsyncClient, where: Receivers) -> None:
    await client.post(f"{where.smtp_control}/_reset")
    await client.post(f"{where.push_url}/_reset")


async def arrivals(
    client: httpx.AsyncClient, where: Receivers, people: int, start: float
) -> Arrival:
    """Seconds from ``start`` until all mails, and all pushes, had arrived: the receivers note
    when each arrived (on the clock ``time.perf_counter`` reads in every process), so asking
    them every ``ARRIVALS_POLL_S`` is enough, and the asking takes little from the sending."""
    deadline = start + ARRIVAL_TIMEOUT_S
    while True:
        now_counts = await counts(client, where)
        if now_counts["mails"] >= people and now_counts["pushes"] >= people:
            return Arrival(now_counts["last_mail_at"] - start, now_counts["last_push_at"] - start)
        if time.perf_counter() > deadline:
            raise BenchError(f"not everything arrived in {ARRIVAL_TIMEOUT_S:.0f}s: {now_counts}")
        await asyncio.sleep(ARRIVALS_POLL_S)


# --- ours -------------------------------------------------------------------------------------


async def setup(
    client: httpx.AsyncClient, auth: dict[str, str], where: Receivers, people: int
) -> tuple[str, list[Any]]:
    """One slot with ``people`` invited, each with an email and a browser subscribed."""
    event = {
        "slug": "delivery",
        "title": "Delivery",
        "timezone": "Europe/London",
        "starts_at": "2030-10-10T08:00:00Z",
        "ends_at": "2030-10-10T20:00:00Z",
    }
    await run_checked(client, [Call("POST", "/api/events", event)], 1, auth)
    channel = Call("POST", "/api/events/delivery/channels", {"slug": "main", "name": "Main"})
    await run_checked(client, [channel], 1, auth)
    body = {
        "channel": "main",
        "title": "Small habits that carried me through",
        "starts_at": "2030-10-10T09:30:00Z",
        "ends_at": "2030-10-10T10:00:00Z",
    }
    (slot,) = await run_checked(client, [Call("POST", "/api/events/delivery/slots", body)], 1, auth)
    calls = [
        Call(
            "POST",
            "/api/people",
            {"name": f"P{i}", "handle": f"p{i}", "role": "creator", "email": f"p{i}@bench.test"},
        )
        for i in range(people)
    ]
    persons = await run_checked(client, calls, SETUP_CONCURRENCY, auth)
    log(f"  {people} people made")
    subs = (await client.post(f"{where.push_url}/_subscriptions?n={people}", timeout=120)).json()
    for person, sub in zip(persons, subs, strict=True):
        headers = {"Authorization": f"Bearer {person['token']}"}
        await run_checked(client, [Call("POST", "/api/me/push-subscriptions", sub)], 1, headers)
    log(f"  {people} browsers subscribed")
    bookings = [
        Call("POST", f"/api/slots/{slot['id']}/bookings", {"person_id": p["id"], "role": "creator"})
        for p in persons
    ]
    await run_checked(client, bookings, SETUP_CONCURRENCY, auth)
    log(f"  {people} invited; waiting for their invitations to be delivered")
    await arrivals(client, where, people, time.perf_counter())
    return slot["id"], persons


async def commit_seen(database_url: str, people: int) -> float:
    """When the cancel's notices became visible in the database (its commit), read directly:
    the cancel's answer comes later, after the real-time bus has had every notice."""
    engine = create_async_engine(database_url)
    query = text("SELECT count(*) FROM notification WHERE kind = 'slot.cancelled'")
    try:
        while True:
            async with engine.connect() as connection:
                if (await connection.execute(query)).scalar_one() >= people:
                    return time.perf_counter()
            await asyncio.sleep(POLL_S)
    finally:
        await engine.dispose()


async def measure_ours(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    where: Receivers,
    slot_id: str,
    people: int,
    database_url: str,
) -> tuple[float, Arrival]:
    await reset(client, where)
    started = time.perf_counter()
    watching = asyncio.create_task(commit_seen(database_url, people))
    arriving = asyncio.create_task(arrivals(client, where, people, started))
    response = await client.post(f"/api/slots/{slot_id}/cancel", headers=auth, timeout=600)
    if response.status_code != 200:
        raise BenchError(f"cancel: {response.status_code} {response.text[:300]}")
    committed = await watching
    since_start = await arriving
    written = committed - started
    return written, Arrival(since_start.mails_s - written, since_start.pushes_s - written)


# --- the baseline -----------------------------------------------------------------------------


async def plain_mails(
    smtp_port: int, notice: dict[str, Any], people: int, connections: int
) -> None:
    """Compose each mail (our composer, as the worker does) and send it with ``aiosmtplib``
    over ``connections`` connections, each a plain loop."""
    links = MailLinks("bench-secret", "http://127.0.0.1")

    async def loop(share: range) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port)
        await smtp.connect()
        for i in share:
            mail = compose(
                notice,
                Recipient(person_id=f"p{i}", name=f"P{i}", email=f"p{i}@bench.test"),
                mail_from=MAIL_FROM,
                links=links,
                message_id=f"<baseline-{i}@bench.test>",
            )
            await smtp.send_message(mail)
        await smtp.quit()

    await asyncio.gather(*(loop(range(i, people, connections)) for i in range(connections)))


async def plain_pushes(subs: Sequence[Any], notice: dict[str, Any], at_once: int) -> None:
    """Encrypt and POST each push (``at_once`` loops side by side) with one ``aiohttp`` session,
    the HTTP client the server sends with; VAPID signed once per origin as the server does."""
    vapid = Vapid02()
    vapid.generate_keys()
    vapid.conf = {"no-strict": True}
    origin = subs[0]["endpoint"].split("/push/")[0]
    header = vapid.sign({"aud": origin, "sub": "mailto:bench@bench.test"})["Authorization"]
    connector = aiohttp.TCPConnector(limit=at_once)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:

        async def loop(share: Sequence[Any]) -> None:
            for sub in share:
                body = encrypt(push_payload(notice), sub["keys"]["p256dh"], sub["keys"]["auth"])
                headers = {"Authorization": header, "Content-Encoding": "aes128gcm", "TTL": "3600"}
                async with session.post(sub["endpoint"], data=body, headers=headers) as answer:
                    await answer.read()
                    if answer.status != 201:
                        raise BenchError(f"baseline push: {answer.status}")

        await asyncio.gather(*(loop(subs[i::at_once]) for i in range(at_once)))


async def measure_baseline(
    client: httpx.AsyncClient,
    where: Receivers,
    notice: dict[str, Any],
    people: int,
    concurrent: bool,
) -> Arrival:
    subs = (await client.post(f"{where.push_url}/_subscriptions?n={people}", timeout=120)).json()
    await reset(client, where)
    start = time.perf_counter()
    # No polling while the loops run (it would take turns from them): once they are done,
    # every mail and push has arrived, and the receivers say when the last ones did.
    await asyncio.gather(
        plain_mails(where.smtp_port, notice, people, SMTP_CONNECTIONS if concurrent else 1),
        plain_pushes(subs, notice, CONCURRENT_PUSHES if concurrent else 1),
    )
    got = await counts(client, where)
    if got["mails"] != people or got["pushes"] != people:
        raise BenchError(f"the baseline did not deliver everything: {got}")
    return Arrival(got["last_mail_at"] - start, got["last_push_at"] - start)


# --- one backend ------------------------------------------------------------------------------


async def bench_backend(args: argparse.Namespace, backend: str) -> Result:
    log(f"{backend}: starting the receivers and the server")
    async with contextlib.AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tam-delivery-")))
        where = await stack.enter_async_context(receivers(workdir))
        env = {
            "TAKEAMOMENT_SMTP_URL": f"smtp://127.0.0.1:{where.smtp_port}",
            "TAKEAMOMENT_MAIL_FROM": MAIL_FROM,
            "TAKEAMOMENT_OUTBOUND_ALLOW_PRIVATE": "true",
            "TAKEAMOMENT_SMTP_CONNECTIONS": str(args.smtp_connections),
            "TAKEAMOMENT_DELIVERY_CONCURRENCY": str(args.pushes_at_once),
        }
        cluster = await stack.enter_async_context(
            running_servers(backend=backend, pg_admin_dsn=args.pg_admin_dsn, extra_env=env)
        )
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=cluster.servers[0].url, timeout=60, trust_env=False)
        )
        slot_id, persons = await setup(client, cluster.auth, where, args.people)
        load_before = os.getloadavg()[0]
        log(f"{backend}: measuring (load average {load_before:.2f})")
        cancel_s, ours = await measure_ours(
            client, cluster.auth, where, slot_id, args.people, cluster.database_url
        )
        log(
            f"  ours: cancel {cancel_s:.2f}s, then mails {ours.mails_s:.2f}s,"
            f" pushes {ours.pushes_s:.2f}s"
        )
        headers = {"Authorization": f"Bearer {persons[0]['token']}"}
        notice = (await client.get("/api/me/notifications", headers=headers)).json()[-1]
        plain = await measure_baseline(client, where, notice, args.people, False)
        log(f"  plain loops: mails {plain.mails_s:.2f}s, pushes {plain.pushes_s:.2f}s")
        concurrent = await measure_baseline(client, where, notice, args.people, True)
        log(f"  concurrent: mails {concurrent.mails_s:.2f}s, pushes {concurrent.pushes_s:.2f}s")
        errors = (await counts(client, where))["errors"]
        return Result(
            backend,
            args.people,
            cancel_s,
            ours,
            plain,
            concurrent,
            load_before,
            os.getloadavg()[0],
            errors,
        )


# --- report -----------------------------------------------------------------------------------


def table(results: Sequence[Result], labels: dict[str, str]) -> list[str]:
    lines = [
        "| backend | notices | cancel → commit s | ours: all mails s | ours: all pushes s"
        " | ours: both s | plain loops: both s | ours / plain | concurrent: both s"
        " | ours / concurrent |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {labels[r.backend]} | {r.people:,} | {r.cancel_s:.2f} | {r.ours.mails_s:.2f}"
            f" | {r.ours.pushes_s:.2f} | {r.ours.both_s:.2f} | {r.plain.both_s:.2f}"
            f" | {r.ours.both_s / r.plain.both_s:.2f}× | {r.concurrent.both_s:.2f}"
            f" | {r.ours.both_s / r.concurrent.both_s:.2f}× |"
        )
    return lines


def details(r: Result) -> str:
    return (
        f"- {r.backend}: plain loops mails {r.plain.mails_s:.2f}s, pushes {r.plain.pushes_s:.2f}s;"
        f" concurrent mails {r.concurrent.mails_s:.2f}s, pushes {r.concurrent.pushes_s:.2f}s;"
        f" VAPID or decryption errors at the push service: {r.errors};"
        f" load average {r.load_before:.2f} before, {r.load_after:.2f} after"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=DEFAULT_PEOPLE, help="people notified")
    parser.add_argument("--backend", choices=BACKENDS, help="one backend (default: both)")
    parser.add_argument(
        "--smtp-connections",
        type=int,
        default=1,
        help="the server's SMTP pool (default: the plain loop's one connection)",
    )
    parser.add_argument(
        "--pushes-at-once",
        type=int,
        default=CONCURRENT_PUSHES,
        help="the server's delivery concurrency (default: the server's default)",
    )
    parser.add_argument("--pg-admin-dsn", default=PG_ADMIN_DSN, help="where the scratch db goes")
    args = parser.parse_args(argv)
    if not 1 <= args.people <= 10_000:
        parser.error("--people must be 1..10000")
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
        f"{args.people:,} people invited to one slot, each with email and one browser"
        " subscribed; the host cancels the slot. One server process, receivers in another"
        f" process, on the same {os.cpu_count()}-CPU machine, Python {platform.python_version()}."
        " Times from the cancel's commit (the notices visible in the database) until every mail,"
        f" and every push, has arrived. The server: {args.smtp_connections} SMTP connection(s),"
        f" {args.pushes_at_once} push(es) at a time; the plain loops: 1 and 1; the concurrent"
        f" baseline: {SMTP_CONNECTIONS} and {CONCURRENT_PUSHES} (the server's defaults)."
    )
    print(backends_report(table(results, labels), setup, [details(r) for r in results], failures))
    return 1 if failures or any(r.errors for r in results) else 0


def main() -> None:
    run_main(run, parse_args(), log, "interrupted: servers stopped, scratch databases dropped")


if __name__ == "__main__":
    main()
