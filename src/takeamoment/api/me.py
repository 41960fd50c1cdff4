"""What a creator or therapist reads about themselves."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import QueryParameter

from takeamoment.api.auth import authenticated
from takeamoment.api.deps import Caller, Db
from takeamoment.api.errors import AUTH_ERRORS
from takeamoment.services.changes import MAX_SEQ
from takeamoment.services.notifications import notifications_since


class MeController(Controller):
    path = "/api/me"
    tags = ["me"]
    guards = [authenticated]

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
