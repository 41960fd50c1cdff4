"""A slow or stuck viewer never delays anyone else, and is dropped with a resume code."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from takeamoment.realtime.hub import Hub
from takeamoment.realtime.protocol import CLOSE_TOO_SLOW, IN_PLACE_SEND
from takeamoment.realtime.stream import pump


class FakeSocket:
    """Enough of a WebSocket for ``pump``: records what is sent, can be made to stall."""

    def __init__(self, *, stuck: bool = False, in_place: bool = True) -> None:
        # As uvicorn's protocol in ``serve`` says (``wsprotocol.py``): sends may go in place.
        self.scope: dict[str, Any] = {"extensions": {IN_PLACE_SEND: {}} if in_place else {}}
        self.sent: list[str] = []
        self.closed_with: int | None = None
        self.stuck = stuck
        self._never = asyncio.Event()

    async def send_text(self, text: str) -> None:
        if self.stuck:
            await self._never.wait()  # like a client whose TCP window stays shut
        self.sent.append(text)

    async def receive(self) -> dict[str, Any]:
        await self._never.wait()
        return {"type": "websocket.disconnect"}

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = code


async def _nothing_missing(after: int) -> list[dict[str, Any]]:
    return []


async def test_a_stuck_viewer_is_dropped_with_4008_while_others_get_everything() -> None:
    hub = Hub(max_backlog=5)
    stuck, healthy = FakeSocket(stuck=True), FakeSocket()
    with hub.subscribe("event:x") as slow_sub, hub.subscribe("event:x") as fast_sub:
        slow = asyncio.create_task(pump(stuck, slow_sub, [], 0, _nothing_missing))  # type: ignore[arg-type]
        fast = asyncio.create_task(pump(healthy, fast_sub, [], 0, _nothing_missing))  # type: ignore[arg-type]
        for seq in range(1, 51):
            hub.dispatch("event:x", {"seq": seq, "type": "slot.updated"})
            await asyncio.sleep(0)
        await asyncio.wait_for(slow, 5)
        await asyncio.sleep(0.01)
        fast.cancel()
    assert stuck.closed_with == CLOSE_TOO_SLOW
    assert len(healthy.sent) == 50


async def test_a_topic_with_no_subscribers_is_forgotten() -> None:
    hub = Hub(max_backlog=5)
    with hub.subscribe("person:1"):
        assert hub.count("person:1") == 1
    assert hub.count() == 0 and hub.count("person:1") == 0


async def test_repeated_and_out_of_order_messages_are_sent_once_in_order() -> None:
    hub = Hub(max_backlog=50)
    socket = FakeSocket()
    stored = [{"seq": seq, "type": "slot.updated"} for seq in range(1, 7)]

    async def load_after(after: int) -> list[dict[str, Any]]:
        return [m for m in stored if m["seq"] > after]

    with hub.subscribe("event:x") as subscription:
        task = asyncio.create_task(pump(socket, subscription, [], 0, load_after))  # type: ignore[arg-type]
        for seq in (1, 1, 3, 2, 6, 4):  # 2 arrives late, 5 never arrives on the bus
            hub.dispatch("event:x", {"seq": seq, "type": "slot.updated"})
        await asyncio.sleep(0.05)
        task.cancel()
    assert [json.loads(text)["seq"] for text in socket.sent] == [1, 2, 3, 4, 5, 6]


async def test_a_parked_viewer_is_written_to_in_place_in_order() -> None:
    hub = Hub(max_backlog=5)
    socket = FakeSocket()
    with hub.subscribe("event:x") as subscription:
        task = asyncio.create_task(pump(socket, subscription, [], 0, _nothing_missing))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)  # let the writer send its start and park
        for seq in range(1, 21):  # more than the backlog holds: none of them may queue
            hub.dispatch("event:x", {"seq": seq, "type": "slot.updated"})
        sent_without_waiting = [json.loads(text)["seq"] for text in socket.sent]
        task.cancel()
    assert sent_without_waiting == list(range(1, 21))
    assert not subscription.overflowed


async def test_without_the_servers_word_nothing_is_written_in_place_and_nothing_is_lost() -> None:
    """A server whose send may write and then suspend (Granian) would get a message twice from
    an in-place write that seemed not to finish: there, every message goes through the writer."""
    hub = Hub(max_backlog=50)
    socket = FakeSocket(in_place=False)
    with hub.subscribe("event:x") as subscription:
        task = asyncio.create_task(pump(socket, subscription, [], 0, _nothing_missing))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)  # let the writer send its start and park
        for seq in range(1, 21):
            hub.dispatch("event:x", {"seq": seq, "type": "slot.updated"})
        written_in_place = list(socket.sent)
        for _ in range(100):  # the writer task drains the backlog
            if len(socket.sent) == 20:
                break
            await asyncio.sleep(0.01)
        task.cancel()
    assert written_in_place == []
    assert [json.loads(text)["seq"] for text in socket.sent] == list(range(1, 21))
