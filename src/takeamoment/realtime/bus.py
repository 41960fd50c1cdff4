"""The bus between processes: Litestar Channels, in memory alone or over Redis pub/sub.

Every process publishes committed changes to one channel and runs one subscriber that hands
each message to its own hub. Messages carry their topic, so no channel per event or per person
is ever created (Channels never drops a channel key). The change log in the database is the
history; a message lost on the bus is found again by seq (see ``realtime/stream.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis

from takeamoment.db.engine import Outbound
from takeamoment.realtime.hub import Hub

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 2.0


def make_channels_plugin(redis: Redis | None, channel: str) -> ChannelsPlugin:
    backend = RedisChannelsPubSubBackend(redis=redis) if redis else MemoryChannelsBackend()
    # One subscriber per process, ours: its backlog is bounded, and the oldest message goes
    # first when it overflows (viewers then fill the gap from the change log by seq).
    return ChannelsPlugin(
        backend=backend,
        channels=[channel],
        subscriber_max_backlog=10_000,
        subscriber_backlog_strategy="dropleft",
    )


class Bus:
    """Publishes outbound messages and feeds this process's hub from the shared channel."""

    def __init__(self, channels: ChannelsPlugin, hub: Hub, channel: str) -> None:
        self.channels = channels
        self.hub = hub
        self.channel = channel
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
            except Exception:  # a bus hiccup must not turn a committed write into an error
                logger.exception("could not publish to the real-time bus")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="takeamoment-bus")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        while True:
            try:
                async with self.channels.start_subscription([self.channel]) as subscriber:
                    async for raw in subscriber.iter_events():
                        self._dispatch(raw)
            except asyncio.CancelledError:
                raise
            except Exception:  # e.g. Redis restarted: subscribe again after a short pause
                logger.exception("real-time bus subscription failed; retrying")
                await asyncio.sleep(1)

    def _dispatch(self, raw: bytes) -> None:
        try:
            envelope: dict[str, Any] = msgspec.json.decode(raw)
            self.hub.dispatch(envelope["topic"], envelope["message"])
        except Exception:  # one bad message must not stop the stream
            logger.exception("dropped a malformed bus message")
