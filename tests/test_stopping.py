"""Stopping a process lets the database work under way finish instead of cutting it short.

A claim cut short waits out its lease before another process sends it; a delivery of due
notices cut short waits for the next start; a re-check of open streams' credentials is simply
lost; and a task cancelled while aiosqlite opens its connection leaves a reply for an event
loop that may be closed by then (an "Event loop is closed" error in aiosqlite's thread, which
failed a CI run)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, cast

from takeamoment.db.engine import Database
from takeamoment.delivery.webhook_worker import WebhookWorker
from takeamoment.delivery.webhooks import WebhookSender
from takeamoment.delivery.worker import DeliveryWorker
from takeamoment.realtime.standing import Standing
from takeamoment.scheduler.runner import REARM_DEBOUNCE_S, ReminderScheduler

NO_DATABASE = cast(Database, None)
LEASE = timedelta(minutes=1)


class Gate:
    """Work that starts, then waits until the test lets it finish."""

    def __init__(self) -> None:
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.finished = 0

    async def work(self) -> None:
        self.started.set()
        await self.release.wait()
        self.finished += 1


async def stop_while_at_work(stop: Callable[[], Coroutine[Any, Any, None]], gate: Gate) -> None:
    """Stop while the gate's work is under way: stopping waits for it, then returns."""
    await asyncio.wait_for(gate.started.wait(), timeout=10)
    stopping = asyncio.create_task(stop())
    await asyncio.sleep(0.1)
    assert not stopping.done(), "stopped without waiting for the work under way"
    gate.release.set()
    await asyncio.wait_for(stopping, timeout=10)
    assert gate.finished == 1


def running_scheduler() -> ReminderScheduler:
    scheduler = ReminderScheduler(NO_DATABASE, grace=timedelta(minutes=1))
    scheduler.running = True  # as after start(), without APScheduler's loop
    return scheduler


async def test_stopping_the_scheduler_lets_a_rearm_under_way_finish() -> None:
    scheduler, rearm = running_scheduler(), Gate()
    scheduler._rearm = rearm.work  # type: ignore[method-assign]
    scheduler.on_message("event:tam", {"seq": 1})
    await stop_while_at_work(scheduler.stop, rearm)


async def test_a_change_heard_while_stopping_waits_for_a_delivery_arms_nothing() -> None:
    scheduler, rearm, delivery = running_scheduler(), Gate(), Gate()
    scheduler._rearm = rearm.work  # type: ignore[method-assign]

    async def deliver() -> None:
        with scheduler._at_work():
            await delivery.work()

    delivering = asyncio.create_task(deliver())
    await asyncio.wait_for(delivery.started.wait(), timeout=10)
    scheduler.on_message("event:tam", {"seq": 1})  # its re-arm waits out the debounce
    stopping = asyncio.create_task(scheduler.stop())
    await asyncio.sleep(REARM_DEBOUNCE_S * 2)  # stopping still waits for the delivery
    assert not rearm.started.is_set(), "a re-arm started while stopping"
    delivery.release.set()
    await asyncio.wait_for(asyncio.gather(stopping, delivering), timeout=10)
    assert not rearm.started.is_set()


async def test_stopping_the_delivery_worker_lets_a_claim_under_way_finish() -> None:
    worker, claim = (
        DeliveryWorker(NO_DATABASE, concurrency=1, poll_seconds=60, lease=LEASE, max_attempts=3),
        Gate(),
    )
    worker.drain = claim.work  # type: ignore[method-assign]
    await worker.start()
    await stop_while_at_work(worker.stop, claim)


class QuietSender:
    async def close(self) -> None:
        pass


async def test_stopping_the_webhook_worker_lets_a_claim_under_way_finish() -> None:
    sender = cast(WebhookSender, QuietSender())
    worker = WebhookWorker(
        NO_DATABASE,
        sender,
        concurrency=1,
        poll_seconds=60,
        lease=LEASE,
        max_attempts=3,
        first_retry_seconds=30,
    )
    claim = Gate()
    worker.drain = claim.work  # type: ignore[method-assign]
    await worker.start()
    await stop_while_at_work(worker.stop, claim)


async def test_stopping_the_credential_rechecks_lets_a_round_under_way_finish() -> None:
    standing, round_ = Standing(NO_DATABASE, every_seconds=0.01), Gate()
    standing.check = round_.work  # type: ignore[method-assign]
    await standing.start()
    await stop_while_at_work(standing.stop, round_)
