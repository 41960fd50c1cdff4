"""One process's WebSocket subscribers, by topic, each with a bounded backlog.

Fan-out serialises a message once and offers it to every subscriber of its topic without
awaiting anyone: a slow or stuck viewer only ever fills its own backlog, and when that is full
it is dropped (and told to resume with ``since``) instead of delaying the others.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
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


class Subscription:
    """One subscriber of a topic: the last seq it was sent, and a bounded backlog of the rest.

    Until its stream is attached, offered messages wait in the backlog (the starting point is
    still being read). Then a message that is the very next seq is written straight to the
    socket while nothing waits before it, broadcast-style: waking one task per viewer per
    message is what made fan-out to thousands slow. Anything else (out of order, or a socket
    that cannot take it at once because its client is behind) waits in the backlog, and
    ``on_waiting`` tells the stream to drain it. Past ``max_backlog`` waiting messages the
    subscriber is given up (``overflowed``, ``on_overflow``) instead of delaying anyone.

    An idle subscriber holds no queue, event or task: at ten thousand viewers each of those
    was kilobytes per viewer (``bench/fanout.py``).
    """

    __slots__ = (
        "backlog",
        "hub",
        "max_backlog",
        "on_overflow",
        "on_waiting",
        "overflowed",
        "send_now",
        "sent",
        "topic",
    )

    def __init__(self, hub: Hub, topic: str, max_backlog: int) -> None:
        self.hub = hub
        self.topic = topic
        self.max_backlog = max_backlog
        # The last seq this subscriber was sent, by its stream or straight from ``offer``.
        self.sent = -1
        # Messages waiting for the stream's writer, oldest first; None while there are none.
        self.backlog: deque[Outgoing] | None = None
        self.overflowed = False
        # Set by the stream while nothing waits and its writer is idle ("parked").
        self.send_now: Callable[[str], Coroutine[Any, Any, None]] | None = None
        self.on_waiting: Callable[[], None] | None = None
        self.on_overflow: Callable[[], None] | None = None

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.hub.unsubscribe(self)

    def offer(self, message: Outgoing) -> None:
        if self.overflowed or message.seq <= self.sent:
            return  # given up, or already sent (in the starting point, or delivered twice)
        if (
            self.send_now is not None
            and self.backlog is None
            and message.seq == self.sent + 1
            and _completes_at_once(self.send_now(message.text))
        ):
            self.sent = message.seq
            return
        backlog = self.backlog
        if backlog is None:
            backlog = self.backlog = deque()
        if len(backlog) >= self.max_backlog:
            self.overflowed = True
            self.backlog = None  # nothing more will be sent: let the messages go
            metrics.viewer_dropped(self.topic)
            if self.on_overflow is not None:
                self.on_overflow()
            return
        backlog.append(message)
        if self.on_waiting is not None:
            self.on_waiting()

    def next_waiting(self) -> Outgoing | None:
        """The oldest waiting message, taken out of the backlog; None when nothing waits."""
        backlog = self.backlog
        if not backlog:
            self.backlog = None
            return None
        message = backlog.popleft()
        if not backlog:
            self.backlog = None
        return message

    def take_waiting(self) -> list[Outgoing]:
        """Every waiting message, oldest first, taken out of the backlog."""
        waiting, self.backlog = list(self.backlog or ()), None
        return waiting


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
        # Called with every message committed by this process, at once (``Bus.publish``), before
        # it is dispatched (which, through Channels in memory, happens a moment later).
        self.on_commit: list[Callable[[str, dict[str, Any]], None]] = []
        # Called whenever someone subscribes or leaves (presence keeps count).
        self.on_membership: list[Callable[[], None]] = []

    def subscribe(self, topic: str) -> Subscription:
        """Register a subscriber; use it in a ``with`` block, which always removes it.

        (A class, not a generator: a generator's frame would stay on every idle viewer.)
        """
        subscription = Subscription(self, topic, self.max_backlog)
        self._topics[topic].add(subscription)
        self._membership_changed()
        metrics.websocket_opened(topic)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._topics.get(subscription.topic)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:  # drop empty topics: one per person would otherwise leak
                del self._topics[subscription.topic]
        self._membership_changed()
        metrics.websocket_closed(subscription.topic)

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
