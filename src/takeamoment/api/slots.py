"""Slots and the bookings of people into them."""

from __future__ import annotations

from litestar import Controller, delete, patch, post
from litestar.params import JSONBody

from takeamoment.api.auth import authenticated, host_only
from takeamoment.api.deps import Caller, Db, PathKey
from takeamoment.services import bookings, delay, live, slots
from takeamoment.services.inputs import BookingCreate, DelayRequest, SlotUpdate
from takeamoment.services.views import BookingPublic, DelayResult, SlotPublic


class SlotController(Controller):
    path = "/api/slots"
    tags = ["slots"]
    guards = [host_only]

    @patch("/{slot_id:str}", summary="Change a slot; a move re-checks every rule")
    async def update(self, db: Db, slot_id: PathKey, data: JSONBody[SlotUpdate]) -> SlotPublic:
        return await slots.update_slot(db, slot_id, data)

    @post("/{slot_id:str}/bookings", summary="Invite a person into the slot")
    async def book(self, db: Db, slot_id: PathKey, data: JSONBody[BookingCreate]) -> BookingPublic:
        return await bookings.book(db, slot_id, data)

    @post("/{slot_id:str}/live", status_code=200, summary="Put a scheduled slot on air")
    async def go_live(self, db: Db, slot_id: PathKey) -> SlotPublic:
        return await live.go_live(db, slot_id)

    @post("/{slot_id:str}/end", status_code=200, summary="Take a live slot off air")
    async def end(self, db: Db, slot_id: PathKey) -> SlotPublic:
        return await live.end(db, slot_id)

    @post("/{slot_id:str}/cancel", status_code=200, summary="Cancel a scheduled slot")
    async def cancel(self, db: Db, slot_id: PathKey) -> SlotPublic:
        return await live.cancel(db, slot_id)

    @post(
        "/{slot_id:str}/delay",
        status_code=200,
        summary="Run late: move the slot and push later slots of its channel",
    )
    async def delay(self, db: Db, slot_id: PathKey, data: JSONBody[DelayRequest]) -> DelayResult:
        return await delay.delay_slot(db, slot_id, data)


class BookingController(Controller):
    path = "/api/bookings"
    tags = ["bookings"]

    @post("/{booking_id:str}/accept", guards=[authenticated], status_code=200)
    async def accept(self, db: Db, caller: Caller, booking_id: PathKey) -> BookingPublic:
        return await bookings.accept(db, booking_id, caller)

    @post("/{booking_id:str}/decline", guards=[authenticated], status_code=200)
    async def decline(self, db: Db, caller: Caller, booking_id: PathKey) -> BookingPublic:
        return await bookings.decline(db, booking_id, caller)

    @delete("/{booking_id:str}", guards=[host_only])
    async def remove(self, db: Db, booking_id: PathKey) -> None:
        await bookings.remove(db, booking_id)
