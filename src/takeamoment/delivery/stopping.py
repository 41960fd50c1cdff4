"""How an outbox worker stops: its claim and the sends under way finish first, within a grace.

A claim cut short leaves its rows to wait out their lease, and a task cancelled while aiosqlite
opens its connection leaves a reply for a loop that may be closed by then. So stopping waits for
the claiming task (its claim commits and hands out its sends), then for the sends, all within
``STOP_GRACE_S``, and cancels only what is still under way after that.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

STOP_GRACE_S = 5.0


async def wind_down(
    claiming: asyncio.Task[Any] | None,
    under_way: Callable[[], set[asyncio.Task[Any]]],
    *others: asyncio.Task[Any] | None,
) -> None:
    """Wait for ``claiming``, then for the tasks ``under_way()`` names once it is done (it may
    have started some), within the grace; then cancel everything left, ``others`` included, and
    wait for it to end. A task that never started is ``None``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_GRACE_S
    if claiming is not None:
        await asyncio.wait([claiming], timeout=STOP_GRACE_S)
    sends = under_way()
    left = deadline - loop.time()
    if sends and left > 0:
        await asyncio.wait(sends, timeout=left)
    tasks = [task for task in (*sends, claiming, *others) if task is not None]
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
