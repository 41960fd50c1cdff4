"""The outbox rows a notice writes: one per channel the person has, in the notice's transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.delivery import Delivery
from takeamoment.db.engine import Database
from takeamoment.db.notifications import Notification
from takeamoment.db.types import utcnow
from takeamoment.delivery.queue import claim
from takeamoment.services.notifications import notify
from takeamoment.services.outbox import configure
from tests.api.builders import event_with_channels, invite
from tests.helpers import Client, at, make_person, make_slot


async def channels_of(db: Database, kind: str) -> list[list[str]]:
    async with db.read() as session:
        query = (
            select(Notification.id, Delivery.channel)
            .join(Delivery, Delivery.notification_id == Notification.id, isouter=True)
            .where(Notification.kind == kind)
            .order_by(Notification.seq, Delivery.channel)
        )
        rows = (await session.execute(query)).all()
    grouped: dict[str, list[str]] = {}
    for notification_id, channel in rows:
        grouped.setdefault(notification_id, [])
        if channel:
            grouped[notification_id].append(channel)
    return list(grouped.values())


async def test_only_the_first_reminder_of_a_booking_is_emailed(
    client: Client, host_token: str, db: Database
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(9, 30), at(10))
    ana = await make_person(client, host_token, "ana", email="ana@example.com")
    booking = await invite(client, host_token, slot["id"], ana)
    configure(db, public_url="http://testserver", email=True)
    start = utcnow() + timedelta(hours=1)

    async def remind(minutes: int) -> None:
        async def work(session: AsyncSession) -> None:
            view = {
                "id": slot["id"],
                "event": "tam",
                "title": "Session",
                "starts_at": start.isoformat(),
            }
            await notify(
                session,
                person_id=ana["id"],
                booking_id=booking["id"],
                slot=view,
                kind="reminder",
                due_at=start - timedelta(minutes=minutes),
                extra={"minutes_before": minutes},
            )

        await db.write(work)

    await remind(15)
    await remind(5)
    assert await channels_of(db, "reminder") == [["email"], []]


async def test_without_email_set_up_no_email_row_is_written(
    client: Client, host_token: str, db: Database
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(9, 30), at(10))
    ana = await make_person(client, host_token, "ana", email="ana@example.com")
    await invite(client, host_token, slot["id"], ana)  # the app in these tests has email on
    async with db.read() as session:
        stored = (await session.execute(select(Delivery.channel))).scalars().all()
    assert stored == ["email"]
    configure(db, public_url="http://testserver", email=False)
    other = await make_slot(client, host_token, at(11), at(12))
    booking = await invite(client, host_token, other["id"], ana)

    async def work(session: AsyncSession) -> None:
        view = {"id": other["id"], "event": "tam", "title": "Other"}
        await notify(
            session,
            person_id=ana["id"],
            booking_id=booking["id"],
            slot=view,
            kind="schedule.changed",
        )

    await db.write(work)
    assert await channels_of(db, "schedule.changed") == [[]]


async def test_a_row_whose_lease_ran_out_is_claimed_again_but_never_by_the_process_holding_it(
    client: Client, host_token: str, db: Database
) -> None:
    await client.app.state.delivery.stop()  # this test claims as the worker would
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(9, 30), at(10))
    ana = await make_person(client, host_token, "ana", email="ana@example.com")
    await invite(client, host_token, slot["id"], ana)
    expired = timedelta(seconds=-1)  # the lease runs out at once: as if the send took too long

    (first,) = await claim(db, {"email": 10}, expired)
    held = {first.delivery.id}

    assert await claim(db, {"email": 10}, expired, held) == []
    (again,) = await claim(db, {"email": 10}, expired)  # another process, or after a crash
    assert (again.delivery.id, again.in_doubt) == (first.delivery.id, True)
