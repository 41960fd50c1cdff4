"""Creators and therapists: profiles, licences, availability, feed tokens."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromQuery, JSONBody, QueryParameter

from takeamoment.api.auth import authenticated, host_only
from takeamoment.api.deps import AppSettings, Caller, Db, PathKey, SearchText
from takeamoment.api.errors import (
    AUTH_ERRORS,
    BODY_ERRORS,
    CONFLICT_ERRORS,
    NOT_FOUND_ERRORS,
    NotBookableDoc,
)
from takeamoment.services import access, directory, people
from takeamoment.services.access import AccessLinkView
from takeamoment.services.inputs import AvailabilityInput, PersonCreate, PersonUpdate
from takeamoment.services.views import AvailabilityWindowView, PersonCreated, PersonPrivate

# A guarded route naming a person who may not exist (or is not the caller).
ID_ERRORS = [*AUTH_ERRORS, *NOT_FOUND_ERRORS]


class PeopleController(Controller):
    path = "/api/people"
    tags = ["people"]

    @post(
        guards=[host_only],
        summary="Create a creator or therapist (token shown once)",
        raises=[*AUTH_ERRORS, *BODY_ERRORS, *CONFLICT_ERRORS],
    )
    async def create(
        self, db: Db, settings: AppSettings, data: JSONBody[PersonCreate]
    ) -> PersonCreated:
        return await people.create_person(db, data, settings.public_url)

    @get(
        guards=[host_only],
        summary="People matching q (name or handle), by name",
        raises=AUTH_ERRORS,
    )
    async def list_people(
        self,
        db: Db,
        q: SearchText = None,
        role: FromQuery[Literal["creator", "therapist"] | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=directory.MAX_LISTED)] = 100,
    ) -> list[PersonPrivate]:
        return await directory.list_people(db, q, role, limit)

    @patch(
        "/{person_id:str}",
        guards=[authenticated],
        summary="Edit a person (the person: name, email, time zone only)",
        raises=[*ID_ERRORS, *BODY_ERRORS, *CONFLICT_ERRORS],
    )
    async def update(
        self, db: Db, caller: Caller, person_id: PathKey, data: JSONBody[PersonUpdate]
    ) -> PersonPrivate:
        return await directory.update_person(db, person_id, data, caller)

    @delete(
        "/{person_id:str}",
        guards=[host_only],
        summary="Delete a person without upcoming bookings",
        raises=[*ID_ERRORS, *CONFLICT_ERRORS],
    )
    async def remove(self, db: Db, person_id: PathKey) -> None:
        await directory.delete_person(db, person_id)

    @post(
        "/{person_id:str}/token",
        guards=[host_only],
        status_code=200,
        summary="A new token; every earlier token of the person stops working",
        raises=ID_ERRORS,
    )
    async def new_token(self, db: Db, person_id: PathKey) -> dict[str, str]:
        return {"token": await directory.issue_person_token(db, person_id)}

    @get(
        "/{person_id:str}/availability",
        guards=[authenticated],
        summary="The person's availability windows",
        raises=ID_ERRORS,
    )
    async def get_availability(
        self, db: Db, caller: Caller, person_id: PathKey
    ) -> list[AvailabilityWindowView]:
        caller.ensure_host_or(person_id)
        return await people.get_availability(db, person_id)

    @post(
        "/{person_id:str}/availability",
        guards=[authenticated],
        summary="Add one availability window",
        raises=[*ID_ERRORS, *BODY_ERRORS, *CONFLICT_ERRORS],
    )
    async def add_availability(
        self, db: Db, caller: Caller, person_id: PathKey, data: JSONBody[AvailabilityInput]
    ) -> AvailabilityWindowView:
        caller.ensure_host_or(person_id)
        return await people.add_availability(db, person_id, data)

    @delete(
        "/{person_id:str}/availability/{window_id:str}",
        guards=[authenticated],
        summary="Remove one availability window",
        raises=[*ID_ERRORS, *CONFLICT_ERRORS],
    )
    async def remove_availability(
        self, db: Db, caller: Caller, person_id: PathKey, window_id: PathKey
    ) -> None:
        caller.ensure_host_or(person_id)
        await people.remove_availability(db, person_id, window_id)

    @get(
        "/{person_id:str}",
        guards=[authenticated],
        summary="A person, with private fields",
        raises=ID_ERRORS,
    )
    async def get_person(self, db: Db, caller: Caller, person_id: PathKey) -> PersonPrivate:
        caller.ensure_host_or(person_id)
        return await people.get_person_private(db, person_id)

    @post(
        "/{person_id:str}/license/verify",
        guards=[host_only],
        status_code=200,
        summary="Mark the licence verified",
        raises=[*ID_ERRORS, NotBookableDoc],
    )
    async def verify_licence(self, db: Db, person_id: PathKey) -> PersonPrivate:
        return await people.verify_licence(db, person_id)

    @put(
        "/{person_id:str}/availability",
        guards=[authenticated],
        summary="Replace availability",
        raises=[*ID_ERRORS, *BODY_ERRORS, *CONFLICT_ERRORS],
    )
    async def set_availability(
        self,
        db: Db,
        caller: Caller,
        person_id: PathKey,
        data: JSONBody[list[AvailabilityInput]],
    ) -> list[AvailabilityWindowView]:
        caller.ensure_host_or(person_id)
        return await people.set_availability(db, person_id, data)

    @post(
        "/{person_id:str}/feed-token/rotate",
        guards=[authenticated],
        status_code=200,
        summary="New feed URL; the old one stops working",
        raises=ID_ERRORS,
    )
    async def rotate_feed_token(
        self, db: Db, settings: AppSettings, caller: Caller, person_id: PathKey
    ) -> dict[str, str]:
        caller.ensure_host_or(person_id)
        return {"feed_url": await people.rotate_feed_token(db, person_id, settings.public_url)}

    @post(
        "/{person_id:str}/access-link",
        guards=[host_only],
        status_code=201,
        summary="A one-time sign-in link to /me, valid 24 h",
        raises=ID_ERRORS,
    )
    async def access_link(
        self, db: Db, settings: AppSettings, person_id: PathKey
    ) -> AccessLinkView:
        return await access.create_access_link(db, person_id, settings.public_url)
