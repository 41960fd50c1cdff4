"""Stopping a process lets the database work under way finish instead of cutting it short.

A claim cut short waits out its lease before another process sends it; a delivery of due
notices cut short waits for the next start; a re-check of open streams' credentials is simply
lost; and a task cancelled while aiosqlite opens its
connection leaves a reply for an event loop that may be closed by then (an "Event loop is
closed" error in aiosqlite's thread, which failed a CI run)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, cast

from takeamoment.db.engine import Database
from takeamoment.delivery.webhook_worker import WebhookWorker
from takeamoment.delivery.webhooks import WebhookSender
from takeamoment.delivery.worker import DeliveryWorker
from takeamoment.realtime.standing import Standing
from takeamoment.scheduler.runner import ReminderScheduler

NO_DATABASE = cast(Database, None)


class Gate:
    """Work that starts, then waits until the test lets it finish."""

    def __init__(self) -> None:
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.finished = 0

    async def work(self) -> None:
        self.started.set()
        await self.release.wait()
        self.finished += 1


async def stop_while_at_work(stop: Any, gate: Gate) -> None:
    """Stop while the gate's work is under way: stopping waits for it, then returns."""
    await asyncio.wait_for(gate.started.wait(), timeout=10)
    stopping = asyncio.create_task(stop())
    await asyncio.sleep(0.1)
    assert not stopping.done(), "stopped without waiting for the work under way"
    gate.release.set()
    await asyncio.wait_for(stopping, timeout=10)
    assert gate.finished == 1


class GatedRearms(ReminderScheduler):
    def __init__(self, gate: Gate) -> None:
        super().__init__(NO_DATABASE, grace=timedelta(minutes=1))
        self.running, self.gate = True, gate

    async def _rearm(self) -> None:
        await self.gate.work()


async def test_stopping_the_scheduler_lets_a_rearm_under_way_finish() -> None:
    gate = Gate()
    scheduler = GatedRearms(gate)
    scheduler.on_message("event:tam", {"seq": 1})
    await stop_while_at_work(scheduler.stop, gate)


async def test_a_change_heard_just_before_stopping_arms_nothing_after() -> None:
    gate = Gate()
    scheduler = GatedRearms(gate)
    scheduler.on_message("event:tam", {"seq": 1})
    await scheduler.stop()
    assert not gate.started.is_set()


class GatedDeliveries(DeliveryWorker):
    def __init__(self, gate: Gate) -> None:
        super().__init__(
            NO_DATABASE, concurrency=1, poll_seconds=60, lease=timedelta(minutes=1), max_attempts=3
        )
        self.gate = gate

    async def drain(self) -> None:
        await self.gate.work()


async def test_stopping_the_delivery_worker_lets_a_claim_under_way_finish() -> None:
    gate = Gate()
    worker = GatedDeliveries(gate)
    await worker.start()
    await stop_while_at_work(worker.stop, gate)


class QuietSender:
    async def close(self) -> None:
        pass


class GatedWebhooks(WebhookWorker):
    def __init__(self, gate: Gate) -> None:
        super().__init__(
            NO_DATABASE,
            cast(WebhookSender, QuietSender()),
            concurrency=1,
            poll_seconds=60,
            lease=timedelta(minutes=1),
            max_attempts=3,
            first_retry_seconds=30,
        )
        self.gate = gate

    async def drain(self) -> None:
        await self.gate.work()


async def test_stopping_the_webhook_worker_lets_a_claim_under_way_finish() -> None:
    gate = Gate()
    worker = GatedWebhooks(gate)
    await worker.start()
    await stop_while_at_work(worker.stop, gate)


class GatedStanding(Standing):
    def __init__(self, gate: Gate) -> None:
        super().__init__(NO_DATABASE, every_seconds=0.01)
        self.gate = gate

    async def check(self) -> None:
        await self.gate.work()


async def test_stopping_the_credential_rechecks_lets_a_round_under_way_finish() -> None:
    gate = Gate()
    standing = GatedStanding(gate)
    await standing.start()
    await stop_while_at_work(standing.stop, gate)
