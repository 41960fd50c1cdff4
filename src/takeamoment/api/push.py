"""The VAPID public key browsers subscribe with."""

from __future__ import annotations

from litestar import Controller, get

from takeamoment.api.deps import Db
from takeamoment.services.push_subscriptions import vapid_keys


class PushController(Controller):
    path = "/api/push"
    tags = ["push"]

    @get("/key", summary="The VAPID public key (base64url) for PushManager.subscribe")
    async def key(self, db: Db) -> dict[str, str]:
        return {"public_key": (await vapid_keys(db)).public_key}
