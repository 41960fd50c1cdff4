"""Changing an event's channels: rename, reorder, stream link, and deleting an empty one.

Every change writes ``channel.updated`` or ``channel.deleted`` to the event's change log with the
channel and the event's whole channel list in its new order, so open editors and consoles follow.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Channel, Event
from takeamoment.db.queries import get_channel, get_channels, get_event
from takeamoment.db.slots import Slot
from takeamoment.db.types import utcnow
from takeamoment.domain.errors import InUse
from takeamoment.services.changes import record_change
from takeamoment.services.inputs import ChannelUpdate
from takeamoment.services.views import ChannelPublic, channel_view


async def _log(session: AsyncSession, event: Event, change_type: str, channel: Channel) -> None:
    channels = [
        channel_view(c).model_dump(mode="json") for c in await get_channels(session, event.id)
    ]
    body = {"channel": channel_view(channel).model_dump(mode="json"), "channels": channels}
    event.updated_at = utcnow()
    await record_change(session, event, change_type, body)


def _reorder(channels: list[Channel], moved: Channel, position: int) -> None:
    """Put ``moved`` at ``position`` (clamped to the end) and number them all 0, 1, 2…"""
    order = [c for c in channels if c.id != moved.id]
    order.insert(min(position, len(order)), moved)
    for index, channel in enumerate(order):
        if channel.position != index:
            channel.position = index


async def update_channel(db: Database, slug: str, key: str, data: ChannelUpdate) -> ChannelPublic:
    """Rename a channel, move it to another position, or set or remove its stream link."""
    fields = data.model_dump(exclude_unset=True, exclude_none=True)
    if "stream_url" in data.model_fields_set:  # null removes the link
        fields["stream_url"] = data.stream_url

    async def work(session: AsyncSession) -> ChannelPublic:
        event = await get_event(session, slug, for_update=True)
        channel = await get_channel(session, event.id, key)
        channels = await get_channels(session, event.id)
        before = (channel.name, channel.stream_url, [c.id for c in channels])
        if "name" in fields:
            channel.name = fields["name"]
        if "stream_url" in fields:
            channel.stream_url = fields["stream_url"]
        if "position" in fields:
            _reorder(channels, channel, fields["position"])
        await session.flush()
        after = (
            channel.name,
            channel.stream_url,
            [c.id for c in await get_channels(session, event.id)],
        )
        if after != before:
            await _log(session, event, "channel.updated", channel)
        return channel_view(channel)

    return await db.write(work)


async def delete_channel(db: Database, slug: str, key: str) -> None:
    """Delete a channel that holds no slot at all (409 otherwise: move or delete them first)."""

    async def work(session: AsyncSession) -> None:
        event = await get_event(session, slug, for_update=True)
        channel = await get_channel(session, event.id, key)
        count = (
            await session.execute(
                select(func.count(col(Slot.id))).where(Slot.channel_id == channel.id)
            )
        ).scalar_one()
        if count:
            raise InUse(
                f"the channel {channel.name!r} still has {count} slot(s): "
                "only an empty channel can be deleted"
            )
        await session.delete(channel)
        await session.flush()
        remaining = await get_channels(session, event.id)
        for index, other in enumerate(remaining):
            other.position = index
        await _log(session, event, "channel.deleted", channel)

    await db.write(work)
