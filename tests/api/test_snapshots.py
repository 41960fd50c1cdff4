"""The shared snapshot: built and encoded once per event and seq, never served stale after a
change this process heard, never for a draft, and the seq read at most once while trusted."""

from __future__ import annotations

import asyncio
import json

import pytest

from takeamoment.db.engine import Database
from takeamoment.domain.errors import NotFound
from takeamoment.realtime.snapshots import Snapshots
from takeamoment.services.versions import KnownVersions
from tests.api.builders import patch_slot
from tests.conftest import ONE_BACKEND
from tests.helpers import Client, at, make_channel, make_event, make_slot, publish

pytestmark = ONE_BACKEND  # the in-memory snapshot and its trust


async def _published(client: Client, host_token: str) -> str:
    await make_event(client, host_token)
    await make_channel(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    await publish(client, host_token)
    return str(slot["id"])


def _snapshots(db: Database, trust_s: float = 3600.0) -> Snapshots:
    """However slow the machine, a seq read once stays trusted unless a test says otherwise."""
    return Snapshots(db, KnownVersions(trust_s))


def _titles(snapshot_text: str) -> list[str]:
    return [slot["title"] for slot in json.loads(snapshot_text)["slots"]]


async def test_viewers_arriving_together_share_one_snapshot_and_one_read_of_the_seq(
    client: Client, host_token: str, db: Database
) -> None:
    await _published(client, host_token)
    snapshots = _snapshots(db)

    together = await asyncio.gather(*(snapshots.current("tam") for _ in range(20)))
    later = await snapshots.current("tam")

    assert all(snapshot is together[0] for snapshot in (*together, later))
    assert snapshots.seq_reads == 1  # the later one was served from memory


async def test_a_change_heard_is_never_followed_by_the_old_snapshot(
    client: Client, host_token: str, db: Database
) -> None:
    slot_id = await _published(client, host_token)
    snapshots = _snapshots(db)
    before = await snapshots.current("tam")

    await patch_slot(client, host_token, slot_id, title="Renamed")
    snapshots.known.heard("event:tam", {"seq": before.seq + 1})  # as the hub does
    after_change = await snapshots.current("tam")

    assert after_change.seq == before.seq + 1
    assert _titles(after_change.text) == ["Renamed"]
    assert await snapshots.current("tam") is after_change


async def test_a_change_heard_while_the_seq_is_read_confirms_nothing(
    client: Client, host_token: str, db: Database
) -> None:
    await _published(client, host_token)
    snapshots = _snapshots(db)
    reading = asyncio.ensure_future(snapshots.current("tam"))
    await asyncio.sleep(0)  # the read has started
    snapshots.known.heard("event:tam", {"seq": 99})
    await reading
    reads = snapshots.seq_reads

    await snapshots.current("tam")

    assert snapshots.seq_reads == reads + 1  # asked the database again


async def test_other_topics_and_other_events_leave_the_trust_alone(
    client: Client, host_token: str, db: Database
) -> None:
    await _published(client, host_token)
    snapshots = _snapshots(db)
    await snapshots.current("tam")

    snapshots.known.heard("person:tam", {"seq": 5})
    snapshots.known.heard("event:other", {"seq": 5})
    await snapshots.current("tam")

    assert snapshots.seq_reads == 1


async def test_the_seq_is_read_again_once_the_trust_has_run_out(
    client: Client, host_token: str, db: Database
) -> None:
    await _published(client, host_token)
    snapshots = _snapshots(db, trust_s=0.0)

    await snapshots.current("tam")
    await snapshots.current("tam")

    assert snapshots.seq_reads == 2


async def test_a_draft_has_no_snapshot(client: Client, host_token: str, db: Database) -> None:
    await make_event(client, host_token)
    with pytest.raises(NotFound):
        await Snapshots(db).current("tam")
