"""The reminder scheduler re-arms after every change it hears, even one heard mid-re-arm."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import cast

from takeamoment.db.engine import Database
from takeamoment.scheduler.runner import ReminderScheduler


class CountedRearms(ReminderScheduler):
    """Re-arms that only count themselves; the first waits until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__(cast(Database, None), grace=timedelta(minutes=1))
        self.running = True
        self.rearms = 0
        self.first_reading = asyncio.Event()
        self.release_first = asyncio.Event()

    async def _rearm(self) -> None:
        self.rearms += 1
        if self.rearms == 1:
            self.first_reading.set()
            await self.release_first.wait()


async def settled(scheduler: CountedRearms) -> None:
    assert scheduler._rearm_task is not None
    await asyncio.wait_for(scheduler._rearm_task, timeout=10)


async def test_a_change_heard_while_a_rearm_reads_the_database_is_armed_right_after() -> None:
    scheduler = CountedRearms()
    scheduler.on_message("event:tam", {"seq": 1})
    await asyncio.wait_for(scheduler.first_reading.wait(), timeout=10)
    # Committed after the running re-arm read the bookings: it must not wait for the tick.
    scheduler.on_message("event:tam", {"seq": 2})
    scheduler.release_first.set()
    await settled(scheduler)
    assert scheduler.rearms == 2


async def test_changes_heard_together_are_armed_by_one_rearm() -> None:
    scheduler = CountedRearms()
    scheduler.release_first.set()
    for seq in range(5):
        scheduler.on_message("event:tam", {"seq": seq})
    await settled(scheduler)
    assert scheduler.rearms == 1


async def test_other_topics_arm_nothing() -> None:
    scheduler = CountedRearms()
    scheduler.on_message("me:someone", {"seq": 1})
    assert scheduler._rearm_task is None and scheduler.rearms == 0
