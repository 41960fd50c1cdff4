"""One process's WebSocket subscribers, by topic, each with a bounded backlog.

Fan-out serialises a message once and offers it to every subscriber of its topic without
awaiting anyone: a slow or stuck viewer only ever fills its own backlog, and when that is full
it is dropped (and told to resume with ``since``) instead of delaying the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec

from takeamoment import metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message ready for the wire, with the seq clients use to order and dedupe."""

    seq: int
    text: str

    @classmethod
    def of(cls, message: dict[str, Any]) -> Outgoing:
        return cls(seq=int(message["seq"]), text=msgspec.json.encode(message).decode())


@dataclass(eq=False)
class Subscription:
    """A subscriber's backlog; ``overflowed`` is set the moment a message does not fit.

    While its writer is parked on an empty backlog and the next message is the very next seq,
    the message is written straight to the socket, broadcast-style: waking one task per viewer
    per message is what made fan-out to thousands slow. A socket that cannot take it at once
    (its client is behind) gets it through the backlog as before.
    """

    topic: str
    max_backlog: int
    queue: asyncio.Queue[Outgoing] = field(init=False)
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)
    # The last seq this subscriber was sent, by the writer or straight from ``offer``.
    sent: int = -1
    # Set by the writer while it waits on an empty backlog.
    send_now: Callable[[str], Coroutine[Any, Any, None]] | None = None

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.max_backlog)

    def offer(self, message: Outgoing) -> None:
        if self.overflowed.is_set():
            return
        if (
            self.send_now is not None
            and message.seq == self.sent + 1
            and self.queue.empty()
            and _completes_at_once(self.send_now(message.text))
        ):
            self.sent = message.seq
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed.set()
            metrics.viewer_dropped(self.topic)


def _completes_at_once(send: Coroutine[Any, Any, None]) -> bool:
    """Run a send to its end if it needs no wait; else abandon it before it wrote anything.

    An ASGI WebSocket send only waits while the transport is paused, and waits before writing.
    """
    try:
        send.send(None)
    except StopIteration:
        return True
    except Exception:  # the connection is going away: the writer will find out and stop
        return False
    send.close()
    return False


class Hub:
    """Subscribers of this process, by topic (``event:<slug>``, ``person:<id>``)."""

    def __init__(self, max_backlog: int) -> None:
        self.max_backlog = max_backlog
        self._topics: dict[str, set[Subscription]] = defaultdict(set)
        # Called with every message this process hears, e.g. to re-arm the reminders.
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        # Called whenever someone subscribes or leaves (presence keeps count).
        self.on_membership: list[Callable[[], None]] = []

    @contextmanager
    def subscribe(self, topic: str) -> Iterator[Subscription]:
        """Register a subscriber for the block's duration; it is always removed afterwards."""
        subscription = Subscription(topic, self.max_backlog)
        self._topics[topic].add(subscription)
        self._membership_changed()
        metrics.websocket_opened(topic)
        try:
            yield subscription
        finally:
            subscribers = self._topics.get(topic)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:  # drop empty topics: one per person would otherwise leak
                    del self._topics[topic]
            self._membership_changed()
            metrics.websocket_closed(topic)

    def _membership_changed(self) -> None:
        for callback in self.on_membership:
            callback()

    def dispatch(self, topic: str, message: dict[str, Any]) -> None:
        """Offer the message to every local subscriber of the topic; never waits."""
        for listener in self.listeners:
            listener(topic, message)
        subscribers = self._topics.get(topic)
        if not subscribers:
            return
        outgoing = Outgoing.of(message)
        for subscription in tuple(subscribers):
            subscription.offer(outgoing)
        metrics.fanned_out(topic, message, len(subscribers))

    def topics(self, prefix: str) -> list[str]:
        """The topics with subscribers here that start with ``prefix``."""
        return [topic for topic in self._topics if topic.startswith(prefix)]

    def count(self, topic: str | None = None) -> int:
        if topic is not None:
            return len(self._topics.get(topic, ()))
        return sum(len(subscribers) for subscribers in self._topics.values())
