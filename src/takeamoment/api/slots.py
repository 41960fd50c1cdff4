"""Slots and the bookings of people into them."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, delete, get, patch, post
from litestar.params import FromQuery, JSONBody

from takeamoment.api.auth import PUBLIC, authenticated, host_only
from takeamoment.api.deps import Caller, Db, MaybePrincipal, PathKey, SearchText
from takeamoment.api.errors import (
    AUTH_ERRORS,
    BODY_ERRORS,
    BOOKING_ERRORS,
    CONFLICT_ERRORS,
    NOT_FOUND_ERRORS,
)
from takeamoment.services import bookings, candidates, delay, live, slots
from takeamoment.services.candidates import Candidate
from takeamoment.services.inputs import BookingCreate, DelayRequest, GoLiveRequest, SlotUpdate
from takeamoment.services.views import BookingPublic, DelayResult, SlotBooking, SlotPublic

# Every route here is guarded and names a slot or booking that may not exist.
ID_ERRORS = [*AUTH_ERRORS, *NOT_FOUND_ERRORS]


class SlotController(Controller):
    """Every route is the host's but reading one slot (anyone, in a published event)."""

    path = "/api/slots"
    tags = ["slots"]
    guards = [host_only]

    @get(
        "/{slot_id:str}",
        opt={PUBLIC: True},
        summary="One slot (hosts also see its bookings)",
        raises=NOT_FOUND_ERRORS,
    )
    async def get_slot(self, db: Db, principal: MaybePrincipal, slot_id: PathKey) -> SlotPublic:
        return await slots.get_slot_view(db, slot_id, principal)

    @delete(
        "/{slot_id:str}",
        summary="Delete a scheduled slot; its booked people are told",
        raises=[*ID_ERRORS, *CONFLICT_ERRORS],
    )
    async def remove(self, db: Db, slot_id: PathKey) -> None:
        await slots.delete_slot(db, slot_id)

    @get(
        "/{slot_id:str}/bookings", summary="Every booking of the slot, any status", raises=ID_ERRORS
    )
    async def list_bookings(self, db: Db, slot_id: PathKey) -> list[SlotBooking]:
        return await slots.slot_bookings(db, slot_id)

    @get(
        "/{slot_id:str}/candidates",
        summary="People matching q, with whether each could be booked and why not",
        raises=ID_ERRORS,
    )
    async def list_candidates(
        self,
        db: Db,
        slot_id: PathKey,
        q: SearchText = None,
        role: FromQuery[Literal["creator", "therapist"] | None] = None,
    ) -> list[Candidate]:
        return await candidates.slot_candidates(db, slot_id, q, role)

    @patch(
        "/{slot_id:str}",
        summary="Change a slot; a move re-checks every rule",
        raises=[*ID_ERRORS, *BODY_ERRORS, *BOOKING_ERRORS],
    )
    async def update(self, db: Db, slot_id: PathKey, data: JSONBody[SlotUpdate]) -> SlotPublic:
        return await slots.update_slot(db, slot_id, data)

    @post(
        "/{slot_id:str}/bookings",
        summary="Invite a person into the slot",
        raises=[*ID_ERRORS, *BODY_ERRORS, *BOOKING_ERRORS],
    )
    async def book(self, db: Db, slot_id: PathKey, data: JSONBody[BookingCreate]) -> BookingPublic:
        return await bookings.book(db, slot_id, data)

    @post(
        "/{slot_id:str}/live",
        status_code=200,
        summary="Put a scheduled slot on air",
        description="More than 60 minutes before its start, only with the body "
        '`{"early": true}` (otherwise 409 `too_early`). The body is optional.',
        raises=[*ID_ERRORS, *BODY_ERRORS, *CONFLICT_ERRORS],
    )
    async def go_live(
        self, db: Db, slot_id: PathKey, data: JSONBody[GoLiveRequest | None] = None
    ) -> SlotPublic:
        return await live.go_live(db, slot_id, early=data.early if data else False)

    @post(
        "/{slot_id:str}/end",
        status_code=200,
        summary="Take a live slot off air",
        raises=[*ID_ERRORS, *CONFLICT_ERRORS],
    )
    async def end(self, db: Db, slot_id: PathKey) -> SlotPublic:
        return await live.end(db, slot_id)

    @post(
        "/{slot_id:str}/cancel",
        status_code=200,
        summary="Cancel a scheduled slot",
        raises=[*ID_ERRORS, *CONFLICT_ERRORS],
    )
    async def cancel(self, db: Db, slot_id: PathKey) -> SlotPublic:
        return await live.cancel(db, slot_id)

    @post(
        "/{slot_id:str}/reopen",
        status_code=200,
        summary="Put an ended slot back on air (within 15 minutes of its end)",
        raises=[*ID_ERRORS, *CONFLICT_ERRORS],
    )
    async def reopen(self, db: Db, slot_id: PathKey) -> SlotPublic:
        return await live.reopen(db, slot_id)

    @post(
        "/{slot_id:str}/restore",
        status_code=200,
        summary="Bring a cancelled slot back as scheduled; every rule is checked again",
        raises=[*ID_ERRORS, *BOOKING_ERRORS],
    )
    async def restore(self, db: Db, slot_id: PathKey) -> SlotPublic:
        return await live.restore(db, slot_id)

    @post(
        "/{slot_id:str}/delay",
        status_code=200,
        summary="Run late (or early): move the slot and the later slots of its channel",
        raises=[*ID_ERRORS, *BODY_ERRORS, *BOOKING_ERRORS],
    )
    async def delay(self, db: Db, slot_id: PathKey, data: JSONBody[DelayRequest]) -> DelayResult:
        return await delay.delay_slot(db, slot_id, data)


class BookingController(Controller):
    path = "/api/bookings"
    tags = ["bookings"]

    @post(
        "/{booking_id:str}/accept",
        guards=[authenticated],
        status_code=200,
        raises=[*BOOKING_ERRORS, *ID_ERRORS],
    )
    async def accept(self, db: Db, caller: Caller, booking_id: PathKey) -> BookingPublic:
        return await bookings.accept(db, booking_id, caller)

    @post(
        "/{booking_id:str}/decline",
        guards=[authenticated],
        status_code=200,
        raises=[*CONFLICT_ERRORS, *ID_ERRORS],
    )
    async def decline(self, db: Db, caller: Caller, booking_id: PathKey) -> BookingPublic:
        return await bookings.decline(db, booking_id, caller)

    @delete("/{booking_id:str}", guards=[host_only], raises=ID_ERRORS)
    async def remove(self, db: Db, booking_id: PathKey) -> None:
        await bookings.remove(db, booking_id)
