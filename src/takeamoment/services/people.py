"""People: creators and therapists, their licences, availability and feed tokens."""

from __future__ import annotations

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from takeamoment.db.engine import Database
from takeamoment.db.people import ApiToken, AvailabilityWindow, Person, RetiredFeedToken
from takeamoment.db.queries import availability_of, get_person
from takeamoment.db.types import utcnow
from takeamoment.domain.errors import AlreadyExists, NotBookable, NotFound
from takeamoment.services.inputs import AvailabilityInput, PersonCreate
from takeamoment.services.people_rules import ensure_bookings_inside_availability
from takeamoment.services.tokens import FEED_TOKEN_PREFIX, hash_token, new_token
from takeamoment.services.views import (
    AvailabilityWindowView,
    PersonCreated,
    PersonPrivate,
    person_private,
)
from takeamoment.urls import absolute, person_feed


def feed_url(public_url: str, feed_token: str) -> str:
    return absolute(public_url, person_feed(feed_token))


async def create_person(db: Database, data: PersonCreate, public_url: str) -> PersonCreated:
    """Create a creator or therapist with their own bearer token and feed token (shown once)."""
    token, feed_token = new_token(), new_token(FEED_TOKEN_PREFIX)

    async def work(session: AsyncSession) -> PersonPrivate:
        if await handle_taken(session, data.handle):
            raise AlreadyExists(f"the handle {data.handle!r} is taken")
        licence = data.license
        person = Person(
            name=data.name,
            handle=data.handle,
            role=data.role,
            email=data.email,
            timezone=data.timezone,
            license_number=licence.number if licence else None,
            license_issuer=licence.issuer if licence else None,
            license_jurisdiction=licence.jurisdiction if licence else None,
            license_expires_on=licence.expires_on if licence else None,
            feed_token_hash=hash_token(feed_token),
        )
        session.add(person)
        await session.flush()
        session.add(ApiToken(token_hash=hash_token(token), role=data.role, person_id=person.id))
        return person_private(person)

    try:
        private = await db.write(work)
    except IntegrityError as error:  # the same handle (in any case) created twice at once
        raise AlreadyExists(f"the handle {data.handle!r} is taken") from error
    return PersonCreated(
        **private.model_dump(), token=token, feed_url=feed_url(public_url, feed_token)
    )


async def handle_taken(session: AsyncSession, handle: str) -> bool:
    """Whether a person already has ``handle``, compared without regard to case (as the
    ``ux_person_handle_lower`` index compares them)."""
    query = select(Person.id).where(func.lower(Person.handle) == handle.lower())
    return (await session.execute(query)).first() is not None


async def get_person_private(db: Database, person_id: str) -> PersonPrivate:
    async with db.read() as session:
        return person_private(await get_person(session, person_id))


async def verify_licence(db: Database, person_id: str) -> PersonPrivate:
    async def work(session: AsyncSession) -> PersonPrivate:
        person = await get_person(session, person_id, for_update=True)
        if not person.license_number:
            raise NotBookable(f"{person.name} has no licence on file to verify")
        if person.license_verified_at is None:
            person.license_verified_at = person.updated_at = utcnow()
        return person_private(person)

    return await db.write(work)


async def set_availability(
    db: Database, person_id: str, windows: list[AvailabilityInput]
) -> list[AvailabilityWindowView]:
    """Replace the person's availability windows; no windows means always available."""

    async def work(session: AsyncSession) -> list[AvailabilityWindowView]:
        person = await get_person(session, person_id, for_update=True)
        await session.execute(
            delete(AvailabilityWindow).where(AvailabilityWindow.person_id == person_id)  # type: ignore[arg-type]
        )
        for window in windows:
            session.add(
                AvailabilityWindow(
                    person_id=person_id, starts_at=window.starts_at, ends_at=window.ends_at
                )
            )
        await session.flush()
        await ensure_bookings_inside_availability(session, person)
        return await _windows(session, person_id)

    return await db.write(work)


async def _windows(session: AsyncSession, person_id: str) -> list[AvailabilityWindowView]:
    return [
        AvailabilityWindowView(id=w.id, starts_at=w.starts_at, ends_at=w.ends_at)
        for w in await availability_of(session, person_id)
    ]


async def get_availability(db: Database, person_id: str) -> list[AvailabilityWindowView]:
    """The person's windows by start; none means always available."""
    async with db.read() as session:
        await get_person(session, person_id)
        return await _windows(session, person_id)


async def add_availability(
    db: Database, person_id: str, window: AvailabilityInput
) -> AvailabilityWindowView:
    """Add one window. A person's first window limits them to it, so it is checked like a
    replacement: no upcoming booking may fall outside their windows afterwards."""

    async def work(session: AsyncSession) -> AvailabilityWindowView:
        person = await get_person(session, person_id, for_update=True)
        row = AvailabilityWindow(
            person_id=person_id, starts_at=window.starts_at, ends_at=window.ends_at
        )
        session.add(row)
        await session.flush()
        await ensure_bookings_inside_availability(session, person)
        return AvailabilityWindowView(id=row.id, starts_at=row.starts_at, ends_at=row.ends_at)

    return await db.write(work)


async def remove_availability(db: Database, person_id: str, window_id: str) -> None:
    """Remove one window; 409 ``outside_availability`` if an upcoming booking needed it."""

    async def work(session: AsyncSession) -> None:
        person = await get_person(session, person_id, for_update=True)
        row = await session.get(AvailabilityWindow, window_id)
        if row is None or row.person_id != person_id:
            raise NotFound("availability window", window_id)
        await session.delete(row)
        await session.flush()
        await ensure_bookings_inside_availability(session, person)

    await db.write(work)


async def rotate_feed_token(db: Database, person_id: str, public_url: str) -> str:
    """Give the person a new feed URL; the old one answers 410 Gone from now on."""
    feed_token = new_token(FEED_TOKEN_PREFIX)

    async def work(session: AsyncSession) -> None:
        person = await get_person(session, person_id, for_update=True)
        session.add(RetiredFeedToken(token_hash=person.feed_token_hash, person_id=person.id))
        person.feed_token_hash = hash_token(feed_token)
        person.updated_at = utcnow()

    await db.write(work)
    return feed_url(public_url, feed_token)
