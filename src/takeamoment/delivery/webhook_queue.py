"""Webhook messages as a work queue: claim a batch, record each try and what became of it.

The same protocol as ``queue.py`` for notices: a claim is one write transaction that picks due
rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` turns on SQLite), oldest
change first, marks them ``sending`` with ``attempts + 1`` and a lease, and commits before
anything is sent. Outcomes are written in batches, each only under the claim that made it; the
attempt itself is always kept while its webhook still exists, even when a newer claim took the
row over (it was a real POST the host should see).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.engine import Database
from takeamoment.db.types import new_id, utcnow
from takeamoment.db.webhooks import Webhook, WebhookAttempt, WebhookMessage
from takeamoment.delivery.outcomes import outcome_update

DUE_STATES = ("pending", "failed", "sending")  # "sending" is due only once its lease ran out


@dataclass(slots=True)
class WebhookJob:
    """One claimed message, with where to send it and the sealed secret to sign it with."""

    message: WebhookMessage
    url: str
    secret_sealed: str
    lease_ends: datetime


@dataclass(slots=True)
class Tried:
    """One POST and what it came to; ``state`` is the message's next state."""

    job: WebhookJob
    state: str  # sent, failed or gave_up
    next_attempt_at: datetime
    at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.state == "sent"


async def claim(db: Database, limit: int, lease: timedelta) -> list[WebhookJob]:
    """Up to ``limit`` due messages, oldest change first, claimed until the lease ends."""

    async def work(session: AsyncSession) -> list[WebhookJob]:
        now = utcnow()
        due = (
            select(WebhookMessage.id)
            .where(
                col(WebhookMessage.state).in_(DUE_STATES),
                col(WebhookMessage.next_attempt_at) <= now,
            )
            .order_by(col(WebhookMessage.next_attempt_at), col(WebhookMessage.seq))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        picked = list((await session.execute(due)).scalars())
        if not picked:
            return []
        await session.execute(
            update(WebhookMessage)
            .where(col(WebhookMessage.id).in_(picked))
            .values(
                state="sending",
                attempts=col(WebhookMessage.attempts) + 1,
                next_attempt_at=now + lease,
                updated_at=now,
            )
        )
        query = (
            select(WebhookMessage, Webhook.url, Webhook.secret_sealed)
            .join(Webhook, col(Webhook.id) == WebhookMessage.webhook_id)
            .where(col(WebhookMessage.id).in_(picked))
            .order_by(col(WebhookMessage.seq))
            .execution_options(populate_existing=True)
        )
        rows = (await session.execute(query)).all()
        return [WebhookJob(m, url, sealed, now + lease) for m, url, sealed in rows]

    return await db.write(work)


_RECORD = outcome_update(WebhookMessage.__table__)  # type: ignore[attr-defined]


async def record(db: Database, tries: Sequence[Tried]) -> None:
    """Write a batch of tries in one transaction: each message's state, and each attempt."""
    if not tries:
        return

    async def work(session: AsyncSession) -> None:
        now = utcnow()
        # A webhook removed while its message was on the way has no attempts to keep. The key
        # share lock, taken before anything else, makes a removal (which locks the webhook's
        # row for update) wait for this batch to commit, or this batch see the webhook gone.
        webhook_ids = {t.job.message.webhook_id for t in tries}
        query = (
            select(Webhook.id)
            .where(col(Webhook.id).in_(webhook_ids))
            .with_for_update(key_share=True)
        )
        alive = set((await session.execute(query)).scalars())
        await session.execute(
            _RECORD,
            [
                {
                    "b_id": t.job.message.id,
                    "b_attempts": t.job.message.attempts,
                    "b_state": t.state,
                    "b_next": t.next_attempt_at,
                    "b_error": t.error[:500] if t.error else None,
                    "b_sent_at": t.at if t.ok else None,
                    "b_now": now,
                }
                for t in tries
            ],
        )
        attempts = [
            {
                "id": new_id(),
                "webhook_id": t.job.message.webhook_id,
                "message_id": t.job.message.id,
                "seq": t.job.message.seq,
                "type": t.job.message.type,
                "attempt": t.job.message.attempts,
                "at": t.at,
                "duration_ms": t.duration_ms,
                "status_code": t.status_code,
                "error": t.error[:500] if t.error else None,
                "ok": t.ok,
            }
            for t in tries
            if t.job.message.webhook_id in alive
        ]
        if attempts:
            await session.execute(insert(WebhookAttempt), attempts)

    await db.write(work)
