"""Notice bursts at 2,000 and 20,000: the scheduler's own path, due time -> handed to the bus.

What it measures: for each backend (SQLite, PostgreSQL) and each size N, a fresh migrated
database holds one event reminding 1 minute ahead, N confirmed creators booked 8 to a slot, each
slot on its own channel, every slot starting at the same instant T + 1 minute: N reminders due
at T. The state is written straight into the tables (HTTP would take most of an hour here for
20,000). Then the app's real ``ReminderScheduler`` runs in this process (APScheduler, the same
jobs, ``deliver_notices``, ``notice_batch_size`` per transaction) with ``Database.after_commit``
where the app puts the real-time bus: each committed notice is stamped when it is handed on.
Lateness = that moment minus its due time; the report gives the median, p99 and the last, with
how many were stored exactly once. What happens after the bus (the hub, ``/ws/me``, the client)
is not in this figure: ``bench/reminders.py --spread 0`` measures all of it, with real sockets,
at 2,000 (the server here may hold at most 20,000 open files, so not 20,000 sockets).

Baseline, in the same run on the same database: the burst's N notification rows (the same
payloads, each carrying its slot's public view) inserted again in one transaction with one
executemany and committed: what the hardware takes to store that much, with none of the checks
and none of the reads. ``ratio`` = last notice's lateness / baseline.

Run: ``.venv/bin/python bench/notice_batches.py [--sizes 2000 20000] [--backend sqlite|postgres]``
Progress goes to stderr; stdout is a Markdown table and the command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from _report import backends_report, run_main
from _server import PG_ADMIN_DSN, BenchError, fresh_database
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.engine import Database, Outbound
from takeamoment.db.events import Channel, Event
from takeamoment.db.migrate import upgrade_to_head
from takeamoment.db.notifications import Notification
from takeamoment.db.people import Person
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import new_id, utcnow
from takeamoment.scheduler.runner import MAX_BATCH, ReminderScheduler
from takeamoment.services.outbox import configure

BACKENDS = ("sqlite", "postgres")
SIZES = (2000, 20_000)
PER_SLOT = 8  # a group session, as in reminders.py
LEAD_S = 2.0  # from arming to the due instant, on top of twice the time arming took
GRACE = timedelta(minutes=2)
DONE_TIMEOUT_S = 180.0


def log(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


@dataclass(slots=True)
class Result:
    backend: str
    size: int
    lateness_ms: list[float]
    stored_once: int
    duplicates: int
    baseline_ms: float
    cpu_s: float  # this process's CPU from the last arming to the last commit (threads included)

    @property
    def last_ms(self) -> float:
        return max(self.lateness_ms) if self.lateness_ms else float("nan")

    def p(self, q: int) -> float:
        values = self.lateness_ms
        if len(values) < 2:
            return values[0] if values else float("nan")
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def build(db: Database, size: int, due: datetime) -> None:
    """The event, channels, slots and confirmed bookings, straight into the tables."""
    start = due + timedelta(minutes=1)
    long_ago = utcnow() - timedelta(hours=1)

    async def work(session: AsyncSession) -> None:
        event = Event(
            slug="burst",
            title="Burst",
            timezone="UTC",
            starts_at=start - timedelta(hours=1),
            ends_at=start + timedelta(hours=2),
            reminder_minutes=[1],
            changeover_minutes=0,
            status="published",
        )
        session.add(event)
        await session.flush()  # no relationships declared: the order of inserts is ours
        people = [
            Person(
                name=f"Creator {i}",
                handle=f"c{i}",
                role="creator",
                feed_token_hash=new_id() + new_id(),
                push_enabled=False,
            )
            for i in range(size)
        ]
        session.add_all(people)
        await session.flush()
        for first in range(0, size, PER_SLOT):
            channel = Channel(event_id=event.id, slug=f"ch-{first}", name=f"Channel {first}")
            slot = Slot(
                event_id=event.id,
                channel_id=channel.id,
                title=f"Session {first}",
                starts_at=start,
                ends_at=start + timedelta(minutes=30),
            )
            session.add(channel)
            await session.flush()
            session.add(slot)
            await session.flush()
            session.add_all(
                Booking(
                    slot_id=slot.id,
                    person_id=person.id,
                    role="creator",
                    status="confirmed",
                    starts_at=start,
                    busy_until=slot.ends_at,
                    confirmed_at=long_ago,
                )
                for person in people[first : first + PER_SLOT]
            )

    await db.write(work)


async def baseline(db: Database) -> float:
    """Milliseconds to insert the burst's notification rows again (the same payloads, new ids,
    no seq) in one transaction with one executemany; the copies are deleted after."""
    table = Notification.__table__  # type: ignore[attr-defined]
    async with db.read() as session:
        rows = [dict(r._mapping) for r in (await session.execute(select(table)))]
    for row in rows:
        row.update(id=new_id(), kind="baseline", seq=None)

    async def work(session: AsyncSession) -> None:
        await session.execute(insert(table), rows)

    started = time.perf_counter()
    await db.write(work)
    elapsed = (time.perf_counter() - started) * 1000

    async def clean(session: AsyncSession) -> None:
        await session.execute(table.delete().where(table.c.kind == "baseline"))

    await db.write(clean)
    return elapsed


async def burst(db_url: str, size: int) -> Result:
    db = Database(db_url)
    configure(db, public_url="http://127.0.0.1:8000", email=False)
    try:
        due = utcnow() + timedelta(minutes=5)  # far enough: nothing fires while building
        await build(db, size, due)
        handed: dict[str, int] = {}
        done = asyncio.Event()

        async def after_commit(outbox: list[Outbound]) -> None:
            now_ns = time.time_ns()
            for item in outbox:
                if (
                    item.message.get("type") == "notification"
                    and item.message.get("kind") == "reminder"
                ):
                    handed[item.message["id"]] = now_ns
            if len(handed) >= size:
                done.set()

        db.after_commit = after_commit
        scheduler = ReminderScheduler(db, GRACE)
        # Armed (and the slots moved) once with the instant minutes away, to learn how long that
        # takes here; then the instant is placed that long again (twice, and LEAD_S more) ahead
        # and armed again, as a schedule change re-arms the running server.
        started = time.perf_counter()
        await scheduler.start()
        arm_s = time.perf_counter() - started
        due = utcnow() + timedelta(minutes=5)

        async def move(session: AsyncSession) -> None:
            start, end = due + timedelta(minutes=1), due + timedelta(minutes=31)
            await session.execute(update(Slot).values(starts_at=start, ends_at=end))
            await session.execute(update(Booking).values(starts_at=start, busy_until=end))

        started = time.perf_counter()
        await db.write(move)
        move_s = time.perf_counter() - started
        due = utcnow() + timedelta(seconds=LEAD_S + 2 * (arm_s + move_s))
        await db.write(move)
        cpu_started = time.process_time()
        await scheduler.rearm()
        log(f"  armed in {arm_s:.2f}s, {(due - utcnow()).total_seconds():.2f}s before the due time")
        try:
            async with asyncio.timeout((due - utcnow()).total_seconds() + DONE_TIMEOUT_S):
                await done.wait()
            await asyncio.sleep(1)  # a second delivery of any would be handed on by now
        except TimeoutError as error:
            raise BenchError(f"only {len(handed)} of {size} reminders within the time") from error
        finally:
            await scheduler.stop()
        cpu_s = time.process_time() - cpu_started
        due_ns = int(due.timestamp() * 1e9)
        commits = sorted(Counter(handed.values()).items())
        log(
            "  commits after the due time: "
            + ", ".join(f"{(ns - due_ns) / 1e9:.2f}s ({n})" for ns, n in commits)
        )
        base_ms = await baseline(db)
        async with db.read() as session:
            query = (
                select(Notification.booking_id, func.count())
                .where(Notification.kind == "reminder")
                .group_by(Notification.booking_id)
            )
            counts = Counter(n for _, n in (await session.execute(query)).all())
        return Result(
            backend="",
            size=size,
            lateness_ms=[(ns - due_ns) / 1e6 for ns in handed.values()],
            stored_once=counts[1],
            duplicates=sum(v for n, v in counts.items() if n > 1),
            baseline_ms=base_ms,
            cpu_s=cpu_s,
        )
    finally:
        await db.dispose()


async def bench_backend(args: argparse.Namespace, backend: str) -> list[Result]:
    results = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as workdir:
            async with fresh_database(backend, Path(workdir), args.pg_admin_dsn) as url:
                await asyncio.to_thread(upgrade_to_head, url)
                log(f"{backend}: {size:,} reminders due at one instant")
                result = await burst(url, size)
                result.backend = backend
                log(
                    f"{backend} {size:,}: last {result.last_ms:,.0f} ms,"
                    f" baseline {result.baseline_ms:,.0f} ms"
                )
                results.append(result)
    return results


def table(results: Sequence[Result]) -> list[str]:
    lines = [
        "| backend | notices | median | p99 | last | target | stored once | duplicates"
        " | baseline (one INSERT) | last / baseline | CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        target = 2000 if r.size <= 2000 else 15000
        lines.append(
            f"| {r.backend} | {r.size:,} | {r.p(50):,.0f} ms | {r.p(99):,.0f} ms"
            f" | {r.last_ms:,.0f} ms | {target:,} ms | {r.stored_once:,} | {r.duplicates}"
            f" | {r.baseline_ms:,.0f} ms | {r.last_ms / r.baseline_ms:.1f} | {r.cpu_s:.1f} s |"
        )
    return lines


async def run(args: argparse.Namespace) -> int:
    results: list[Result] = []
    failures: dict[str, str] = {}
    load_before = os.getloadavg()[0]
    for backend in args.backends:
        try:
            results += await bench_backend(args, backend)
        except BenchError as error:
            log(f"{backend}: FAILED: {error}")
            failures[backend] = str(error)
    setup = (
        f"Reminders due at one instant, {PER_SLOT} people a slot, {MAX_BATCH} a transaction;"
        f" lateness = handed to the real-time bus after commit - due time. One process on the"
        f" same {os.cpu_count()}-CPU machine, Python {platform.python_version()}; load average"
        f" {load_before:.1f} before, {os.getloadavg()[0]:.1f} after."
    )
    print(backends_report(table(results), setup, [], failures))
    bad = any(r.duplicates or r.stored_once != r.size for r in results)
    return 1 if failures or bad else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--backend", choices=BACKENDS, help="one backend (default: both)")
    parser.add_argument("--pg-admin-dsn", default=PG_ADMIN_DSN, help="where the scratch db goes")
    args = parser.parse_args()
    if not all(1 <= size <= 50_000 for size in args.sizes):
        parser.error("sizes are 1..50000")
    args.backends = [args.backend] if args.backend else list(BACKENDS)
    return args


def main() -> None:
    run_main(run, parse_args(), log, "interrupted: scratch databases dropped")


if __name__ == "__main__":
    main()
