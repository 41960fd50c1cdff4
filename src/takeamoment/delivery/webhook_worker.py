"""The webhook worker: sends each committed change to the event's webhooks, in any process.

It wakes when this process hears a change committed (a hub listener on the event topics; with
Redis every process hears it) and polls every ``delivery_poll_seconds`` for messages of
processes that died and for retries that fell due.

**At least once, under one id.** A message is claimed (committed as ``sending``) before it is
sent and recorded after; a process that dies in between leaves it ``sending`` until its lease
runs out, and then it is sent again with the same ``webhook-id``, which is how a receiver tells
a repeat. A try that fails (not a 2xx, a timeout, a refused address) is recorded and the message
tried again after ``retry_delay_seconds`` (30 s, then 4 times longer each time), until
``webhook_max_attempts`` tries.

**In order per webhook, where it costs nothing.** Claims take the oldest changes first; the
messages of one webhook in a claim are sent one after the other by seq, and after those of the
webhook's previous claim in this process. A retry comes when its time comes, after later
changes that succeeded: receivers order by ``seq`` in the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from takeamoment.db.engine import Database
from takeamoment.db.types import utcnow
from takeamoment.delivery.stopping import wind_down
from takeamoment.delivery.webhook_queue import Tried, WebhookJob, claim, record
from takeamoment.delivery.webhooks import SendResult, WebhookSender
from takeamoment.domain.webhooks import gives_up, retry_delay_seconds
from takeamoment.services.webhooks import webhook_id_header

logger = logging.getLogger(__name__)

CLAIM_BATCH = 200
BACKLOG = 32  # claimed ahead: this many times the sends that may run at once (up to a batch)
RECORD_GATHER_S = 0.05
RECORD_BATCH = 100
RECORD_RETRY_S = 1.0


class WebhookWorker:
    def __init__(
        self,
        db: Database,
        sender: WebhookSender,
        *,
        concurrency: int,
        poll_seconds: float,
        lease: timedelta,
        max_attempts: int,
        first_retry_seconds: float,
    ) -> None:
        self.db = db
        self.sender = sender
        self.poll_seconds = poll_seconds
        self.lease = lease
        self.max_attempts = max_attempts
        self.first_retry_seconds = first_retry_seconds
        self._cap = min(CLAIM_BATCH, BACKLOG * concurrency)
        self._turns = asyncio.Semaphore(concurrency)
        self._claimed = 0  # claimed here and not yet sent
        self._freed = asyncio.Event()
        self._wake = asyncio.Event()
        # The newest chain of sends of each webhook: the next claim's sends wait for it.
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._tried: list[Tried] = []
        self._tried_ready = asyncio.Event()
        self._claiming: asyncio.Task[None] | None = None
        self._recording: asyncio.Task[None] | None = None
        self.running = False

    def on_message(self, topic: str, message: dict[str, Any]) -> None:
        """A hub listener: a change of an event was committed (here or elsewhere)."""
        if topic.startswith("event:"):
            self._wake.set()

    async def start(self) -> None:
        self.running = True
        self._claiming = asyncio.create_task(self._run(), name="takeamoment-webhooks")
        self._recording = asyncio.create_task(
            self._record_loop(), name="takeamoment-webhooks-record"
        )

    async def stop(self) -> None:
        """Stop claiming; a claim and the sends under way finish and are recorded first
        (``wind_down``)."""
        self.running = False
        self._wake.set()
        self._freed.set()
        await wind_down(self._claiming, lambda: set(self._chains.values()), self._recording)
        with contextlib.suppress(Exception):  # what finished, recorded; the rest waits its lease
            await record(self.db, self._take_tried())
        await self.sender.close()

    async def _run(self) -> None:
        while self.running:
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away, say: the next wake or poll tries again
                logger.exception("webhooks: could not claim messages; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def drain(self) -> None:
        """Claim and start sends until nothing is due, never more than ``_cap`` claimed ahead."""
        while self.running:
            room = self._cap - self._claimed
            if room < self._cap // 2:  # few, large claims: wait until half the room is free
                self._freed.clear()
                await self._freed.wait()
                continue
            jobs = await claim(self.db, room, self.lease)
            if not jobs:
                return
            self._claimed += len(jobs)
            by_webhook: dict[str, list[WebhookJob]] = {}
            for job in jobs:  # already in seq order
                by_webhook.setdefault(job.message.webhook_id, []).append(job)
            for webhook_id, chain in by_webhook.items():
                self._start_chain(webhook_id, chain)

    def _start_chain(self, webhook_id: str, jobs: list[WebhookJob]) -> None:
        previous = self._chains.get(webhook_id)
        task = asyncio.create_task(self._send_chain(previous, jobs))
        self._chains[webhook_id] = task
        task.add_done_callback(self._forget_chain(webhook_id))

    def _forget_chain(self, webhook_id: str) -> Callable[[asyncio.Task[None]], None]:
        def forget(task: asyncio.Task[None]) -> None:
            if self._chains.get(webhook_id) is task:
                del self._chains[webhook_id]

        return forget

    async def _send_chain(
        self, previous: asyncio.Task[None] | None, jobs: list[WebhookJob]
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        for job in jobs:
            try:
                if utcnow() >= job.lease_ends:
                    # Waited behind a slow receiver past the lease: the row is claimed again
                    # (here or elsewhere) and sent then, not twice at once.
                    continue
                async with self._turns:
                    tried = await self._send(job)
            finally:
                self._claimed -= 1
                self._freed.set()
            self._tried.append(tried)
            self._tried_ready.set()

    async def _send(self, job: WebhookJob) -> Tried:
        message = job.message
        try:
            result = await self.sender.send(
                job.url, job.secret_sealed, webhook_id_header(message.id), message.body
            )
        except Exception as error:  # a bug or an unexpected error: retried like a failure
            logger.exception("webhook message %s failed", message.id)
            result = SendResult(False, None, repr(error)[:200], 0)
        now = utcnow()
        if result.ok:
            state, next_at = "sent", now
        elif gives_up(message.attempts, self.max_attempts):
            state, next_at = "gave_up", now
        else:
            delay = retry_delay_seconds(message.attempts, self.first_retry_seconds)
            state, next_at = "failed", now + timedelta(seconds=delay)
        return Tried(job, state, next_at, now, result.duration_ms, result.status_code, result.error)

    # --- recording ------------------------------------------------------------------------

    def _take_tried(self) -> list[Tried]:
        taken, self._tried = self._tried, []
        return taken

    async def _record_loop(self) -> None:
        while True:
            await self._tried_ready.wait()
            if len(self._tried) < RECORD_BATCH:
                await asyncio.sleep(RECORD_GATHER_S)  # one transaction for a burst, not one each
            self._tried_ready.clear()
            batch = self._take_tried()
            try:
                await record(self.db, batch)
            except asyncio.CancelledError:
                self._tried[:0] = batch
                raise
            except Exception:
                logger.exception("webhooks: could not record %d tries; retrying", len(batch))
                self._tried[:0] = batch
                await asyncio.sleep(RECORD_RETRY_S)
                self._tried_ready.set()
