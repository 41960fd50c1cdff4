"""The shared snapshot: built once per event and seq, never served stale or for a draft."""

from __future__ import annotations

import asyncio

import pytest

from takeamoment.db.engine import Database
from takeamoment.domain.errors import NotFound
from takeamoment.realtime.snapshots import Snapshots
from tests.api.builders import patch_slot
from tests.helpers import Client, at, make_channel, make_event, make_slot, publish


async def test_viewers_arriving_together_share_one_snapshot_until_the_schedule_changes(
    client: Client, host_token: str, db: Database
) -> None:
    await make_event(client, host_token)
    await make_channel(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    await publish(client, host_token)
    snapshots = Snapshots(db)

    together = await asyncio.gather(*(snapshots.current("tam") for _ in range(20)))

    assert all(snapshot is together[0] for snapshot in together)
    await patch_slot(client, host_token, slot["id"], title="Renamed")
    after_change = await snapshots.current("tam")
    assert after_change["seq"] == together[0]["seq"] + 1
    assert [s["title"] for s in after_change["slots"]] == ["Renamed"]
    assert await snapshots.current("tam") is after_change


async def test_a_draft_has_no_snapshot(client: Client, host_token: str, db: Database) -> None:
    await make_event(client, host_token)
    with pytest.raises(NotFound):
        await Snapshots(db).current("tam")
