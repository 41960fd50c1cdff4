"""Viewers' "notify me": follow a slot, a channel or a whole event with a browser's push
subscription, no account needed; unfollow with the link every answer and push carries.

A follow keeps only the push endpoint, its keys and what it follows (``db/follows.py``): no
address, no user agent, no person. The unfollow link is a capability: the follow's id signed
with the deployment's secret (``itsdangerous``, as the mails' one-click links), so it needs no
stored token and every push can carry it. When a host takes a followed slot live or cancels it,
``queue_follow_notices`` writes the notice and one delivery per follower in that same
transaction; the delivery worker sends them after commit.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Self

from itsdangerous import BadData, URLSafeSerializer
from pydantic import Field, model_validator
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from takeamoment.db.engine import Database
from takeamoment.db.events import Channel, Event
from takeamoment.db.follows import EVENT_TARGET, Follow, FollowDelivery, FollowNotice
from takeamoment.db.queries import get_channel
from takeamoment.db.slots import Slot
from takeamoment.db.types import new_id, utcnow
from takeamoment.domain.errors import NotFound
from takeamoment.services.inputs import RequestBody
from takeamoment.services.outbound import resolve
from takeamoment.services.outbox import DEFAULT_PUBLIC_URL, PUBLIC_URL_KEY
from takeamoment.services.push_subscriptions import PushSubscriptionInput
from takeamoment.services.visibility import visible_event
from takeamoment.urls import absolute, session_page, unfollow_link

# What followers hear about: the host's own go-live and cancel (not a reopen), never the clock.
FOLLOWED_COMMANDS = frozenset({"go_live", "cancel"})
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


class FollowInput(RequestBody):
    """A browser's ``PushSubscription`` and what it follows: a slot, a channel, or (neither)
    the whole event."""

    subscription: PushSubscriptionInput
    slot_id: Key | None = None
    channel: Key | None = None  # the channel's slug or id

    @model_validator(mode="after")
    def _one_thing(self) -> Self:
        if self.slot_id is not None and self.channel is not None:
            raise ValueError(
                "follow a slot (slot_id) or a channel (channel), not both; "
                "give neither to follow the whole event"
            )
        return self


class FollowCreated(SQLModel):
    id: str
    unfollow_url: str


class UnfollowLinkRefused(Exception):
    """A link that was tampered with or cut short."""


class UnfollowLinks:
    """``/follows/<token>``: GET shows a button, POST or DELETE unfollows."""

    def __init__(self, secret: str, public_url: str) -> None:
        self._signer = URLSafeSerializer(secret, salt="takeamoment.follow.unfollow")
        self.public_url = public_url

    def url(self, follow_id: str) -> str:
        return absolute(self.public_url, unfollow_link(self._signer.dumps(follow_id)))

    def read(self, token: str) -> str:
        """The follow id of a link; UnfollowLinkRefused if it is forged."""
        try:
            follow_id = self._signer.loads(token)
        except BadData as error:
            raise UnfollowLinkRefused from error
        if not isinstance(follow_id, str):
            raise UnfollowLinkRefused
        return follow_id


async def follow(
    db: Database, slug: str, data: FollowInput, links: UnfollowLinks, *, allow_private: bool
) -> FollowCreated:
    """Keep a follow of a published event's slot, channel or whole event (see module).

    An unsafe endpoint is 422 (as for a person's subscription); an unknown slot or channel 404.
    Following the same thing again from the same browser answers with the same follow.
    """
    await resolve(data.subscription.endpoint, allow_private=allow_private)
    endpoint, keys = data.subscription.endpoint, data.subscription.keys
    endpoint_hash = hashlib.sha256(endpoint.encode()).hexdigest()

    async def work(session: AsyncSession) -> FollowCreated:
        event = await visible_event(session, slug)
        row = Follow(
            event_id=event.id,
            target=EVENT_TARGET,
            endpoint=endpoint,
            endpoint_hash=endpoint_hash,
            p256dh="",
            auth="",
        )
        if data.slot_id is not None:
            slot = await session.get(Slot, data.slot_id)
            if slot is None or slot.event_id != event.id:
                raise NotFound("slot", data.slot_id)
            row.slot_id, row.target = slot.id, f"slot:{slot.id}"
        elif data.channel is not None:
            channel = await get_channel(session, event.id, data.channel)
            row.channel_id, row.target = channel.id, f"channel:{channel.id}"
        query = select(Follow).where(
            Follow.event_id == event.id,
            Follow.target == row.target,
            Follow.endpoint_hash == endpoint_hash,
        )
        existing = (await session.execute(query)).scalar_one_or_none()
        if existing is not None:
            row = existing
        else:
            session.add(row)
        row.p256dh, row.auth = keys.p256dh, keys.auth
        await session.flush()
        return FollowCreated(id=row.id, unfollow_url=links.url(row.id))

    try:
        return await db.write(work)
    except IntegrityError:  # the same follow made by a request at this very moment: it is there
        return await db.write(work)


async def followed_thing(db: Database, follow_id: str) -> str | None:
    """What a follow follows, in words ("'Small habits' of Take A Moment", "a session of
    Take A Moment"); None when the follow is gone."""
    async with db.read() as session:
        row = await session.get(Follow, follow_id)
        if row is None:
            return None
        event = await session.get(Event, row.event_id)
        event_title = event.title if event else "the event"
        if row.slot_id is not None:
            slot = await session.get(Slot, row.slot_id)
            return f"'{slot.title}' of {event_title}" if slot else event_title
        if row.channel_id is not None:
            channel = await session.get(Channel, row.channel_id)
            name = channel.name if channel else "its channel"
            return f"a session on {name} of {event_title}"
        return f"a session of {event_title}"


async def unfollow(db: Database, follow_id: str) -> bool:
    """Forget a follow and whatever is still owed to it; False if it was already gone."""

    async def work(session: AsyncSession) -> bool:
        result = await session.execute(delete(Follow).where(col(Follow.id) == follow_id))
        return bool(getattr(result, "rowcount", 0))

    return await db.write(work)


async def queue_follow_notices(
    session: AsyncSession, event: Event, slot: Slot, slot_view: dict[str, Any], change: str
) -> None:
    """In the go-live or cancel transaction: one notice, and one delivery for every browser
    that follows the slot, its channel or the event (once per browser, however many of the
    three it follows: the most specific follow gets it, so its unfollow link fits)."""
    targets = {f"slot:{slot.id}": 0, f"channel:{slot.channel_id}": 1, EVENT_TARGET: 2}
    query = select(Follow.id, Follow.target, Follow.endpoint_hash).where(
        Follow.event_id == event.id, col(Follow.target).in_(targets)
    )
    chosen: dict[str, tuple[int, str]] = {}
    for follow_id, target, endpoint in (await session.execute(query)).all():
        rank = targets[target]
        if endpoint not in chosen or rank < chosen[endpoint][0]:
            chosen[endpoint] = (rank, follow_id)
    if not chosen:
        return
    channel = await session.get(Channel, slot.channel_id)
    public_url = session.info.get(PUBLIC_URL_KEY, DEFAULT_PUBLIC_URL)
    notice_id = new_id()
    payload = follow_payload(event, slot_view, channel, change, public_url)
    # The id lets the service worker show a copy sent again after a crash in the first's place.
    notice = FollowNotice(id=notice_id, slot_id=slot.id, kind=change, payload=payload)
    notice.payload["id"] = notice_id
    session.add(notice)
    await session.flush()
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "notice_id": notice.id,
            "follow_id": follow_id,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "updated_at": now,
        }
        for _, follow_id in chosen.values()
    ]
    await session.execute(insert(FollowDelivery), rows)


def follow_payload(
    event: Event,
    slot_view: dict[str, Any],
    channel: Channel | None,
    change: str,
    public_url: str,
) -> dict[str, Any]:
    """What a follower's browser shows (``unfollow_url`` is added per follower when sent)."""
    title, channel_name = slot_view["title"], slot_view["channel_name"]
    stream_url = slot_view.get("stream_url") or (channel.stream_url if channel else None)
    if change == "slot.live":
        heading, body = f"Live now: {title}", f"{title} is live now on {channel_name}."
        if stream_url:
            body += " Tap to watch."
    else:
        heading = f"Cancelled: {title}"
        body = f"{title} on {channel_name} is cancelled."
    return {
        "type": change,
        "event": event.slug,
        "event_title": event.title,
        "slot_id": slot_view["id"],
        "channel": slot_view["channel"],
        "channel_name": channel_name,
        "title": heading,
        "body": f"{body} ({event.title})",
        "url": absolute(public_url, session_page(event.slug, slot_view["id"])),
        "stream_url": stream_url,
        "at": utcnow().isoformat(),
    }
