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
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from takeamoment import metrics
from takeamoment.db.engine import Database
from takeamoment.db.types import utcnow
from takeamoment.services.reminders import (
    deliver_notice,
    live_slot_ends,
    notice_overrun,
    owed_notices,
)

logger = logging.getLogger(__name__)

REARM_DEBOUNCE_S = 0.2
# A safety net: re-arm even if a change was never heard on the bus.
REARM_EVERY_S = 30
# Notices delivered at once. Each holds a pooled connection for its transaction, and they
# serialise on the people's rows anyway: without a bound, thousands due at one instant took
# every connection and HTTP requests timed out waiting for one (bench/reminders.py --spread 0).
MAX_CONCURRENT_DELIVERIES = 8


class ReminderScheduler:
    """Runs the notice jobs of the whole deployment (in one process: see ``leader.py``)."""

    def __init__(self, db: Database, grace: timedelta) -> None:
        self.db = db
        self.grace = grace
        # APScheduler logs several INFO lines per job; at event scale that floods the log.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self._rearm_task: asyncio.Task[None] | None = None
        self._delivering = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)
        self.running = False

    async def start(self) -> None:
        self.scheduler.start()
        self.running = True
        self.scheduler.add_job(
            self.rearm, "interval", seconds=REARM_EVERY_S, id="rearm", replace_existing=True
        )
        await self.rearm()

    async def stop(self) -> None:
        self.running = False
        if self._rearm_task is not None:
            self._rearm_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rearm_task
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def on_message(self, topic: str, message: dict[str, Any]) -> None:
        """A hub listener: any schedule change re-arms, coalesced over a short moment."""
        if not self.running or not topic.startswith("event:"):
            return
        if self._rearm_task is None or self._rearm_task.done():
            self._rearm_task = asyncio.create_task(self._rearm_soon())

    async def _rearm_soon(self) -> None:
        await asyncio.sleep(REARM_DEBOUNCE_S)
        await self.rearm()

    async def rearm(self) -> None:
        """Make the jobs match what the database says is owed; never raises."""
        try:
            await self._rearm()
        except Exception:
            logger.exception("could not arm reminders; the next change or tick tries again")

    async def _rearm(self) -> None:
        now = utcnow()
        wanted: dict[str, tuple[datetime, Any, tuple[Any, ...]]] = {}
        for owed in await owed_notices(self.db, not_before=now - self.grace - timedelta(days=1)):
            notice = owed.notice
            args = (owed.booking_id, notice.kind, notice.minutes_before, notice.due_at)
            wanted[owed.job_id] = (owed.run_at(now), self._fire_notice, args)
        for slot_id, ends_at in (await live_slot_ends(self.db)).items():
            wanted[f"overrun:{slot_id}"] = (max(ends_at, now), self._fire_overrun, (slot_id,))
        for job in self.scheduler.get_jobs():
            if job.id != "rearm" and job.id not in wanted:
                job.remove()
        for job_id, (run_at, func, args) in wanted.items():
            existing: Job | None = self.scheduler.get_job(job_id)
            if existing is not None and existing.next_run_time == run_at:
                continue
            self.scheduler.add_job(
                func,
                DateTrigger(run_date=run_at, timezone=UTC),
                args=args,
                id=job_id,
                replace_existing=True,
            )

    async def _fire_notice(
        self, booking_id: str, kind: str, minutes_before: int | None, due_at: datetime
    ) -> None:
        try:
            async with self._delivering:
                outcome = await deliver_notice(
                    self.db, booking_id, kind, minutes_before, self.grace
                )
        except Exception:
            logger.exception("notice %s for booking %s failed; re-arming", kind, booking_id)
            self.on_message("event:", {})
            return
        metrics.notice_outcome("stream", outcome, utcnow() - due_at)
        if outcome == "missed":
            logger.warning("notice %s for booking %s was missed", kind, booking_id)

    async def _fire_overrun(self, slot_id: str) -> None:
        try:
            await notice_overrun(self.db, slot_id)
        except Exception:
            logger.exception("overrun notice for slot %s failed", slot_id)
