"""N simultaneous requests that would break a rule: exactly one wins, the rest get 409.

Against a real server with two worker processes, on SQLite and on PostgreSQL: one server per
backend for the module, each test racing on an event and people of its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests import plain_http
from tests.e2e.conftest import Server, unique
from tests.helpers import at

N = 24

# On one test worker (``ONE_WORKER`` in tests/conftest.py): the module starts its servers once.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(module_workers_server: Server) -> Server:
    """Two worker processes, so the requests really race across processes."""
    return module_workers_server


async def _post(client: httpx.AsyncClient, server: Server, path: str, body: Any) -> httpx.Response:
    return await client.post(f"{server.url}{path}", json=body, headers=server.headers())


async def _setup_event(client: httpx.AsyncClient, server: Server, slug: str, channels: int) -> None:
    event = {"slug": slug, "title": slug, "timezone": "UTC", "starts_at": at(0), "ends_at": at(23)}
    assert (await _post(client, server, "/api/events", event)).status_code == 201
    for index in range(channels):
        channel = {"slug": f"c{index}", "name": f"Channel {index}"}
        response = await _post(client, server, f"/api/events/{slug}/channels", channel)
        assert response.status_code == 201


async def _slot(
    client: httpx.AsyncClient, server: Server, slug: str, channel: str, start: str, end: str
) -> str:
    body = {"channel": channel, "title": "Session", "starts_at": start, "ends_at": end}
    response = await _post(client, server, f"/api/events/{slug}/slots", body)
    assert response.status_code == 201, response.text
    slot_id: str = response.json()["id"]
    return slot_id


def _outcome(responses: list[httpx.Response]) -> tuple[int, set[str]]:
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, [
        r.text for r in responses if r.status_code not in (201, 409)
    ]
    kinds = {c["kind"] for r in responses if r.status_code == 409 for c in r.json()["extra"]}
    return statuses.count(201), kinds


async def test_concurrent_overlapping_slots_on_one_channel_admit_exactly_one(
    server: Server,
) -> None:
    race = unique("race-")
    async with plain_http.AsyncClient(timeout=60) as client:
        await _setup_event(client, server, race, channels=1)
        bodies = [
            {"channel": "c0", "title": f"S{i}", "starts_at": at(10, i), "ends_at": at(11, i)}
            for i in range(N)
        ]
        responses = await asyncio.gather(
            *(_post(client, server, f"/api/events/{race}/slots", body) for body in bodies)
        )
        schedule = (
            await client.get(f"{server.url}/api/events/{race}/schedule", headers=server.headers())
        ).json()
    created, kinds = _outcome(responses)
    assert (created, kinds) == (1, {"channel_overlap"})
    assert len(schedule["slots"]) == 1


async def test_concurrent_bookings_of_one_person_across_channels_admit_exactly_one(
    server: Server,
) -> None:
    race = unique("race-")
    async with plain_http.AsyncClient(timeout=60) as client:
        await _setup_event(client, server, race, channels=N)
        slot_ids = [
            await _slot(client, server, race, f"c{i}", at(10, i), at(11, i)) for i in range(N)
        ]
        ana = {"name": "Ana", "handle": unique("ana"), "role": "creator"}
        person = (await _post(client, server, "/api/people", ana)).json()
        responses = await asyncio.gather(
            *(
                _post(
                    client,
                    server,
                    f"/api/slots/{slot_id}/bookings",
                    {"person_id": person["id"], "role": "creator"},
                )
                for slot_id in slot_ids
            )
        )
    created, kinds = _outcome(responses)
    assert (created, kinds) == (1, {"person_overlap"})


async def test_concurrent_bookings_across_events_respect_the_changeover(server: Server) -> None:
    """Back-to-back slots in two events: a person can take only one of each adjacent pair."""
    one, two = unique("one-"), unique("two-")
    async with plain_http.AsyncClient(timeout=60) as client:
        for slug in (one, two):
            await _setup_event(client, server, slug, channels=1)
        # Slots 10:00-10:30 in "one" and 10:30-11:00 in "two", repeated; changeover is 5 minutes.
        slot_ids = []
        for index in range(N // 2):
            base = index * 60
            slot_ids.append(await _slot(client, server, one, "c0", at(1, base), at(1, base + 30)))
            slot_ids.append(
                await _slot(client, server, two, "c0", at(1, base + 30), at(1, base + 60))
            )
        bo = {"name": "Bo", "handle": unique("bo"), "role": "creator"}
        person = (await _post(client, server, "/api/people", bo)).json()
        responses = await asyncio.gather(
            *(
                _post(
                    client,
                    server,
                    f"/api/slots/{slot_id}/bookings",
                    {"person_id": person["id"], "role": "creator"},
                )
                for slot_id in slot_ids
            )
        )
        bookings = [r for r in responses if r.status_code == 201]
    created, kinds = _outcome(responses)
    assert kinds <= {"changeover"}
    # Whatever won, no two winners are adjacent: the winners' slots are pairwise 5+ minutes apart.
    won = sorted(slot_ids.index(r.json()["slot_id"]) for r in bookings)
    assert all(b - a >= 2 for a, b in zip(won, won[1:], strict=False))
    assert created >= N // 4


async def test_concurrent_moves_into_the_same_time_admit_exactly_one(server: Server) -> None:
    race = unique("race-")
    async with plain_http.AsyncClient(timeout=60) as client:
        await _setup_event(client, server, race, channels=1)
        slot_ids = [
            await _slot(client, server, race, "c0", at(1, 30 * i), at(1, 30 * i + 30))
            for i in range(N)
        ]
        target = {"starts_at": at(20), "ends_at": at(21)}
        responses = await asyncio.gather(
            *(
                client.patch(
                    f"{server.url}/api/slots/{slot_id}", json=target, headers=server.headers()
                )
                for slot_id in slot_ids
            )
        )
        schedule = (
            await client.get(f"{server.url}/api/events/{race}/schedule", headers=server.headers())
        ).json()
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1 and statuses.count(409) == N - 1
    at_target = [s for s in schedule["slots"] if s["starts_at"].startswith(at(20)[:16])]
    assert len(at_target) == 1 and at_target[0]["sequence"] == 1
