"""Webhooks: register, list, remove; and one outbox row per webhook for every change.

``queue_change`` is what ``record_change`` calls for each change it logs: in that same
transaction it adds a ``WebhookMessage`` for every webhook of the event that wants the change's
type, so a change that commits is sent (by ``takeamoment.delivery.webhook_worker``) and one that
rolls back never is. This layer never imports the worker.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Change, Event
from takeamoment.db.queries import get_event, get_event_by_id
from takeamoment.db.webhooks import Webhook, WebhookAttempt, WebhookMessage
from takeamoment.domain.errors import InUse, NotFound
from takeamoment.domain.webhooks import ChangeType
from takeamoment.services.inputs import RequestBody, StoredUrl
from takeamoment.services.outbound import resolve
from takeamoment.services.webhook_secrets import SecretBox, new_secret

MAX_WEBHOOKS_PER_EVENT = 20
MAX_ATTEMPTS_PER_PAGE = 100
_CACHE_KEY = "takeamoment_event_webhooks"


class WebhookCreate(RequestBody):
    url: StoredUrl
    # Absent: every type. Unknown types are a 400 (the Literal lists the known ones).
    types: Annotated[list[ChangeType], Field(min_length=1, max_length=20)] | None = None


class WebhookCreated(SQLModel):
    """The answer to a registration: the only time the secret is shown."""

    id: str
    secret: str


class WebhookAttemptPublic(SQLModel):
    id: str
    message_id: str  # the webhook-id header: the same for every try of one change
    seq: int
    type: str
    attempt: int
    at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    ok: bool


class WebhookPublic(SQLModel):
    id: str
    url: str
    types: list[str] | None
    created_at: datetime
    last_attempt: WebhookAttemptPublic | None
    pending: int  # messages not yet delivered (waiting, being sent or to be retried)


def webhook_id_header(message_row_id: str) -> str:
    """The ``webhook-id`` of a message: ``msg_`` and its row id, the same for every try."""
    return f"msg_{message_row_id}"


async def register(
    db: Database, slug: str, data: WebhookCreate, box: SecretBox, *, allow_private: bool
) -> WebhookCreated:
    """Add a webhook to the event; its URL must pass the outbound rules now (422 if not)."""
    await resolve(data.url, allow_private=allow_private)
    secret = new_secret()

    async def work(session: AsyncSession) -> WebhookCreated:
        event = await get_event(session, slug, for_update=True)
        count = await session.execute(select(Webhook.id).where(Webhook.event_id == event.id))
        if len(count.all()) >= MAX_WEBHOOKS_PER_EVENT:
            raise InUse(
                f"the event has {MAX_WEBHOOKS_PER_EVENT} webhooks already: remove one first"
            )
        types: list[str] | None = sorted(set(data.types)) if data.types is not None else None
        webhook = Webhook(
            event_id=event.id, url=data.url, types=types, secret_sealed=box.seal(secret)
        )
        session.add(webhook)
        await session.flush()
        return WebhookCreated(id=webhook.id, secret=secret)

    return await db.write(work)


async def list_webhooks(db: Database, slug: str) -> list[WebhookPublic]:
    """The event's webhooks, oldest first, each with its newest attempt (never the secret)."""
    async with db.read() as session:
        event = await get_event(session, slug)
        query = (
            select(Webhook)
            .where(Webhook.event_id == event.id)
            .order_by(col(Webhook.created_at), col(Webhook.id))
        )
        views = []
        for webhook in (await session.execute(query)).scalars():
            newest = await _attempts(session, webhook.id, limit=1, offset=0)
            pending = select(WebhookMessage.id).where(
                WebhookMessage.webhook_id == webhook.id,
                col(WebhookMessage.state).in_(("pending", "sending", "failed")),
            )
            views.append(
                WebhookPublic(
                    id=webhook.id,
                    url=webhook.url,
                    types=webhook.types,
                    created_at=webhook.created_at,
                    last_attempt=newest[0] if newest else None,
                    pending=len((await session.execute(pending)).all()),
                )
            )
        return views


async def list_attempts(
    db: Database, webhook_id: str, *, limit: int, offset: int
) -> list[WebhookAttemptPublic]:
    """A page of the webhook's attempts, newest first."""
    async with db.read() as session:
        if await session.get(Webhook, webhook_id) is None:
            raise NotFound("webhook", webhook_id)
        return await _attempts(session, webhook_id, limit=limit, offset=offset)


async def _attempts(
    session: AsyncSession, webhook_id: str, *, limit: int, offset: int
) -> list[WebhookAttemptPublic]:
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.webhook_id == webhook_id)
        .order_by(col(WebhookAttempt.at).desc(), col(WebhookAttempt.attempt).desc())
        .limit(min(limit, MAX_ATTEMPTS_PER_PAGE))
        .offset(offset)
    )
    return [
        WebhookAttemptPublic(
            id=a.id,
            message_id=webhook_id_header(a.message_id),
            seq=a.seq,
            type=a.type,
            attempt=a.attempt,
            at=a.at,
            duration_ms=a.duration_ms,
            status_code=a.status_code,
            error=a.error,
            ok=a.ok,
        )
        for a in (await session.execute(query)).scalars()
    ]


async def remove(db: Database, webhook_id: str) -> None:
    """Forget the webhook, its messages still to be sent and its attempts."""

    async def work(session: AsyncSession) -> None:
        webhook = await session.get(Webhook, webhook_id)
        if webhook is None:
            raise NotFound("webhook", webhook_id)
        # Every change takes its seq by updating its event's row before it looks for webhooks:
        # holding that row, no change can be writing a message for this webhook while it goes.
        await get_event_by_id(session, webhook.event_id, for_update=True)
        if not await _delete(session, [webhook_id]):
            raise NotFound("webhook", webhook_id)  # removed by another request meanwhile

    await db.write(work)


async def remove_event_webhooks(session: AsyncSession, event_id: str) -> None:
    """Within an event's deletion: its webhooks go with it."""
    query = select(Webhook.id).where(Webhook.event_id == event_id)
    ids = list((await session.execute(query)).scalars())
    if ids:
        await _delete(session, ids)


async def _delete(session: AsyncSession, webhook_ids: list[str]) -> list[str]:
    """Delete the webhooks still there, with their messages and attempts; returns their ids.

    A batch of outcomes being recorded (delivery/webhook_queue.py) holds its webhooks' rows with
    a key share lock until it commits its attempts: locking the rows for update waits for it,
    so its attempts go too. Callers hold the event's row first, as every change takes them.
    """
    query = select(Webhook.id).where(col(Webhook.id).in_(webhook_ids)).with_for_update()
    webhook_ids = list((await session.execute(query)).scalars())
    if not webhook_ids:
        return []
    await session.execute(
        delete(WebhookAttempt).where(col(WebhookAttempt.webhook_id).in_(webhook_ids))
    )
    await session.execute(
        delete(WebhookMessage).where(col(WebhookMessage.webhook_id).in_(webhook_ids))
    )
    await session.execute(delete(Webhook).where(col(Webhook.id).in_(webhook_ids)))
    return webhook_ids


async def queue_change(
    session: AsyncSession, event: Event, change: Change, message: dict[str, Any]
) -> None:
    """A ``WebhookMessage`` for each of the event's webhooks that wants this change's type."""
    cache: dict[str, list[tuple[str, list[str] | None]]] = session.info.setdefault(_CACHE_KEY, {})
    if event.id not in cache:
        query = select(Webhook.id, Webhook.types).where(Webhook.event_id == event.id)
        cache[event.id] = [(row.id, row.types) for row in (await session.execute(query)).all()]
    wanted = [wid for wid, types in cache[event.id] if types is None or change.type in types]
    if not wanted:
        return
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    for webhook_id in wanted:
        session.add(
            WebhookMessage(
                webhook_id=webhook_id,
                seq=change.seq,
                type=change.type,
                body=body,
                next_attempt_at=change.at,
            )
        )
