"""A viewer behind by more than a page of the change log gets every missing change, in order."""

from __future__ import annotations

import asyncio
import json

from takeamoment.db.engine import Database
from takeamoment.realtime.hub import Hub
from takeamoment.realtime.stream import pump
from takeamoment.services.changes import changes_after, latest_change
from tests.api.builders import last_seq
from tests.helpers import Client, at, auth, make_channel, make_event, make_slot, ok, publish
from tests.test_hub import FakeSocket

SLOTS = 40  # back to back: one delay with cascade moves (and logs) every one of them
# The viewer's pages are this long, not the server's 1,000: the paging is the same, and more than
# two pages behind takes 5 delays instead of 27.
PAGE = 60


async def delay_all(client: Client, token: str, first_slot: str, times: int) -> None:
    for _ in range(times):
        body = {"minutes": 1, "cascade": True}
        path = f"/api/slots/{first_slot}/delay"
        await ok(await client.post(path, json=body, headers=auth(token)))


async def until_sent(socket: FakeSocket, seq: int) -> None:
    """Wait (at most a minute) until the socket was sent ``seq``."""
    async with asyncio.timeout(60):
        while not (socket.sent and json.loads(socket.sent[-1])["seq"] >= seq):  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_a_viewer_behind_by_more_than_a_page_gets_every_change_in_order_then_live_ones(
    client: Client, host_token: str, db: Database
) -> None:
    await make_event(client, host_token, ends_at=at(23, 59))
    await make_channel(client, host_token)
    slots = [
        await make_slot(client, host_token, at(8, 15 * i), at(8, 15 * i + 15)) for i in range(SLOTS)
    ]
    await publish(client, host_token)
    seen_last = await last_seq(client, host_token)
    # A hub the app's bus does not feed: this viewer hears nothing of what follows.
    hub = Hub(max_backlog=10)
    socket = FakeSocket()
    with hub.subscribe("event:tam") as subscription:
        viewer = asyncio.create_task(
            pump(socket, subscription, [], seen_last, lambda s: changes_after(db, "tam", s, PAGE))  # type: ignore[arg-type]
        )
        times = 2 * PAGE // SLOTS + 2
        await delay_all(client, host_token, slots[0]["id"], times)
        behind_until = await last_seq(client, host_token)
        assert behind_until - seen_last > 2 * PAGE
        # The next message it hears comes after a hole of more than a page.
        newest = await latest_change(db, "tam")
        assert newest is not None
        hub.dispatch("event:tam", newest)
        # ... and then a live one.
        await delay_all(client, host_token, slots[0]["id"], 1)
        live = await latest_change(db, "tam")
        assert live is not None
        hub.dispatch("event:tam", live)
        final = live["seq"]
        await until_sent(socket, final)
        viewer.cancel()
        await asyncio.gather(viewer, return_exceptions=True)

    seqs = [json.loads(text)["seq"] for text in socket.sent]
    assert seqs == list(range(seen_last + 1, final + 1))
