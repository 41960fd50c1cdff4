"""The host's directory of creators and therapists: find, edit, delete, and issue new tokens."""

from __future__ import annotations

from sqlalchemy import delete, func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from takeamoment.db.delivery import AccessLink, Delivery, PushSubscription
from takeamoment.db.engine import Database
from takeamoment.db.events import Event
from takeamoment.db.notifications import Notification
from takeamoment.db.people import (
    ApiToken,
    AuthSession,
    AvailabilityWindow,
    Person,
    RetiredFeedToken,
)
from takeamoment.db.queries import (
    get_event_by_id,
    get_person,
    person_upcoming_bookings,
)
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.booking_states import apply_booking
from takeamoment.domain.errors import AlreadyExists, Forbidden, InUse
from takeamoment.services.auth import Principal
from takeamoment.services.changes import record_change
from takeamoment.services.inputs import SELF_EDITABLE_PERSON_FIELDS, LicenceInput, PersonUpdate
from takeamoment.services.schedule import slot_public
from takeamoment.services.sessions import end_person_sessions
from takeamoment.services.tokens import hash_token, new_token
from takeamoment.services.views import PersonPrivate, person_private, person_public

MAX_LISTED = 500


async def list_people(
    db: Database, query: str | None, role: str | None, limit: int = MAX_LISTED
) -> list[PersonPrivate]:
    """People whose name or handle contains ``query`` (any case), of ``role``, by name."""
    async with db.read() as session:
        statement = select(Person)
        if query:
            needle = query.strip().removeprefix("@").lower()
            statement = statement.where(
                or_(
                    func.lower(col(Person.name)).contains(needle, autoescape=True),
                    func.lower(col(Person.handle)).contains(needle, autoescape=True),
                )
            )
        if role:
            statement = statement.where(Person.role == role)
        statement = statement.order_by(func.lower(col(Person.name)), col(Person.id)).limit(limit)
        return [person_private(p) for p in (await session.execute(statement)).scalars()]


def _set_licence(person: Person, licence: LicenceInput | None) -> None:
    """Record the licence; a licence that changes in any way must be verified again."""
    values = (
        (licence.number, licence.issuer, licence.jurisdiction, licence.expires_on)
        if licence
        else (None, None, None, None)
    )
    current = (
        person.license_number,
        person.license_issuer,
        person.license_jurisdiction,
        person.license_expires_on,
    )
    if values != current:
        (
            person.license_number,
            person.license_issuer,
            person.license_jurisdiction,
            person.license_expires_on,
        ) = values
        person.license_verified_at = None


async def update_person(
    db: Database, person_id: str, data: PersonUpdate, principal: Principal
) -> PersonPrivate:
    """Edit a person; the person themselves may change only their name, email and time zone."""
    principal.ensure_host_or(person_id)
    fields = data.model_fields_set
    if not principal.is_host and fields - SELF_EDITABLE_PERSON_FIELDS:
        names = ", ".join(sorted(fields - SELF_EDITABLE_PERSON_FIELDS))
        raise Forbidden(f"only a host may change {names}")

    async def work(session: AsyncSession) -> PersonPrivate:
        person = await get_person(session, person_id, for_update=True)
        if data.handle is not None and data.handle.lower() != person.handle.lower():
            taken = select(Person.id).where(func.lower(col(Person.handle)) == data.handle.lower())
            if (await session.execute(taken)).first():
                raise AlreadyExists(f"the handle {data.handle!r} is taken")
        if data.handle is not None:
            person.handle = data.handle
        if data.name is not None:
            person.name = data.name
        if "email" in fields:
            person.email = data.email
        if "timezone" in fields:
            person.timezone = data.timezone
        if "license" in fields:
            _set_licence(person, data.license)
        person.updated_at = utcnow()
        return person_private(person)

    return await db.write(work)


async def _bookings_of(session: AsyncSession, person_id: str) -> list[tuple[Booking, Slot]]:
    query = (
        select(Booking, Slot)
        .join(Slot, col(Slot.id) == Booking.slot_id)
        .where(Booking.person_id == person_id)
        .order_by(col(Slot.event_id), col(Booking.id))
    )
    return [(b, s) for b, s in (await session.execute(query)).all()]


async def delete_person(db: Database, person_id: str) -> None:
    """Delete a person with their tokens, windows, bookings and notifications.

    409 while they have an upcoming (scheduled or live) active booking. A confirmed booking of
    a past slot leaves its event's schedule, so that event logs ``booking.removed``.
    """

    async def work(session: AsyncSession) -> None:
        await get_person(session, person_id)
        events: dict[str, Event] = {}
        for event_id in sorted(
            {slot.event_id for _, slot in await _bookings_of(session, person_id)}
        ):
            # Lock order: events, then the person; then nothing of theirs can change under us.
            events[event_id] = await get_event_by_id(session, event_id, for_update=True)
        person = await get_person(session, person_id, for_update=True)
        upcoming = await person_upcoming_bookings(session, person_id)
        if upcoming:
            titles = ", ".join(repr(slot.title) for slot in upcoming[:3])
            raise InUse(
                f"{person.name} still has {len(upcoming)} upcoming booking(s) ({titles}): "
                "remove them first"
            )
        # Read again under the locks: only bookings of past slots are left, in the events locked
        # (a booking of another event made meanwhile would have been upcoming).
        bookings = [
            (b, s) for b, s in await _bookings_of(session, person_id) if s.event_id in events
        ]
        shown = person_public(person).model_dump(mode="json")
        for booking, slot in bookings:
            if booking.status == "confirmed":
                booking.status = apply_booking(booking.status, "remove", slot_id=slot.id)
                await session.flush()
                event = events[slot.event_id]
                body = {
                    "booking": {"id": booking.id, "slot_id": slot.id, "role": booking.role,
                                "status": booking.status, "person": shown},
                    "slot": (await slot_public(session, event, slot)).model_dump(mode="json"),
                }  # fmt: skip
                await record_change(session, event, "booking.removed", body)
        # Rows that name the person go first (deliveries name their notices too).
        for table, column in (
            (Delivery, Delivery.person_id),
            (PushSubscription, PushSubscription.person_id),
            (AccessLink, AccessLink.person_id),
            (AuthSession, AuthSession.person_id),
            (RetiredFeedToken, RetiredFeedToken.person_id),
            (Notification, Notification.person_id),
            (Booking, Booking.person_id),
            (AvailabilityWindow, AvailabilityWindow.person_id),
            (ApiToken, ApiToken.person_id),
        ):
            await session.execute(delete(table).where(col(column) == person_id))
        await session.delete(person)

    await db.write(work)


async def issue_person_token(db: Database, person_id: str) -> str:
    """A new bearer token for the person; every earlier token of theirs stops working, and so
    does every browser session of theirs."""
    token = new_token()

    async def work(session: AsyncSession) -> None:
        person = await get_person(session, person_id, for_update=True)
        active = select(ApiToken).where(
            ApiToken.person_id == person_id, col(ApiToken.revoked_at).is_(None)
        )
        now = utcnow()
        for row in (await session.execute(active)).scalars():  # one by one: audited
            row.revoked_at = now
        # A lost laptop is one reason to ask: its page (opened with a sign-in link) ends too.
        await end_person_sessions(session, person_id)
        session.add(ApiToken(token_hash=hash_token(token), role=person.role, person_id=person_id))

    await db.write(work)
    return token
