"""What a creator or therapist reads and sets about themselves."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter

from takeamoment.api.auth import authenticated
from takeamoment.api.deps import AppSettings, Caller, Db
from takeamoment.api.errors import AUTH_ERRORS, BODY_ERRORS, RefusedUrlDoc
from takeamoment.services import push_subscriptions
from takeamoment.services.changes import MAX_SEQ
from takeamoment.services.me import Me, Preferences, PreferencesUpdate, get_me, set_preferences
from takeamoment.services.notifications import notifications_since
from takeamoment.services.push_subscriptions import (
    PushEndpoint,
    PushSubscriptionInput,
    PushSubscriptionView,
)


class MeController(Controller):
    path = "/api/me"
    tags = ["me"]
    guards = [authenticated]

    @get(summary="Me: the person and their bookings, with slot and event", raises=AUTH_ERRORS)
    async def me(self, db: Db, settings: AppSettings, caller: Caller) -> Me:
        return await get_me(db, caller.person_id, settings.public_url)

    @get(
        "/notifications",
        summary="My notifications after seq `since`, oldest first",
        raises=AUTH_ERRORS,
    )
    async def notifications(
        self,
        db: Db,
        caller: Caller,
        since: Annotated[int, QueryParameter(ge=0, le=MAX_SEQ)] = 0,
    ) -> list[dict[str, Any]]:
        return await notifications_since(db, caller.person_id, since)

    @patch(
        "/preferences",
        summary="Turn email or push notices on or off",
        raises=[*AUTH_ERRORS, *BODY_ERRORS],
    )
    async def preferences(
        self, db: Db, caller: Caller, data: JSONBody[PreferencesUpdate]
    ) -> Preferences:
        return await set_preferences(db, caller.person_id, data)

    @post(
        "/push-subscriptions",
        summary="Keep a browser's PushSubscription for Web Push notices",
        raises=[*AUTH_ERRORS, *BODY_ERRORS, RefusedUrlDoc],
    )
    async def subscribe(
        self,
        db: Db,
        settings: AppSettings,
        caller: Caller,
        data: JSONBody[PushSubscriptionInput],
    ) -> PushSubscriptionView:
        return await push_subscriptions.subscribe(
            db, caller.person_id, data, allow_private=settings.outbound_allow_private
        )

    @delete(
        "/push-subscriptions",
        summary="Forget a browser's PushSubscription",
        raises=[*AUTH_ERRORS, *BODY_ERRORS],
    )
    async def unsubscribe(self, db: Db, caller: Caller, data: JSONBody[PushEndpoint]) -> None:
        await push_subscriptions.unsubscribe(db, caller.person_id, data.endpoint)
