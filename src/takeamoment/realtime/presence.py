"""Who is connected to ``/ws/me`` right now, across every process of the deployment.

Alone, a process knows from its hub. With Redis, each process keeps the set of people it holds
in a key of its own that expires unless refreshed, so a process that dies stops counting within
``TTL_S`` seconds; reading is the union of those sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from redis.asyncio import Redis

from takeamoment.realtime.hub import Hub

logger = logging.getLogger(__name__)

PERSON_PREFIX = "person:"
REFRESH_EVERY_S = 10
TTL_S = 30
READ_TIMEOUT_S = 1.0  # readiness asks for presence: it must not wait long on a silent Redis


class Presence:
    def __init__(self, hub: Hub, redis: Redis | None, channel: str) -> None:
        self.hub = hub
        self.redis = redis
        self._prefix = f"{channel}:presence:"
        self._key = self._prefix + uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        self._dirty = asyncio.Event()

    def changed(self) -> None:
        """Someone connected or left here: publish this process's set soon."""
        self._dirty.set()

    async def connected(self, person_ids: list[str]) -> set[str]:
        """Which of these people have ``/ws/me`` open on any process."""
        local = {p for p in person_ids if self.hub.count(PERSON_PREFIX + p)}
        if self.redis is None or not person_ids:
            return local
        try:
            remote = await asyncio.wait_for(self._remote(), READ_TIMEOUT_S)
        except Exception:  # presence is advisory: without Redis, say what this process knows
            logger.warning("presence: Redis did not answer; showing local connections only")
            return local
        return local | (remote & set(person_ids))

    async def _remote(self) -> set[str]:
        assert self.redis is not None  # noqa: S101 - only called with Redis
        keys = [key async for key in self.redis.scan_iter(match=self._prefix + "*")]
        remote: set[str] = set()
        for key in keys:
            members = await self.redis.smembers(key)
            remote |= {m.decode() if isinstance(m, bytes) else str(m) for m in members}
        return remote

    async def start(self) -> None:
        if self.redis is not None:
            self._task = asyncio.create_task(self._publish_loop(), name="takeamoment-presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.delete(self._key)

    async def _publish_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), REFRESH_EVERY_S)
            self._dirty.clear()
            try:
                await self._publish()
            except Exception:
                logger.warning("presence: could not reach Redis; will retry")

    async def _publish(self) -> None:
        assert self.redis is not None  # noqa: S101 - only started with Redis
        people = [t.removeprefix(PERSON_PREFIX) for t in self.hub.topics(PERSON_PREFIX)]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key)
            if people:
                pipe.sadd(self._key, *people)
                pipe.expire(self._key, TTL_S)
            await pipe.execute()
