"""The delivery worker: sends the outbox's push and email rows after commit, in any process.

It wakes when this process hears a notice committed (a hub listener on the person topics, and
on a slot going live or cancelled for its followers' pushes, ``follow_queue.py``; with Redis
every process hears it) and polls every ``delivery_poll_seconds`` for rows of processes
that died, and for retries that fell due. Claims come in batches; sends run concurrently up to
``delivery_concurrency``; outcomes are recorded in batches as they come in (see ``queue.py``).

**Once per channel, precisely.** A delivery is sent after the transaction that wrote it
committed, so a notice that was rolled back is never sent, and one committed just before a
crash is sent by the next process to poll. A row is claimed (committed as ``sending``) before
its send starts and marked ``sent`` right after the service accepted it. The one window where
a crash can send twice is between the push service's or SMTP server's acceptance and the
commit of ``sent`` (the 50 ms an outcome waits to be recorded with others, plus the commit):
the row's lease then runs out and it is sent again. Both channels make that second copy
recognisable: a push carries the same ``Topic`` (a push service replaces a queued message with
the same topic) and the notice's ``id`` (the service worker shows it with that ``tag``,
replacing the first), an email the same ``Message-ID``. Outside that window nothing is sent
twice: rows claimed but not yet sent when a process dies are sent once when their lease runs
out, rows not claimed by the next claim; a send that failed is retried with exponential
backoff and jitter, and given up after ``delivery_max_attempts`` tries.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from tenacity import RetryCallState, wait_exponential_jitter

from takeamoment.db.engine import Database
from takeamoment.db.types import utcnow
from takeamoment.delivery.email import PermanentMailError, Recipient, SmtpPool, compose
from takeamoment.delivery.follow_queue import FollowJob, claim_follows
from takeamoment.delivery.push import URGENT_KINDS, PushSender, push_payload
from takeamoment.delivery.queue import Job, Outcome, claim, record
from takeamoment.delivery.stopping import wind_down
from takeamoment.services.follows import UnfollowLinks
from takeamoment.services.mail_links import MailLinks
from takeamoment.services.notifications import notification_message

logger = logging.getLogger(__name__)

CLAIM_BATCH = 200
# Claimed rows per channel: this many times what may be sent at once (at most CLAIM_BATCH),
# and a claim waits until at least half of that is free: few, large claims. A claimed row waits
# for its turn in this process; if the process dies first, it is sent when its lease runs out.
BACKLOG = 32
RECORD_RETRY_S = 1.0
RECORD_GATHER_S = 0.05
RECORD_BATCH = 100
# Changes of an event's stream that may owe followers a push (``services/follows.py``).
FOLLOWED_TYPES = frozenset({"slot.live", "slot.cancelled"})
_BACKOFF = wait_exponential_jitter(multiplier=5, max=1800, jitter=5)


def _channel_of(job: Job | FollowJob) -> str:
    return "follow" if isinstance(job, FollowJob) else job.delivery.channel


def backoff_seconds(attempt: int) -> float:
    """Seconds before try ``attempt + 1``: 5, 10, 20, … up to 30 minutes, plus up to 5 s jitter."""
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    return float(_BACKOFF(state))


class Mailer:
    """What email needs: the pool, the sender, the signed links and the Message-ID domain."""

    def __init__(self, pool: SmtpPool, mail_from: str, links: MailLinks, domain: str) -> None:
        self.pool, self.mail_from, self.links, self.domain = pool, mail_from, links, domain


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        *,
        concurrency: int,
        poll_seconds: float,
        lease: timedelta,
        max_attempts: int,
    ) -> None:
        self.db = db
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.lease = lease
        self.max_attempts = max_attempts
        self.push: PushSender | None = None
        # Run before the first claim, and again until it succeeds (it may need the database).
        self.prepare: Callable[[], Awaitable[None]] | None = None
        self.mailer: Mailer | None = None
        # Followers' pushes carry their unfollow link, signed when sent.
        self.unfollow_links: UnfollowLinks | None = None
        self._wake = asyncio.Event()
        self._in_flight: dict[str, set[asyncio.Task[None]]] = {
            "push": set(),
            "email": set(),
            "follow": set(),
        }
        # Rows claimed here and not recorded yet, sent or waiting their turn: never claimed again
        # by this process, whatever their lease says.
        self._held: set[str] = set()
        # Pushes (a person's or a follower's) under way at once (emails wait for one of the
        # SMTP pool's connections).
        self._push_turns = asyncio.Semaphore(concurrency)
        self._outcomes: list[Outcome] = []
        # Channels whose last claim left nothing due, and when (see ``drain``).
        self._drained: dict[str, float] = {}
        self._outcomes_ready = asyncio.Event()
        self._claiming: asyncio.Task[None] | None = None
        self._recording: asyncio.Task[None] | None = None
        self.running = False

    def on_message(self, topic: str, message: dict[str, Any]) -> None:
        """A hub listener: a notice was committed (here or, through Redis, elsewhere); a slot
        going live or cancelled may have followers to tell."""
        if topic.startswith("person:") or message.get("type") in FOLLOWED_TYPES:
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self.running = True
        self._claiming = asyncio.create_task(self._run(), name="takeamoment-delivery")
        self._recording = asyncio.create_task(
            self._record_loop(), name="takeamoment-delivery-record"
        )

    async def stop(self) -> None:
        """Stop claiming; a claim and the sends under way finish and are recorded first
        (``wind_down``)."""
        self.running = False
        self._wake.set()
        await wind_down(
            self._claiming, lambda: set().union(*self._in_flight.values()), self._recording
        )
        with contextlib.suppress(Exception):  # what finished, recorded; the rest waits its lease
            await record(self.db, self._take_outcomes())
        if self.push is not None:
            await self.push.close()
        if self.mailer is not None:
            await self.mailer.pool.close()

    async def _run(self) -> None:
        while self.running:
            self._wake.clear()
            self._drained.clear()  # a wake or a poll: every channel is asked
            try:
                if self.prepare is not None:
                    await self.prepare()
                    self.prepare = None
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away, say: the next wake or poll tries again
                logger.exception("delivery: could not claim deliveries; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    def _room(self) -> dict[str, int]:
        """How many more of each channel may be claimed: ``BACKLOG`` times what may be sent at
        once, so claims come in batches (one transaction each) and sends never wait for one."""
        at_once = {
            "push": self.concurrency,
            "email": self.mailer.pool.size if self.mailer is not None else 1,
            "follow": self.concurrency,
        }
        room = {}
        for channel, n in at_once.items():
            cap = min(CLAIM_BATCH, BACKLOG * n)
            free = cap - len(self._in_flight[channel])
            room[channel] = free if free >= cap // 2 else 0
        return room

    async def drain(self) -> None:
        """Claim and start sends until nothing is due, each channel within its room.

        A channel without room may still have rows due: then wait for one of its sends to
        finish and claim again, rather than leave them to the next poll. A channel whose last
        claim came back short is not asked again until a notice is committed (a wake) or a
        poll's time has passed: otherwise every finished send of a long burst on one channel
        would cost an empty claim transaction on the others.
        """
        loop = asyncio.get_running_loop()
        while self.running:
            if self._wake.is_set():  # something was committed since: ask every channel again
                self._wake.clear()
                self._drained.clear()
            now = loop.time()
            room = self._room()
            asked = {
                c: n
                for c, n in room.items()
                if n > 0 and now - self._drained.get(c, -math.inf) >= self.poll_seconds
            }
            jobs = await self._claim(asked) if asked else []
            for job in jobs:
                self._held.add(job.delivery.id)
                task = asyncio.create_task(self._deliver(job))
                in_flight = self._in_flight[_channel_of(job)]
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if jobs:
                continue
            full = set().union(*(self._in_flight[c] for c, n in room.items() if n <= 0))
            if not full:
                return
            await asyncio.wait(full, return_when=asyncio.FIRST_COMPLETED)

    async def _claim(self, asked: dict[str, int]) -> list[Job | FollowJob]:
        """Claim up to ``asked[channel]`` rows of each channel; note the ones that came short."""
        jobs: list[Job | FollowJob] = []
        people = {c: n for c, n in asked.items() if c != "follow"}
        if people:
            jobs += await claim(self.db, people, self.lease, self._held)
        if "follow" in asked:
            jobs += await claim_follows(self.db, asked["follow"], self.lease, self._held)
        claimed = Counter(_channel_of(job) for job in jobs)
        now = asyncio.get_running_loop().time()
        for channel, limit in asked.items():
            if claimed[channel] < limit:
                self._drained[channel] = now
            else:
                self._drained.pop(channel, None)
        return jobs

    async def _deliver(self, job: Job | FollowJob) -> None:
        if job.in_doubt:
            logger.warning(
                "delivery %s (%s) was claimed before and never recorded; sending it again",
                job.delivery.id,
                _channel_of(job),
            )
        try:
            if isinstance(job, FollowJob):
                async with self._push_turns:
                    outcome = await self._send_follow(job)
            elif job.delivery.channel == "push":
                async with self._push_turns:
                    outcome = await self._send_push(job)
            else:
                outcome = await self._send_email(job)
        except Exception as error:  # a bug or an unexpected error: retried like a failure
            logger.exception("delivery %s failed", job.delivery.id)
            outcome = self._failed(job, repr(error)[:200])
        outcome.follow = isinstance(job, FollowJob)
        self._outcomes.append(outcome)
        self._outcomes_ready.set()

    # --- outcomes -------------------------------------------------------------------------

    def _take_outcomes(self) -> list[Outcome]:
        taken, self._outcomes = self._outcomes, []
        return taken

    async def _record_loop(self) -> None:
        while True:
            await self._outcomes_ready.wait()
            if len(self._outcomes) < RECORD_BATCH:
                # Let a burst's outcomes gather: one transaction for many, not one each. This is
                # also how long a sent row may stay unrecorded (the module doc's window).
                await asyncio.sleep(RECORD_GATHER_S)
            self._outcomes_ready.clear()
            batch = self._take_outcomes()
            try:
                await record(self.db, batch)
                self._held.difference_update(o.delivery_id for o in batch)
            except asyncio.CancelledError:
                self._outcomes[:0] = batch
                raise
            except Exception:
                logger.exception("delivery: could not record %d outcomes; retrying", len(batch))
                self._outcomes[:0] = batch
                await asyncio.sleep(RECORD_RETRY_S)
                self._outcomes_ready.set()

    def _sent(self, job: Job | FollowJob, done: list[str] | None = None) -> Outcome:
        now = utcnow()
        return Outcome(job.delivery.id, job.delivery.attempts, "sent", now, None, now, done or [])

    def _gave_up(self, job: Job | FollowJob, error: str, done: list[str] | None = None) -> Outcome:
        return Outcome(
            job.delivery.id, job.delivery.attempts, "gave_up", utcnow(), error, None, done or []
        )

    def _failed(self, job: Job | FollowJob, error: str, done: list[str] | None = None) -> Outcome:
        attempts = job.delivery.attempts
        if attempts >= self.max_attempts:
            return self._gave_up(job, f"{error} (after {attempts} tries)", done)
        retry_at: datetime = utcnow() + timedelta(seconds=backoff_seconds(attempts))
        return Outcome(job.delivery.id, attempts, "failed", retry_at, error, None, done or [])

    # --- channels -------------------------------------------------------------------------

    async def _send_push(self, job: Job) -> Outcome:
        if self.push is None:
            return self._gave_up(job, "push is not set up")
        if not job.person.push_enabled:
            return self._gave_up(job, "push turned off")
        done = list(job.delivery.done)
        todo = [s for s in job.subscriptions if s.id not in done]
        if not todo:
            return self._gave_up(job, "no push subscription") if not done else self._sent(job, done)
        notification = job.notification
        payload = push_payload(notification_message(notification))
        results = await asyncio.gather(
            *(
                self.push.send(
                    s.endpoint,
                    s.p256dh,
                    s.auth,
                    payload,
                    topic=job.delivery.id,
                    urgent=notification.kind in URGENT_KINDS,
                )
                for s in todo
            )
        )
        sent = [s.id for s, r in zip(todo, results, strict=True) if r.outcome == "sent"]
        forget = [s.id for s, r in zip(todo, results, strict=True) if r.outcome == "gone"]
        settled = [s.id for s, r in zip(todo, results, strict=True) if r.outcome != "retry"]
        done += settled
        retry = [r.error or "error" for r in results if r.outcome == "retry"]
        errors = [r.error or "error" for r in results if r.outcome != "sent"]
        if retry:
            outcome = self._failed(job, f"push failed: {retry[0]}", done)
        elif sent or job.delivery.sent_at is not None:
            outcome = self._sent(job, done)
        else:
            outcome = self._gave_up(job, f"push failed: {errors[0]}", done)
        outcome.forget = forget
        return outcome

    async def _send_follow(self, job: FollowJob) -> Outcome:
        """One follower's push; 404/410 forgets the follow (``Outcome.forget``)."""
        if self.push is None or self.unfollow_links is None:
            return self._gave_up(job, "push is not set up")
        follow = job.follow
        message = {**job.notice.payload, "unfollow_url": self.unfollow_links.url(follow.id)}
        result = await self.push.send(
            follow.endpoint,
            follow.p256dh,
            follow.auth,
            push_payload(message),
            topic=job.delivery.id,
            urgent=True,
        )
        if result.outcome == "sent":
            return self._sent(job)
        if result.outcome == "retry":
            return self._failed(job, f"push failed: {result.error}")
        outcome = self._gave_up(job, f"push failed: {result.error}")
        if result.outcome == "gone":
            outcome.forget = [follow.id]
        return outcome

    async def _send_email(self, job: Job) -> Outcome:
        person, mailer = job.person, self.mailer
        if mailer is None:
            return self._gave_up(job, "email is not set up")
        if not person.email or not person.email_enabled:
            return self._gave_up(job, "email turned off")
        mail = functools.partial(
            compose,
            notification_message(job.notification),
            Recipient(person_id=person.id, name=person.name, email=person.email),
            mail_from=mailer.mail_from,
            links=mailer.links,
            message_id=f"<{job.delivery.id}@{mailer.domain}>",
        )
        try:
            await mailer.pool.send(mail)
        except PermanentMailError as error:
            return self._gave_up(job, f"email refused: {error}")
        except Exception as error:  # connection refused, timeouts, 4xx: try again later
            return self._failed(job, f"email failed: {type(error).__name__} {error}"[:300])
        return self._sent(job)
