"""Creators and therapists: profiles, licences, availability, feed tokens."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.params import JSONBody

from takeamoment.api.auth import authenticated, host_only
from takeamoment.api.deps import AppSettings, Caller, Db, PathKey
from takeamoment.api.errors import (
    AUTH_ERRORS,
    BODY_ERRORS,
    CONFLICT_ERRORS,
    NOT_FOUND_ERRORS,
    NotBookableDoc,
)
from takeamoment.services import access, people
from takeamoment.services.access import AccessLinkView
from takeamoment.services.inputs import AvailabilityInput, PersonCreate
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
        "/{person_id:str}/token",
        guards=[host_only],
        status_code=200,
        summary="A new bearer token for the person; every earlier one stops working",
        raises=ID_ERRORS,
    )
    async def issue_token(self, db: Db, person_id: PathKey) -> dict[str, str]:
        return {"token": await access.issue_person_token(db, person_id)}

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
