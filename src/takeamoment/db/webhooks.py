"""Webhooks: a host's URL that receives every change of one event, and the outbox behind it.

A ``WebhookMessage`` is one change for one webhook, written in the change's own transaction and
sent after commit by the webhook worker (``takeamoment.delivery.webhook_worker``); its ``state``
and ``next_attempt_at`` are the whole protocol between the two, as for ``Delivery``. Each POST
made for it is a ``WebhookAttempt``, kept so the host can see what the receiver answered.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from takeamoment.db.types import UTCDateTime, new_id, utcnow


class Webhook(SQLModel, table=True):
    """Where to POST an event's changes, which types of them, and the secret to sign with.

    ``secret_sealed`` is the ``whsec_…`` secret encrypted with a key derived from the
    deployment's secret key (``services/webhook_secrets.py``): it signs every message, so it must
    be readable again and cannot be kept only as a hash like tokens are.
    """

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="event.id", index=True, max_length=32)
    url: str = Field(sa_type=Text)
    # None: every type of change.
    types: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    secret_sealed: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookMessage(SQLModel, table=True):
    """One change for one webhook; its id (``msg_<id>``) is the ``webhook-id`` of every try.

    ``pending`` → claimed as ``sending`` (``next_attempt_at`` is then the claim's lease end) →
    ``sent``, ``failed`` (``next_attempt_at`` is the next try) or ``gave_up``.
    """

    __tablename__ = "webhook_message"
    __table_args__ = (Index("ix_webhook_message_due", "state", "next_attempt_at", "seq"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    webhook_id: str = Field(foreign_key="webhook.id", index=True, max_length=32)
    seq: int
    type: str = Field(max_length=32)
    # The exact JSON that is signed and sent, fixed at commit: every try sends the same bytes.
    body: str = Field(sa_type=Text)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookAttempt(SQLModel, table=True):
    """One POST of a message: the receiver's status code, or why there was none."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_newest", "webhook_id", "at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    webhook_id: str = Field(foreign_key="webhook.id", max_length=32)
    message_id: str = Field(max_length=32)
    seq: int
    type: str = Field(max_length=32)
    attempt: int
    at: datetime = Field(sa_type=UTCDateTime)
    duration_ms: int
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    ok: bool
