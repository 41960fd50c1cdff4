"""Prompts by the state of the channel: ``go_live`` when it is free, ``standby`` while it is busy.

``domain.prompts`` decides; this module reads the channels and writes the notices. A prompt is a
notification unique per (booking, kind, the slot's start), so whoever writes it — the transaction
that freed the channel, the one that took the slot live, or the scheduler at the start — it is
told once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.events import Event
from takeamoment.db.queries import bookings_with_people, lock_people, slots_holding_channels
from takeamoment.db.slots import Booking, Slot
from takeamoment.domain.intervals import Interval
from takeamoment.domain.prompts import ChannelSlot, Prompt, now_on
from takeamoment.services.notifications import NoticeDraft, notify_many
from takeamoment.services.schedule import slot_public


def channel_slot(slot: Slot) -> ChannelSlot:
    return ChannelSlot(
        slot_id=slot.id,
        interval=Interval.of(slot),
        status=slot.status,
    )


async def channels_at(
    session: AsyncSession, channel_ids: Sequence[str], now: datetime
) -> dict[str, list[ChannelSlot]]:
    """Per channel, the slots that may hold it at ``now`` (live ones, and those due)."""
    held: dict[str, list[ChannelSlot]] = {channel_id: [] for channel_id in channel_ids}
    for slot in await slots_holding_channels(session, list(channel_ids), now):
        held[slot.channel_id].append(channel_slot(slot))
    return held


async def people_owed_go_live(
    session: AsyncSession, channel_ids: Iterable[str], now: datetime
) -> list[tuple[Slot, Booking]]:
    """The confirmed bookings whose slot is on now: its channel is free for it, or it is live.

    Called by every change that may free a channel or take a slot live, after the change was
    flushed; the caller locks the people (with any others it tells) and then ``tell_go_live``.
    """
    wanted = sorted(set(channel_ids))
    held = await channels_at(session, wanted, now)
    slot_ids = [slot_id for channel in held.values() for slot_id in now_on(channel, now)]
    owed: list[tuple[Slot, Booking]] = []
    rows = await bookings_with_people(session, slot_ids)
    for slot_id in slot_ids:
        slot = await session.get(Slot, slot_id)
        if slot is not None:
            owed += [(slot, b) for b, _ in rows[slot_id] if b.status == "confirmed"]
    return owed


async def tell_go_live(
    session: AsyncSession, event: Event, owed: Iterable[tuple[Slot, Booking]]
) -> None:
    """Write ``go_live`` for each booking, once per slot start (the people are locked)."""
    drafts = []
    for slot, booking in owed:
        view = (await slot_public(session, event, slot)).model_dump(mode="json")
        prompt = Prompt(kind="go_live", expected_start=slot.starts_at)
        drafts.append(prompt_draft(slot, booking, view, prompt))
    await notify_many(session, drafts)


def prompt_draft(
    slot: Slot, booking: Booking, view: dict[str, object], prompt: Prompt
) -> NoticeDraft:
    """The prompt for the booking, keyed by the slot's start (so it is told once)."""
    extra: dict[str, object] = {"role": booking.role}
    if prompt.kind == "standby":
        extra["expected_start"] = prompt.expected_start.isoformat()
    return NoticeDraft(
        person_id=booking.person_id,
        booking_id=booking.id,
        slot=dict(view),
        kind=prompt.kind,
        due_at=slot.starts_at,
        extra=extra,
    )


async def prompt_after_change(
    session: AsyncSession,
    event: Event,
    channel_ids: Iterable[str],
    now: datetime,
    also_lock: Iterable[str] = (),
) -> None:
    """After a change of these channels: tell "you're on" to whoever is now on.

    ``also_lock`` are people the caller tells too in this transaction: all are locked at once, in
    id order, as every writer does.
    """
    owed = await people_owed_go_live(session, channel_ids, now)
    await lock_people(session, [*also_lock, *(booking.person_id for _, booking in owed)])
    await tell_go_live(session, event, owed)
