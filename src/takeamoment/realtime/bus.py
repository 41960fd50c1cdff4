"""The bus between processes: Litestar Channels, in memory alone or over Redis pub/sub.

Every process publishes committed changes to one channel and runs one subscriber that hands
each message to its own hub. Messages carry their topic, so no channel per event or per person
is ever created (Channels never drops a channel key). The change log in the database is the
history; a message lost on the bus is found again by seq (see ``realtime/stream.py``).

Over Redis, a write never waits on Redis: after its commit, each message goes to this process's
own hub at once (its viewers get it whatever Redis does) and into a bounded queue that a worker
task drains into Redis, many envelopes to a Redis message, retrying after failures. When the
queue is full the oldest message is dropped (and counted): a viewer elsewhere that misses it
sees the hole with the next message of its topic, or when its process subscribes again, and
fills it from the change log. Messages carry the publishing process's id, so a process skips
its own when Redis echoes them.

The subscriber is a redis-py ``PubSub`` of our own that subscribes again whenever Redis goes away
and comes back. Channels' own subscriber task ends on the first connection error and nothing
restarts it, so the fan-out would stay dead after a Redis restart (``tests/e2e/test_faults.py``
kills Redis under load to check this; ``tests/e2e/test_redis_paused.py`` pauses it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import deque
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
REPUBLISH_AFTER_S = 1.0  # between tries to publish again while Redis is away
# Messages waiting for Redis; past this the oldest goes. Each is small (a slot's JSON), and the
# change log recovers what is dropped.
MAX_PENDING = 10_000
LISTEN_POLL_S = 1.0
# Envelopes published to Redis as one message: a burst of 20,000 notices is 40 publishes and
# 40 messages for every other process to read, not 20,000 of each.
PER_MESSAGE = 500  # how long one read of the subscription waits before looping


async def _as_is(response: Any) -> Any:
    """Each message as it came. redis-py's own RESP3 handler builds ``str(message)`` for a debug
    line whether or not debug is on: 18 ms a megabyte, for every message we hear."""
    return response


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
        self,
        channels: ChannelsPlugin,
        hub: Hub,
        channel: str,
        redis: Redis | None = None,
        max_pending: int = MAX_PENDING,
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
        self.origin = uuid.uuid4().hex  # this process, in every envelope it publishes
        self._origin_prefix = f"{self.origin} ".encode()  # ... and before every Redis message
        # Envelopes waiting for Redis, oldest first; ``dropped`` counts those pushed out.
        self.pending: deque[dict[str, Any]] = deque(maxlen=max_pending)
        self.dropped = 0
        self._has_pending = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def publish(self, outbox: list[Outbound]) -> None:
        """Hand committed messages on without waiting for Redis; never raises.

        In memory, Channels' memory backend takes them (nothing there can stall). Over Redis,
        this process's hub gets them now and the worker publishes them to Redis later.
        """
        for item in outbox:
            for committed in self.hub.on_commit:
                committed(item.topic, item.message)
            envelope = {"topic": item.topic, "message": item.message, "origin": self.origin}
            if self.redis is None:
                await self._publish_in_memory(envelope)
                continue
            self.hub.dispatch(item.topic, item.message)
            if len(self.pending) == self.pending.maxlen:
                self.dropped += 1  # the oldest goes: the change log recovers it (module doc)
            self.pending.append(envelope)
            self._has_pending.set()

    async def _publish_in_memory(self, envelope: dict[str, Any]) -> None:
        # Awaited, not queued: the memory backend hands it to our subscriber at once, and
        # Channels' background publisher would drop every later message after one error.
        try:
            await self.channels.wait_published(envelope, self.channel)
        except Exception as error:  # e.g. publishing before start-up: the change log has it
            logger.warning("could not publish to the real-time bus: %r", error)

    async def start(self) -> None:
        if self.redis is None:
            self._tasks = [asyncio.create_task(self._listen(), name="takeamoment-bus")]
            return
        self._tasks = [
            asyncio.create_task(self._listen_redis(), name="takeamoment-bus"),
            asyncio.create_task(self._drain(), name="takeamoment-bus-publisher"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain(self) -> None:
        """Publish pending envelopes to Redis in order, up to ``PER_MESSAGE`` to a message;
        after a failure, pause and retry."""
        assert self.redis is not None  # noqa: S101 - only started with Redis
        failing = False
        while True:
            await self._has_pending.wait()
            while self.pending:
                batch = list(itertools.islice(self.pending, PER_MESSAGE))
                raw = self._origin_prefix + msgspec.json.encode(batch)
                try:
                    await asyncio.wait_for(self.redis.publish(self.channel, raw), PUBLISH_TIMEOUT_S)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # Redis away or silent: keep them, try again soon
                    if not failing:  # once per outage: while Redis is away this repeats
                        logger.warning("could not publish to Redis (%r); retrying", error)
                    failing = True
                    await asyncio.sleep(REPUBLISH_AFTER_S)
                    continue
                if failing:
                    logger.info("publishing to Redis again")
                    failing = False
                # Those published and still first (the oldest may have been pushed out since).
                published = {id(envelope) for envelope in batch}
                while self.pending and id(self.pending[0]) in published:
                    self.pending.popleft()
            self._has_pending.clear()

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
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True, push_handler_func=_as_is)
            try:
                await pubsub.subscribe(self.channel)
                if not self.subscribed:
                    logger.info("real-time bus subscribed to %r", self.channel)
                self.subscribed = True
                if self.on_resubscribed is not None:  # (at start-up there is no one to catch up)
                    await self._run_catch_up(self.on_resubscribed)
                while True:  # short reads: the client's socket timeout is for commands
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=LISTEN_POLL_S
                    )
                    if message is not None and message["type"] == "message":
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
        """Hand on a message from the channel: this process's id and a space, then a list of
        envelopes (or, without the id, one envelope). Our own are skipped before any decoding:
        a burst's messages are megabytes, and this process handed them to its hub already."""
        if raw.startswith(self._origin_prefix):
            return
        if raw[:1] not in (b"{", b"["):
            raw = raw.partition(b" ")[2]  # another process's id
        try:
            decoded: list[dict[str, Any]] | dict[str, Any] = msgspec.json.decode(raw)
        except Exception:  # one bad message must not stop the stream
            logger.exception("dropped a malformed bus message")
            return
        for envelope in decoded if isinstance(decoded, list) else [decoded]:
            try:
                if self.redis is not None and envelope.get("origin") == self.origin:
                    continue  # our own, already handed to our hub when it was published
                self.hub.dispatch(envelope["topic"], envelope["message"])
            except Exception:
                logger.exception("dropped a malformed bus message")
