"""The bus between processes: Litestar Channels, in memory alone or over Redis pub/sub.

Every process publishes committed changes to one channel and runs one subscriber that hands
each message to its own hub. Messages carry their topic, so no channel per event or per person
is ever created (Channels never drops a channel key). The change log in the database is the
history; a message lost on the bus is found again by seq (see ``realtime/stream.py``).

Over Redis, Channels only publishes; the subscriber is a redis-py ``PubSub`` of our own that
subscribes again whenever Redis goes away and comes back. Channels' own subscriber task ends on
the first connection error and nothing restarts it, so the fan-out would stay dead after a Redis
restart (``tests/e2e/test_faults.py`` kills Redis under load to check this).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis

from takeamoment import metrics
from takeamoment.db.engine import Outbound
from takeamoment.realtime.hub import Hub

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 2.0
RESUBSCRIBE_AFTER_S = 1.0  # between tries to subscribe again while Redis is away


def make_channels_plugin(redis: Redis | None, channel: str) -> ChannelsPlugin:
    if redis is not None:
        # Publishing only: the backend subscribes to nothing (``Bus`` listens on its own).
        return ChannelsPlugin(
            backend=RedisChannelsPubSubBackend(redis=redis), arbitrary_channels_allowed=True
        )
    # One subscriber per process, ours: its backlog is bounded, and the oldest message goes
    # first when it overflows (viewers then fill the gap from the change log by seq).
    return ChannelsPlugin(
        backend=MemoryChannelsBackend(),
        channels=[channel],
        subscriber_max_backlog=10_000,
        subscriber_backlog_strategy="dropleft",
    )


class Bus:
    """Publishes outbound messages and feeds this process's hub from the shared channel."""

    def __init__(
        self, channels: ChannelsPlugin, hub: Hub, channel: str, redis: Redis | None = None
    ) -> None:
        self.channels = channels
        self.hub = hub
        self.channel = channel
        self.redis = redis
        # True while this process hears the shared channel (readiness reports it).
        self.subscribed = False
        # Run after every subscription: Redis does not replay what was published while we were
        # not subscribed, so local viewers are offered the newest messages from the database.
        self.on_resubscribed: Callable[[], Awaitable[None]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def publish(self, outbox: list[Outbound]) -> None:
        """Hand committed messages to the bus; never raises (the change log is the backstop)."""
        # Awaited rather than queued: Channels' background publisher dies on the first backend
        # error (Redis restarting), and would then drop every later message in silence.
        for item in outbox:
            envelope = {"topic": item.topic, "message": item.message}
            try:
                await asyncio.wait_for(
                    self.channels.wait_published(envelope, self.channel), PUBLISH_TIMEOUT_S
                )
            except Exception as error:  # a bus hiccup must not turn a committed write into an error
                # No traceback: while Redis is down this happens on every write.
                logger.warning("could not publish to the real-time bus: %r", error)

    async def start(self) -> None:
        listen = self._listen_redis() if self.redis is not None else self._listen()
        self._task = asyncio.create_task(listen, name="takeamoment-bus")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        """In memory: Channels' own subscriber, which has no connection to lose."""
        async with self.channels.start_subscription([self.channel]) as subscriber:
            self.subscribed = True
            async for raw in subscriber.iter_events():
                self._dispatch(raw)

    async def _listen_redis(self) -> None:
        """Over Redis: subscribe, hand on every message, and subscribe again after any failure.

        Messages published while this process was not subscribed are not replayed by Redis;
        viewers find them by seq in the change log with the next message they receive.
        """
        assert self.redis is not None  # noqa: S101 - only started with Redis
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if not self.subscribed:
                    logger.info("real-time bus subscribed to %r", self.channel)
                self.subscribed = True
                if self.on_resubscribed is not None:  # (at start-up there is no one to catch up)
                    await self._run_catch_up(self.on_resubscribed)
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._dispatch(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as error:  # e.g. Redis restarted: subscribe again after a pause
                if self.subscribed:
                    logger.warning("real-time bus lost Redis (%s); subscribing again", error)
                    metrics.bus_reconnecting()
                self.subscribed = False
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RESUBSCRIBE_AFTER_S)

    @staticmethod
    async def _run_catch_up(catch_up: Callable[[], Awaitable[None]]) -> None:
        try:
            await catch_up()
        except Exception:  # viewers still catch up with the next change; keep listening
            logger.exception("could not catch up after the bus came back")

    def _dispatch(self, raw: bytes) -> None:
        try:
            envelope: dict[str, Any] = msgspec.json.decode(raw)
            self.hub.dispatch(envelope["topic"], envelope["message"])
        except Exception:  # one bad message must not stop the stream
            logger.exception("dropped a malformed bus message")
