"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, runtime_checkable

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from redis.asyncio import Redis

from takeamoment.api.deps import Db

logger = logging.getLogger(__name__)

# A probe answers within this even when a store hangs instead of refusing (a half-dead host,
# a full pool): "not ready" late is still "not ready", but a hung probe tells nobody anything.
PROBE_TIMEOUT_S = 2.0


@runtime_checkable
class Leader(Protocol):
    """Whether this process runs the scheduler (``scheduler/leader.py`` answers it)."""

    is_leader: bool


@runtime_checkable
class Subscriber(Protocol):
    """Whether this process hears the bus (``realtime/bus.py`` answers it)."""

    subscribed: bool


class HealthController(Controller):
    tags = ["health"]
    include_in_schema = True

    @get("/healthz", summary="200 while the process serves")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/readyz",
        summary="200 only when the database (and Redis, where set) answer",
        responses={
            503: ResponseSpec(
                data_container=dict[str, str], description="The database or Redis does not answer"
            )
        },
    )
    async def readyz(
        self,
        db: Db,
        leadership: NamedDependency[Leader],
        redis: NamedDependency[Redis | None],
        bus: NamedDependency[Subscriber],
    ) -> Response[dict[str, str]]:
        report = {
            "database": "ok",
            "scheduler": "running" if leadership.is_leader else "standby",
        }
        try:
            await asyncio.wait_for(db.ping(), timeout=PROBE_TIMEOUT_S)
        except Exception as error:  # any failure to reach the store means "not ready"
            logger.warning("readiness check failed: database: %s", error)
            report["database"] = "down"
        if redis is not None:
            try:
                await asyncio.wait_for(redis.ping(), timeout=PROBE_TIMEOUT_S)
                report["redis"] = "ok"
                # Redis answering is not enough: this process must hear the bus again too.
                report["bus"] = "ok" if bus.subscribed else "down"
            except Exception as error:
                logger.warning("readiness check failed: redis: %s", error)
                report["redis"] = "down"
        ready = "down" not in report.values()
        return Response(
            {"status": "ok" if ready else "unavailable", **report},
            status_code=200 if ready else 503,
        )
