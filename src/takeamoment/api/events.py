"""Events, their channels, slots, schedule and change log."""

from __future__ import annotations

from typing import Annotated, Any, cast

from litestar import Controller, MediaType, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody, QueryParameter

from takeamoment.api.auth import host_only
from takeamoment.api.deps import AppSettings, Db, MaybePrincipal, PathKey
from takeamoment.api.errors import AUTH_ERRORS, BODY_ERRORS, CONFLICT_ERRORS, NOT_FOUND_ERRORS
from takeamoment.calendar.conditional import accepts_gzip
from takeamoment.connection.credentials import principal_of
from takeamoment.db.engine import Database
from takeamoment.services import changes, channels, document, events, importing, schedule, slots
from takeamoment.services.importing import ImportResult
from takeamoment.services.inputs import (
    ChannelCreate,
    ChannelUpdate,
    EventCreate,
    EventUpdate,
    SlotCreate,
)
from takeamoment.services.views import ChannelPublic, EventPublic, SchedulePublic, SlotPublic
from takeamoment.settings import Settings

PUBLIC_SCHEDULES_KEY = "public_schedules"


def public_schedules(state: State) -> schedule.PublicSchedules:
    """This app's cache of public schedules (made by ``create_app``)."""
    cache: schedule.PublicSchedules = state[PUBLIC_SCHEDULES_KEY]
    return cache


# A host's change to a named event: the token, the event, the body can each be wrong.
WRITE_ERRORS = [*AUTH_ERRORS, *NOT_FOUND_ERRORS, *BODY_ERRORS]


class EventController(Controller):
    path = "/api/events"
    tags = ["events"]

    @post(
        guards=[host_only],
        summary="Create a draft event",
        raises=[*AUTH_ERRORS, *BODY_ERRORS, *CONFLICT_ERRORS],
    )
    async def create(
        self, db: Db, settings: AppSettings, data: JSONBody[EventCreate]
    ) -> EventPublic:
        return await events.create_event(db, data, settings.public_url)

    @post(
        "/import",
        guards=[host_only],
        summary="Create a draft event from an exported document (dry_run: only check it)",
        raises=[*AUTH_ERRORS, *BODY_ERRORS, *CONFLICT_ERRORS],
        responses={
            200: ResponseSpec(data_container=ImportResult, description="dry run: what it would do")
        },
    )
    async def import_event(
        self,
        db: Db,
        settings: AppSettings,
        data: JSONBody[dict[str, Any]],
        dry_run: FromQuery[bool] = False,
    ) -> Response[ImportResult]:
        result = await importing.import_document(db, data, settings.public_url, dry_run=dry_run)
        return Response(result, status_code=200 if dry_run else 201)

    @get(
        "/{slug:str}/export",
        guards=[host_only],
        summary="The whole event as one JSON document",
        raises=[*AUTH_ERRORS, *NOT_FOUND_ERRORS],
    )
    async def export_event(self, db: Db, slug: PathKey) -> dict[str, Any]:
        return await document.export_event(db, slug)

    @get(summary="Published events (hosts also see drafts)")
    async def list_events(
        self, db: Db, settings: AppSettings, principal: MaybePrincipal
    ) -> list[EventPublic]:
        return await events.list_events(db, principal, settings.public_url)

    @get("/{slug:str}", summary="One event", raises=NOT_FOUND_ERRORS)
    async def get_event(
        self, db: Db, settings: AppSettings, principal: MaybePrincipal, slug: PathKey
    ) -> EventPublic:
        return await events.get_event_view(db, slug, principal, settings.public_url)

    @patch("/{slug:str}", guards=[host_only], summary="Change an event", raises=WRITE_ERRORS)
    async def update(
        self, db: Db, settings: AppSettings, slug: PathKey, data: JSONBody[EventUpdate]
    ) -> EventPublic:
        return await events.update_event(db, slug, data, settings.public_url)

    @post(
        "/{slug:str}/publish",
        guards=[host_only],
        status_code=200,
        summary="Publish an event",
        raises=[*AUTH_ERRORS, *NOT_FOUND_ERRORS],
    )
    async def publish(self, db: Db, settings: AppSettings, slug: PathKey) -> EventPublic:
        return await events.publish_event(db, slug, settings.public_url)

    @post(
        "/{slug:str}/unpublish",
        guards=[host_only],
        status_code=200,
        summary="Take an event back to draft",
        raises=[*AUTH_ERRORS, *NOT_FOUND_ERRORS],
    )
    async def unpublish(self, db: Db, settings: AppSettings, slug: PathKey) -> EventPublic:
        return await events.unpublish_event(db, slug, settings.public_url)

    @delete(
        "/{slug:str}",
        guards=[host_only],
        summary="Delete a draft event with everything in it",
        raises=[*AUTH_ERRORS, *NOT_FOUND_ERRORS, *CONFLICT_ERRORS],
    )
    async def remove(self, db: Db, slug: PathKey) -> None:
        await events.delete_event(db, slug)

    @patch(
        "/{slug:str}/channels/{channel:str}",
        guards=[host_only],
        summary="Rename, reorder or set the stream link of a channel",
        raises=WRITE_ERRORS,
    )
    async def update_channel(
        self, db: Db, slug: PathKey, channel: PathKey, data: JSONBody[ChannelUpdate]
    ) -> ChannelPublic:
        return await channels.update_channel(db, slug, channel, data)

    @delete(
        "/{slug:str}/channels/{channel:str}",
        guards=[host_only],
        summary="Delete a channel without slots",
        raises=[*AUTH_ERRORS, *NOT_FOUND_ERRORS, *CONFLICT_ERRORS],
    )
    async def remove_channel(self, db: Db, slug: PathKey, channel: PathKey) -> None:
        await channels.delete_channel(db, slug, channel)

    @post(
        "/{slug:str}/channels",
        guards=[host_only],
        summary="Add a channel (a LIVE stream)",
        raises=[*WRITE_ERRORS, *CONFLICT_ERRORS],
    )
    async def add_channel(
        self, db: Db, slug: PathKey, data: JSONBody[ChannelCreate]
    ) -> ChannelPublic:
        return await events.create_channel(db, slug, data)

    @post(
        "/{slug:str}/slots",
        guards=[host_only],
        summary="Add a slot to a channel",
        raises=[*WRITE_ERRORS, *CONFLICT_ERRORS],
    )
    async def add_slot(self, db: Db, slug: PathKey, data: JSONBody[SlotCreate]) -> SlotPublic:
        return await slots.create_slot(db, slug, data)

    @get("/{slug:str}/schedule", summary="The schedule, sorted by start", raises=NOT_FOUND_ERRORS)
    async def get_schedule(
        self, slug: PathKey, request: Request[Any, Any, Any]
    ) -> Response[SchedulePublic]:
        # No injected dependencies: resolving them (a task group per request) cost more than
        # serving the public schedule from memory (bench/http_servers.py). Same objects, read
        # from the app's state.
        state = request.app.state
        db: Database = state.db
        settings: Settings = state.settings
        principal = await principal_of(request)
        if principal is not None and principal.is_host:  # hosts see invited people too
            return Response(await schedule.get_schedule(db, slug, principal, settings.public_url))
        gzipped = accepts_gzip(request.headers.get("accept-encoding"))
        body = await public_schedules(state).body(db, slug, settings.public_url, gzipped)
        headers = {"Vary": "Accept-Encoding", **({"Content-Encoding": "gzip"} if gzipped else {})}
        # Already JSON of a SchedulePublic: Litestar sends bytes as they are.
        return Response(cast(SchedulePublic, body), media_type=MediaType.JSON, headers=headers)

    @get(
        "/{slug:str}/changes",
        summary="Changes after seq `since`, oldest first",
        raises=NOT_FOUND_ERRORS,
    )
    async def get_changes(
        self,
        db: Db,
        principal: MaybePrincipal,
        slug: PathKey,
        since: Annotated[int, QueryParameter(ge=0, le=changes.MAX_SEQ)] = 0,
    ) -> list[dict[str, Any]]:
        return await changes.list_changes(db, slug, since, principal)
