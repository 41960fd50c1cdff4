"""Viewers' "notify me": anyone may follow a published event's slot, channel or whole event."""

from __future__ import annotations

from litestar import Controller, post
from litestar.params import JSONBody

from takeamoment.api.deps import AppSettings, Db, PathKey
from takeamoment.api.errors import BODY_ERRORS, NOT_FOUND_ERRORS, RefusedUrlDoc
from takeamoment.services import follows
from takeamoment.services.follows import FollowCreated, FollowInput, UnfollowLinks


class FollowController(Controller):
    path = "/api/events/{slug:str}/follows"
    tags = ["follows"]

    @post(
        summary="Follow a slot, a channel or the whole event with a browser's PushSubscription",
        description=(
            "No account needed. Give `slot_id` or `channel` (slug or id), or neither for the "
            "whole event. A push arrives when a followed slot goes live or is cancelled. "
            "`unfollow_url`: DELETE it (or open it in a browser) to stop."
        ),
        raises=[*NOT_FOUND_ERRORS, *BODY_ERRORS, RefusedUrlDoc],
    )
    async def follow(
        self, db: Db, settings: AppSettings, slug: PathKey, data: JSONBody[FollowInput]
    ) -> FollowCreated:
        links = UnfollowLinks(settings.resolved_secret_key(), settings.public_url)
        return await follows.follow(
            db, slug, data, links, allow_private=settings.outbound_allow_private
        )
