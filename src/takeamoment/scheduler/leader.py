"""Exactly one scheduler per deployment.

With PostgreSQL the processes compete for an advisory lock held on a dedicated connection: the
holder runs the scheduler; when it dies its connection closes, the lock is released, and another
process takes over at its next try (every ``TRY_EVERY_S`` seconds). With SQLite there is one
process, and it simply runs the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from takeamoment import metrics
from takeamoment.scheduler.runner import ReminderScheduler

logger = logging.getLogger(__name__)

# An arbitrary, fixed 64-bit key naming "the takeamoment scheduler" among advisory locks.
ADVISORY_LOCK_KEY = 7_240_101_010
TRY_EVERY_S = 1.0


def _asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


class Leadership:
    """Starts the scheduler in this process while it holds the deployment's lock."""

    def __init__(self, scheduler: ReminderScheduler, database_url: str) -> None:
        self.scheduler = scheduler
        self.database_url = database_url
        self.is_leader = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.database_url.startswith("sqlite"):
            self.is_leader = True
            metrics.scheduler_leader(True)
            await self.scheduler.start()
            return
        self._task = asyncio.create_task(self._campaign(), name="takeamoment-leader")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.scheduler.stop()
        self.is_leader = False
        metrics.scheduler_leader(False)

    async def _campaign(self) -> None:
        while True:
            connection: Any = None
            try:
                connection = await asyncpg.connect(_asyncpg_dsn(self.database_url), timeout=5)
                # Polling the database, not waiting on anything in this process.
                while not await connection.fetchval(  # noqa: ASYNC110
                    "SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK_KEY
                ):
                    await asyncio.sleep(TRY_EVERY_S)
                await self._lead(connection)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("scheduler leadership lost or not reachable; trying again")
            finally:
                await self._step_down(connection)
            await asyncio.sleep(TRY_EVERY_S)

    async def _lead(self, connection: Any) -> None:
        logger.info("this process now runs the scheduler")
        self.is_leader = True
        metrics.scheduler_leader(True)
        await self.scheduler.start()
        while True:  # hold the lock; a dead connection means another process may take over
            await asyncio.sleep(TRY_EVERY_S)
            await connection.fetchval("SELECT 1", timeout=5)

    async def _step_down(self, connection: Any) -> None:
        if self.is_leader:
            self.is_leader = False
            metrics.scheduler_leader(False)
            await self.scheduler.stop()
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
