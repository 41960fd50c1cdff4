"""The host's pre-flight view of an event."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from takeamoment.api.auth import host_only
from takeamoment.api.deps import Db, PathKey
from takeamoment.api.errors import AUTH_ERRORS, NOT_FOUND_ERRORS
from takeamoment.services.readiness import PresenceReader, SlotReadiness, event_readiness


class ReadinessController(Controller):
    path = "/api/events"
    tags = ["events"]
    guards = [host_only]

    @get(
        "/{slug:str}/readiness",
        summary="Upcoming slots: who confirmed, was reminded, is connected",
        raises=[*AUTH_ERRORS, *NOT_FOUND_ERRORS],
    )
    async def readiness(
        self, db: Db, presence: NamedDependency[PresenceReader], slug: PathKey
    ) -> list[SlotReadiness]:
        return await event_readiness(db, slug, presence.connected)
