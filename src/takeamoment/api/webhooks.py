"""Webhooks of an event: register (the secret is shown once), list, remove, and their tries."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.params import JSONBody, QueryParameter

from takeamoment.api.auth import host_only
from takeamoment.api.deps import AppSettings, Db, PathKey
from takeamoment.api.errors import (
    AUTH_ERRORS,
    BODY_ERRORS,
    CONFLICT_ERRORS,
    NOT_FOUND_ERRORS,
    RefusedUrlDoc,
)
from takeamoment.services import webhooks
from takeamoment.services.webhook_secrets import SecretBox
from takeamoment.services.webhooks import (
    MAX_ATTEMPTS_PER_PAGE,
    WebhookAttemptPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)


class EventWebhookController(Controller):
    path = "/api/events/{slug:str}/webhooks"
    tags = ["webhooks"]
    guards = [host_only]

    @post(
        summary="Send every change of the event to a URL (Standard Webhooks); the secret is "
        "shown only in this answer",
        raises=[*AUTH_ERRORS, *NOT_FOUND_ERRORS, *BODY_ERRORS, *CONFLICT_ERRORS, RefusedUrlDoc],
    )
    async def register(
        self, db: Db, settings: AppSettings, slug: PathKey, data: JSONBody[WebhookCreate]
    ) -> WebhookCreated:
        box = SecretBox(settings.resolved_secret_key())
        return await webhooks.register(
            db, slug, data, box, allow_private=settings.outbound_allow_private
        )

    @get(
        summary="The event's webhooks with their last try", raises=[*AUTH_ERRORS, *NOT_FOUND_ERRORS]
    )
    async def list_webhooks(self, db: Db, slug: PathKey) -> list[WebhookPublic]:
        return await webhooks.list_webhooks(db, slug)


class WebhookController(Controller):
    path = "/api/webhooks"
    tags = ["webhooks"]
    guards = [host_only]

    @get(
        "/{webhook_id:str}/deliveries",
        summary="The webhook's tries, newest first",
        raises=[*AUTH_ERRORS, *NOT_FOUND_ERRORS],
    )
    async def deliveries(
        self,
        db: Db,
        webhook_id: PathKey,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_ATTEMPTS_PER_PAGE)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> list[WebhookAttemptPublic]:
        return await webhooks.list_attempts(db, webhook_id, limit=limit, offset=offset)

    @delete(
        "/{webhook_id:str}",
        summary="Remove a webhook and the messages it has still to receive",
        raises=[*AUTH_ERRORS, *NOT_FOUND_ERRORS],
    )
    async def remove(self, db: Db, webhook_id: PathKey) -> None:
        await webhooks.remove(db, webhook_id)
