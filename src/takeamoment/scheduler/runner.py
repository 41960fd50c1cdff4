"""APScheduler wiring: jobs armed from the database, re-armed after every change.

The database is the source of truth: the job store is APScheduler's memory store, rebuilt from
the bookings at start and whenever a schedule change is heard on the bus, so nothing depends on
jobs surviving a restart.

Misfire policy: jobs carry ``misfire_grace_time=None`` on purpose, so APScheduler always runs a
late job and the job itself decides: within ``reminder_grace_seconds`` of its due time the notice
is sent late, once; beyond it the notice is recorded as missed and the host is told on the
event's stream (``notice.missed``), never sent stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from takeamoment import metrics
from takeamoment.db.engine import Database
from takeamoment.db.types import utcnow
from takeamoment.services.reminders import (
    NoticeKey,
    deliver_notices,
    live_slot_ends,
    notice_overrun,
    owed_notices,
)

logger = logging.getLogger(__name__)

REARM_DEBOUNCE_S = 0.2
# A safety net: re-arm even if a change was never heard on the bus.
REARM_EVERY_S = 30
# Notices recorded by one transaction (``notice_batch_size``). Those due at one instant are
# delivered together (one job per instant), in transactions of at most this many one after
# another: each holds its events' locks and, on SQLite, the only write lock, so a bound keeps
# HTTP writes from waiting long behind a burst of 20,000 (bench/reminders.py --spread 0).
MAX_BATCH = 1000
# How long stopping waits for a re-arm or a delivery under way before cutting it short.
STOP_GRACE_S = 5.0


class ReminderScheduler:
    """Runs the notice jobs of the whole deployment (in one process: see ``leader.py``)."""

    def __init__(self, db: Database, grace: timedelta, batch: int = MAX_BATCH) -> None:
        self.db = db
        self.grace = grace
        self.batch = batch
        # APScheduler logs several INFO lines per job; at event scale that floods the log.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self._rearm_task: asyncio.Task[None] | None = None
        # A change heard since the running re-arm read the database: read it again after.
        self._rearm_wanted = False
        # Notices whose delivery is under way: re-arming leaves them to it.
        self._delivering: set[NoticeKey] = set()
        self._skipped_tick = False
        # Tasks reading or writing the database (a re-arm, a delivery): stopping waits for them.
        self._working: set[asyncio.Task[Any]] = set()
        self.running = False

    async def start(self) -> None:
        self.scheduler.start()
        self.running = True
        self.scheduler.add_job(
            self._tick, "interval", seconds=REARM_EVERY_S, id="rearm", replace_existing=True
        )
        await self.rearm()

    async def stop(self) -> None:
        """Stop arming; let a re-arm or a delivery under way finish first (within a grace).

        Cut short, a delivery is only redone at the next start, and a task cancelled while
        aiosqlite opens its connection leaves a reply for a loop that may be closed by then
        (an "Event loop is closed" error in aiosqlite's thread)."""
        self.running = False
        self._rearm_wanted = False
        working = [task for task in self._working if not task.done()]
        if working:
            await asyncio.wait(working, timeout=STOP_GRACE_S)
        if self._rearm_task is not None:
            self._rearm_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rearm_task
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    @contextlib.contextmanager
    def _at_work(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._working.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._working.discard(task)

    def on_message(self, topic: str, message: dict[str, Any]) -> None:
        """A hub listener: any schedule change re-arms, coalesced over a short moment.

        A change heard while a re-arm is reading the database may have committed after that
        read: the re-arm runs once more when it is done, or the change would wait for the
        safety net's tick (a reminder moved by it 30 s late).
        """
        if not self.running or not topic.startswith("event:"):
            return
        self._rearm_wanted = True
        if self._rearm_task is None or self._rearm_task.done():
            self._rearm_task = asyncio.create_task(self._rearm_soon())

    async def _rearm_soon(self) -> None:
        while self._rearm_wanted:
            await asyncio.sleep(REARM_DEBOUNCE_S)
            if not self.running:
                return
            self._rearm_wanted = False
            await self.rearm()

    async def _tick(self) -> None:
        """The safety net's re-arm, skipped once while notices are being delivered: a burst of
        20,000 would pay for reading every owed notice again in the middle of it (the next
        tick, or the next change heard, re-arms)."""
        if self._delivering and not self._skipped_tick:
            self._skipped_tick = True
            return
        self._skipped_tick = False
        await self.rearm()

    async def rearm(self) -> None:
        """Make the jobs match what the database says is owed; never raises."""
        try:
            with self._at_work():
                await self._rearm()
        except Exception:
            logger.exception("could not arm reminders; the next change or tick tries again")

    async def _rearm(self) -> None:
        not_before = utcnow() - self.grace - timedelta(days=1)
        owed_now = await owed_notices(self.db, not_before=not_before)
        now = utcnow()  # after the read: what fell due meanwhile is owed at once
        instants: dict[str, tuple[datetime, list[tuple[NoticeKey, datetime]]]] = {}
        # By slot: a batch then holds whole slots, whose public view is built once for all
        # their people (sorted by booking alone, every batch of 20,000 spanned every slot).
        for owed in sorted(owed_now, key=lambda o: (o.slot_id, o.booking_id, o.notice.kind)):
            if owed.key in self._delivering:
                continue  # its delivery is under way (and re-arms if it fails)
            # One job per due instant: whatever falls due together is delivered together.
            run_at = owed.run_at(now)
            instant = "now" if owed.now else owed.notice.due_at.isoformat()
            if run_at == now:
                # Owed at once: a job of its own, so an earlier run still at work on this
                # instant (APScheduler runs one at a time per id) does not make it wait.
                instant = f"{instant}@{now.isoformat()}"
            entry = instants.setdefault(instant, (run_at, []))
            entry[1].append((owed.key, owed.notice.due_at))
        wanted: dict[str, tuple[datetime, Any, tuple[Any, ...]]] = {
            f"notices:{instant}": (run_at, self._fire_notices, (tuple(notices),))
            for instant, (run_at, notices) in instants.items()
        }
        for slot_id, ends_at in (await live_slot_ends(self.db)).items():
            wanted[f"overrun:{slot_id}"] = (max(ends_at, now), self._fire_overrun, (slot_id,))
        for job in self.scheduler.get_jobs():
            if job.id != "rearm" and job.id not in wanted:
                job.remove()
        for job_id, (run_at, func, args) in wanted.items():
            existing: Job | None = self.scheduler.get_job(job_id)
            if existing is not None and existing.next_run_time == run_at and existing.args == args:
                continue
            self.scheduler.add_job(
                func,
                DateTrigger(run_date=run_at, timezone=UTC),
                args=args,
                id=job_id,
                replace_existing=True,
            )

    async def _fire_notices(self, notices: tuple[tuple[NoticeKey, datetime], ...]) -> None:
        """Deliver the notices of one instant, ``batch`` to a transaction, one after another."""
        keys = [key for key, _ in notices]
        self._delivering.update(keys)
        try:
            with self._at_work():
                for start in range(0, len(notices), self.batch):
                    if start and not self.running:
                        break  # stopping: the rest are owed at the next start
                    await self._deliver(dict(notices[start : start + self.batch]))
        finally:
            self._delivering.difference_update(keys)

    async def _deliver(self, due: dict[NoticeKey, datetime]) -> None:
        try:
            outcomes = await deliver_notices(self.db, list(due), self.grace)
        except Exception:
            logger.exception("%d notices failed; re-arming", len(due))
            self._delivering.difference_update(due)
            self.on_message("event:", {})
            return
        done = utcnow()
        for key, outcome in outcomes.items():
            metrics.notice_outcome("stream", outcome, done - due[key])
            if outcome == "missed":
                logger.warning("notice %s for booking %s was missed", key.kind, key.booking_id)

    async def _fire_overrun(self, slot_id: str) -> None:
        try:
            with self._at_work():
                await notice_overrun(self.db, slot_id)
        except Exception:
            logger.exception("overrun notice for slot %s failed", slot_id)
