"""Many notices due at one instant: recorded in one pass, each exactly once, seq without gaps.

The state is built through the API by an app that is then shut down (so its own scheduler does
not deliver them first); the slots are then placed so that every notice is due now, and
``deliver_notices`` is called as the scheduler's job for that instant calls it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.app import create_app
from takeamoment.db.delivery import Delivery
from takeamoment.db.engine import Database
from takeamoment.db.notifications import Notification
from takeamoment.db.slots import Slot
from takeamoment.db.types import utcnow
from takeamoment.services.outbox import configure
from takeamoment.services.reminders import NoticeKey, deliver_notices
from takeamoment.settings import Settings
from tests.api.builders import confirmed
from tests.helpers import make_channel, make_event, make_person, make_slot, publish

SLOTS = 6
PER_SLOT = 8
GRACE = timedelta(minutes=2)


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements the write engine runs meanwhile."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(db.write_engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.write_engine.sync_engine, "before_cursor_execute", count)


async def build(settings: Settings, token: str) -> tuple[list[Any], dict[str, list[Any]]]:
    """An event reminding 1 minute ahead, ``SLOTS`` slots (one per channel, parked hours ahead)
    of ``PER_SLOT`` confirmed creators each. Answers the slots and each slot's bookings."""
    now = utcnow()
    parked = now + timedelta(hours=3)
    window = {"starts_at": (now - timedelta(hours=2)).isoformat()}
    window["ends_at"] = (now + timedelta(hours=8)).isoformat()
    bookings: dict[str, list[Any]] = {}
    slots = []
    async with AsyncTestClient(app=create_app(settings)) as client:
        await make_event(
            client, token, timezone="UTC", reminder_minutes=[1], changeover_minutes=0, **window
        )
        for i in range(SLOTS):
            await make_channel(client, token, slug=f"ch-{i}")
            start = parked + timedelta(minutes=40 * i)
            slot = await make_slot(
                client,
                token,
                start.isoformat(),
                (start + timedelta(minutes=30)).isoformat(),
                channel=f"ch-{i}",
            )
            slots.append(slot)
            bookings[slot["id"]] = []
            for j in range(PER_SLOT):
                person = await make_person(
                    client, token, f"p{i}x{j}", email=f"p{i}x{j}@example.com"
                )
                booking = await confirmed(client, token, slot["id"], person)
                bookings[slot["id"]].append(booking)
        await publish(client, token)
    return slots, bookings


async def place(db: Database, slot_id: str, starts_at: datetime, status: str = "scheduled") -> None:
    async def work(session: AsyncSession) -> None:
        values = {"starts_at": starts_at, "ends_at": starts_at + timedelta(minutes=30)}
        await session.execute(
            update(Slot).where(Slot.id == slot_id).values(status=status, **values)  # type: ignore[arg-type]
        )

    await db.write(work)


async def stored(db: Database) -> list[Notification]:
    async with db.read() as session:
        query = select(Notification).order_by(Notification.person_id, Notification.seq)  # type: ignore[arg-type]
        return list((await session.execute(query)).scalars())


async def test_a_burst_due_at_one_instant_is_recorded_in_one_pass_once_each(
    settings: Settings, db: Database, host_token: str
) -> None:
    slots, bookings = await build(settings, host_token)
    now = utcnow()
    # Reminders: their slots start a minute from now, so the reminder is due this instant (and
    # after everyone confirmed: one due before the confirmation is not owed).
    reminded = slots[:3]
    for slot in reminded:
        await place(db, slot["id"], now + timedelta(minutes=1))
    # "You're on": slots starting now, channel free; and one whose channel a live slot still
    # holds (it overruns into this start): its people are put on standby, not told go_live.
    on_now, behind, holding = slots[3], slots[4], slots[5]
    await place(db, on_now["id"], now - timedelta(seconds=1))
    await place(db, holding["id"], now - timedelta(minutes=31), status="live")
    await place(db, behind["id"], now - timedelta(seconds=1))

    async def move_to_channel_of_holding(session: AsyncSession) -> None:
        channel = (await session.get(Slot, holding["id"])).channel_id  # type: ignore[union-attr]
        query = update(Slot).where(Slot.id == behind["id"]).values(channel_id=channel)  # type: ignore[arg-type]
        await session.execute(query)

    await db.write(move_to_channel_of_holding)
    configure(db, public_url="http://testserver", email=True)

    keys = [NoticeKey(b["id"], "reminder", 1) for s in reminded for b in bookings[s["id"]]]
    keys += [
        NoticeKey(b["id"], "go_live", None) for s in (on_now, behind) for b in bookings[s["id"]]
    ]
    with statements(db) as sql:
        outcomes = await deliver_notices(db, keys, GRACE)
    expected = {
        **{k: "sent" for k in keys},
        **{NoticeKey(b["id"], "go_live", None): "standby" for b in bookings[behind["id"]]},
    }
    assert outcomes == expected
    # One pass: a fixed number of statements, not a round of them per notice.
    assert len(sql) < len(keys) // 2, sql

    notices = await stored(db)
    burst = [n for n in notices if n.kind in ("reminder", "go_live", "standby")]
    assert Counter(n.booking_id for n in burst) == Counter(k.booking_id for k in keys)
    kinds = Counter(n.kind for n in burst)
    assert kinds == {"reminder": 3 * PER_SLOT, "go_live": PER_SLOT, "standby": PER_SLOT}
    by_person: dict[str, list[int | None]] = {}
    for n in notices:
        by_person.setdefault(n.person_id, []).append(n.seq)
    for seqs in by_person.values():
        assert seqs == list(range(1, len(seqs) + 1))  # numbered on, no gaps, no repeats
    async with db.read() as session:
        emails = (await session.execute(select(Delivery.notification_id))).scalars().all()
    assert {n.id for n in burst} <= set(emails)  # the email rows, in the same transaction

    # Fired again (a retry, a restart): nothing is recorded twice.
    again = await deliver_notices(db, keys, GRACE)
    assert set(again.values()) == {"not owed"}
    assert len(await stored(db)) == len(notices)
