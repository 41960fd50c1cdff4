"""Faults: the database restarting under load, Redis dying and coming back, the server killed.

Each test faults a PostgreSQL or Redis of its own (``private_services.py``), never the shared
ones, and prints a one-line summary: requests sent, answers by status, writes lost (must be 0).
Run: ``.venv/bin/pytest tests/e2e/test_faults.py -s -q``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import connect

from tests import plain_http
from tests.e2e.conftest import (
    Server,
    issue_host_token,
    server_env,
    start_server,
    stop_server,
)
from tests.e2e.private_services import (
    PrivatePostgres,
    PrivateRedis,
    private_pg_url,
    private_postgres,
    private_redis,
)
from tests.helpers import at

__all__ = ["private_pg_url", "private_postgres", "private_redis"]  # fixtures used by name below

# One worker runs them all under ``pytest -n`` (``ONE_WORKER`` in tests/conftest.py): each worker
# would otherwise start a PostgreSQL of its own for them.
pytestmark = pytest.mark.slow

RECOVERY_WAIT_S = 45  # a bound so a broken recovery fails instead of hanging the suite
SETTLE_OK = 120  # successful requests to see before the fault and again after it
# The load comes from one address, which the per-address request limit would soon answer 429.
NO_RATE_LIMIT = {"TAKEAMOMENT_RATE_LIMIT_PER_MINUTE": "0"}


@dataclass
class Tally:
    """What the clients sent and what came back."""

    sent: int = 0
    statuses: Counter[int | str] = field(default_factory=Counter)

    def count(self, status: int | str) -> None:
        self.sent += 1
        self.statuses[status] += 1

    @property
    def ok(self) -> int:
        return sum(
            n for status, n in self.statuses.items() if isinstance(status, int) and status < 300
        )

    def summary(self, name: str, lost: int) -> str:
        by_status = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items(), key=str))
        return f"[{name}] requests sent: {self.sent}; answers: {by_status}; lost writes: {lost}"


async def until(condition: Callable[[], Any], what: str, wait: float = RECOVERY_WAIT_S) -> None:
    """Poll ``condition`` (sync or async) until it holds; fail after ``wait`` seconds."""
    try:
        async with asyncio.timeout(wait):
            while True:
                result = condition()
                if asyncio.iscoroutine(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"not within {wait}s: {what}") from None


async def request(
    client: httpx.AsyncClient, tally: Tally, method: str, path: str, **kwargs: Any
) -> httpx.Response | None:
    """One request, tallied; a transport failure (hang, reset) counts under its class name."""
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.TransportError as error:
        tally.count(type(error).__name__)
        return None
    tally.count(response.status_code)
    return response


async def post_ok(client: httpx.AsyncClient, server: Server, path: str, body: Any = None) -> Any:
    response = await client.post(path, json=body, headers=server.headers())
    assert response.status_code in (200, 201), response.text
    return response.json()


async def readyz(client: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    response = await client.get("/readyz")
    return response.status_code, response.json()


# --- 1. PostgreSQL restarted while requests run ---------------------------------------------


@dataclass
class Writer:
    """One client: creates slots on its own channel and renames its own slot, again and again."""

    index: int
    own_slot: str
    created: list[str] = field(default_factory=list)  # slot ids acknowledged with 201
    last_renamed: int = -1  # the last version of the title acknowledged with 200
    attempts: int = 0

    async def run(
        self, client: httpx.AsyncClient, server: Server, tally: Tally, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            self.attempts += 1
            n = self.attempts
            body = {
                "channel": f"c{self.index}",
                "title": f"W{self.index}-{n}",
                "starts_at": at(0, 2 * n),
                "ends_at": at(0, 2 * n + 1),
            }
            headers = server.headers()
            created = await request(
                client, tally, "POST", "/api/events/pg/slots", json=body, headers=headers
            )
            if created is not None and created.status_code == 201:
                self.created.append(created.json()["id"])
            renamed = await request(
                client,
                tally,
                "PATCH",
                f"/api/slots/{self.own_slot}",
                json={"title": f"v{n}"},
                headers=headers,
            )
            if renamed is not None and renamed.status_code == 200:
                self.last_renamed = n
            await request(client, tally, "GET", "/api/events/pg/schedule")
            if created is None or created.status_code >= 300:
                await asyncio.sleep(0.05)  # a client backs off a little on errors


@pytest.mark.postgres
async def test_postgres_restart_under_load_answers_503_then_recovers_without_losing_writes(
    private_postgres: PrivatePostgres, private_pg_url: str, tmp_path: Path
) -> None:
    env = server_env(private_pg_url, **NO_RATE_LIMIT)
    token = issue_host_token(env, tmp_path)
    process, url = start_server(env, tmp_path)
    server = Server(url, token, env)
    tally, stop = Tally(), asyncio.Event()
    try:
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            event = {"slug": "pg", "title": "PG", "timezone": "UTC"}
            await post_ok(
                client, server, "/api/events", {**event, "starts_at": at(0), "ends_at": at(23)}
            )
            await post_ok(client, server, "/api/events/pg/publish")
            writers = []
            for index in range(4):
                channel = {"slug": f"c{index}", "name": f"C{index}"}
                await post_ok(client, server, "/api/events/pg/channels", channel)
                own = {
                    "channel": f"c{index}",
                    "title": "v0",
                    "starts_at": at(22),
                    "ends_at": at(23),
                }
                writers.append(
                    Writer(
                        index, (await post_ok(client, server, "/api/events/pg/slots", own))["id"]
                    )
                )
            load = [asyncio.create_task(w.run(client, server, tally, stop)) for w in writers]

            await until(lambda: tally.ok >= SETTLE_OK, "writes succeed before the fault")
            private_postgres.stop("immediate")  # a crash, not a polite shutdown
            status, report = await readyz(client)
            assert (status, report["database"]) == (503, "down")
            body = {"channel": "c0", "title": "Refused", "starts_at": at(21), "ends_at": at(22)}
            refused = await client.post("/api/events/pg/slots", json=body, headers=server.headers())
            assert refused.status_code == 503 and refused.headers["Retry-After"], refused.text
            before = tally.statuses[503]
            await until(lambda: tally.statuses[503] >= before + 60, "requests answered 503")
            assert process.poll() is None, "the server must survive its database going away"

            private_postgres.start()
            await until(
                lambda: _ready_with_scheduler(client), "readyz 200 with the scheduler running"
            )
            recovered = tally.ok
            await until(lambda: tally.ok >= recovered + SETTLE_OK, "writes succeed after")
            stop.set()
            await asyncio.gather(*load)

            schedule = (
                await client.get("/api/events/pg/schedule", headers=server.headers())
            ).json()
    finally:
        stop.set()
        stop_server(process)

    titles = {slot["id"]: slot["title"] for slot in schedule["slots"]}
    lost = [sid for w in writers for sid in w.created if sid not in titles]
    for writer in writers:
        final = int(titles[writer.own_slot].removeprefix("v"))
        if final < writer.last_renamed:  # an acknowledged rename was undone
            lost.append(writer.own_slot)
    print(tally.summary("postgres restart", len(lost)))
    assert lost == []
    assert set(tally.statuses) <= {200, 201, 503}, tally.statuses


async def _ready_with_scheduler(client: httpx.AsyncClient) -> bool:
    status, report = await readyz(client)
    return status == 200 and report["scheduler"] == "running"


# --- 2. Redis stopped and started ------------------------------------------------------------


def ws_url(server_url: str, path: str) -> str:
    return server_url.replace("http://", "ws://") + path


@dataclass
class Viewer:
    """A viewer of ``/ws/events/bus`` that resumes with ``?since=`` whenever it reconnects."""

    url: str
    seqs: list[int] = field(default_factory=list)  # every change seq received, repeats included
    connections: int = 0
    leave: asyncio.Event = field(default_factory=asyncio.Event)
    back: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def last(self) -> int:
        return max(self.seqs, default=0)

    async def run(self) -> None:
        while True:
            self.connections += 1
            async with connect(ws_url(self.url, f"/ws/events/bus?since={self.last}")) as ws:
                leaving = asyncio.create_task(self.leave.wait())
                while True:
                    receiving = asyncio.create_task(ws.recv())
                    done, _ = await asyncio.wait(
                        {receiving, leaving}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if receiving not in done:
                        receiving.cancel()
                        break
                    message = json.loads(receiving.result())
                    assert message["type"] != "snapshot", "since= must replay, not start over"
                    self.seqs.append(message["seq"])
            self.leave.clear()
            await self.back.wait()  # stay away until told to come back
            self.back.clear()


@pytest.mark.redis
@pytest.mark.postgres
async def test_redis_killed_and_restarted_fan_out_recovers_and_viewers_miss_nothing(
    private_redis: PrivateRedis, private_pg_url: str, tmp_path: Path
) -> None:
    env = server_env(
        private_pg_url,
        TAKEAMOMENT_REDIS_URL=private_redis.url,
        TAKEAMOMENT_BUS_CHANNEL=f"faults-{uuid.uuid4().hex[:8]}",
        # The limit stays on, its counts in the Redis that dies: it must let requests through
        # uncounted rather than refuse them while Redis is away.
        TAKEAMOMENT_RATE_LIMIT_PER_MINUTE="1000000",
    )
    token = issue_host_token(env, tmp_path)
    first, first_url = start_server(env, tmp_path)
    tally = Tally()
    try:
        second, second_url = start_server(env, tmp_path)
        try:
            servers = [Server(first_url, token, env), Server(second_url, token, env)]
            async with (
                plain_http.AsyncClient(base_url=first_url, timeout=30) as to_first,
                plain_http.AsyncClient(base_url=second_url, timeout=30) as to_second,
            ):
                clients = [to_first, to_second]
                await post_ok(to_first, servers[0], "/api/events", BUS_EVENT)
                await post_ok(to_first, servers[0], "/api/events/bus/channels", MAIN)
                await post_ok(to_first, servers[0], "/api/events/bus/publish")
                # Steady viewers on each process, and one on the second that leaves and resumes.
                steady = [Viewer(first_url), Viewer(second_url)]
                roaming = Viewer(second_url)
                viewers = [*steady, roaming]
                watching = [asyncio.create_task(v.run()) for v in viewers]
                await until(lambda: all(v.connections for v in viewers), "viewers connect")
                created: list[str] = []
                slot_number = iter(range(10_000))

                async def write_through(which: int, count: int) -> None:
                    for _ in range(count):
                        n = next(slot_number)
                        body = {
                            "channel": "main",
                            "title": f"S{n}",
                            "starts_at": at(0, 2 * n),
                            "ends_at": at(0, 2 * n + 1),
                        }
                        response = await request(
                            clients[which],
                            tally,
                            "POST",
                            "/api/events/bus/slots",
                            json=body,
                            headers=servers[which].headers(),
                        )
                        assert response is not None and response.status_code == 201
                        created.append(response.json()["id"])

                async def all_seen(of: list[Viewer]) -> bool:
                    last = await last_seq(first_url)
                    return all(v.last >= last for v in of)

                await asyncio.gather(write_through(0, 10), write_through(1, 10))
                await until(lambda: all_seen(viewers), "changes reach every viewer")

                private_redis.kill()
                roaming.leave.set()
                # Writes still succeed without Redis; readiness says it is missing.
                await asyncio.gather(write_through(0, 10), write_through(1, 10))
                for client in clients:
                    status, report = await readyz(client)
                    assert (status, report["redis"]) == (503, "down")

                private_redis.start()
                for client in clients:
                    await until(partial(_ready, client), "readyz 200 once Redis is back")
                # Redis replays nothing, yet what was written while it was down arrives at
                # once, not only with the next change: each process offers its viewers the
                # newest message from the database when it subscribes again.
                await until(lambda: all_seen(steady), "the outage's writes reach the viewers")
                # Fan-out recovered: writes through one process reach viewers of the other.
                await write_through(1, 10)
                await until(lambda: all_seen([steady[0]]), "process 2's writes reach process 1")
                await write_through(0, 10)
                await until(lambda: all_seen(steady), "process 1's writes reach process 2")
                roaming.back.set()  # resumes with ?since=<its last seq>
                await asyncio.gather(write_through(0, 5), write_through(1, 5))
                await until(lambda: all_seen(viewers), "every viewer catches up")
                total = await last_seq(first_url)
                for task in watching:
                    task.cancel()
                await asyncio.gather(*watching, return_exceptions=True)
                schedule = (await to_second.get("/api/events/bus/schedule")).json()
        finally:
            stop_server(second)
    finally:
        stop_server(first)

    kept = {slot["id"] for slot in schedule["slots"]}
    lost = [sid for sid in created if sid not in kept]
    for viewer in viewers:
        lost += [f"seq {n}" for n in sorted(set(range(1, total + 1)) - set(viewer.seqs))]
    repeats = sum(len(v.seqs) - len(set(v.seqs)) for v in viewers)
    print(
        tally.summary("redis restart", len(lost))
        + f"; changes 1..{total} seen by {len(viewers)} viewers, repeats (client dedupes): "
        + f"{repeats}; roaming viewer connections: {roaming.connections}"
    )
    assert lost == []
    assert roaming.connections == 2
    assert set(tally.statuses) == {201}


BUS_EVENT = {
    "slug": "bus",
    "title": "Bus",
    "timezone": "UTC",
    "starts_at": at(0),
    "ends_at": at(23),
}
MAIN = {"slug": "main", "name": "Main"}


async def last_seq(url: str) -> int:
    async with connect(ws_url(url, "/ws/events/bus")) as ws:
        snapshot: dict[str, Any] = json.loads(await ws.recv())
    seq: int = snapshot["seq"]
    return seq


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await readyz(client))[0] == 200


# --- 3. The server killed mid-write ---------------------------------------------------------

KILL_ROUNDS = 5
KILL_WRITERS = 6
KILL_CHANNELS = 4
KILL_PEOPLE = 8


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def kill_db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database: a SQLite file, or one on the private PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "kill.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("private_pg_url")
    return url


@dataclass
class Acknowledged:
    """Every write the clients saw succeed (2xx) before a kill: each must survive it."""

    slots: set[str] = field(default_factory=set)
    bookings: set[str] = field(default_factory=set)
    confirmed: set[str] = field(default_factory=set)


async def write_until_killed(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    event: str,
    numbers: Iterator[int],
    people: list[str],
    tally: Tally,
    acked: Acknowledged,
) -> None:
    """Create a slot, book someone into it, accept: again and again, until the server dies."""
    rng = random.Random()
    while True:
        n = next(numbers)
        body = {
            "channel": f"c{n % KILL_CHANNELS}",
            "title": f"K{n}",
            "starts_at": at(0, 20 * (n // KILL_CHANNELS)),
            "ends_at": at(0, 20 * (n // KILL_CHANNELS) + 10),
        }
        slot = await request(
            client, tally, "POST", f"/api/events/{event}/slots", json=body, headers=headers
        )
        if slot is None:
            return  # the server is gone
        if slot.status_code != 201:
            continue
        acked.slots.add(slot.json()["id"])
        booking_body = {"person_id": rng.choice(people), "role": "creator"}
        path = f"/api/slots/{slot.json()['id']}/bookings"
        booking = await request(client, tally, "POST", path, json=booking_body, headers=headers)
        if booking is None:
            return
        if booking.status_code != 201:
            continue
        booking_id = booking.json()["id"]
        acked.bookings.add(booking_id)
        path = f"/api/bookings/{booking_id}/accept"
        accepted = await request(client, tally, "POST", path, headers=headers)
        if accepted is None:
            return
        if accepted.status_code == 200:
            acked.confirmed.add(booking_id)


async def test_a_server_killed_mid_write_leaves_no_half_written_booking(
    kill_db_url: str, tmp_path: Path
) -> None:
    env = server_env(kill_db_url, **NO_RATE_LIMIT)
    token = issue_host_token(env, tmp_path)
    headers = {"Authorization": f"Bearer {token}"}
    tally, acked, rng = Tally(), Acknowledged(), random.Random()
    people: list[str] = []
    for round_number in range(KILL_ROUNDS):
        process, url = start_server(env, tmp_path)
        try:
            async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
                if not people:
                    for index in range(KILL_PEOPLE):
                        person = {"name": f"P{index}", "handle": f"p{index}", "role": "creator"}
                        people.append(
                            (await post_ok(client, Server(url, token, env), "/api/people", person))[
                                "id"
                            ]
                        )
                event = f"kill{round_number}"
                server = Server(url, token, env)
                await post_ok(client, server, "/api/events", {**BUS_EVENT, "slug": event})
                for index in range(KILL_CHANNELS):
                    await post_ok(
                        client,
                        server,
                        f"/api/events/{event}/channels",
                        {"slug": f"c{index}", "name": f"C{index}"},
                    )
                numbers = iter(range(10_000))
                writers = [
                    asyncio.create_task(
                        write_until_killed(client, headers, event, numbers, people, tally, acked)
                    )
                    for _ in range(KILL_WRITERS)
                ]
                wanted = tally.ok + 20
                await until(partial(lambda n: tally.ok >= n, wanted), "writes under way")
                await asyncio.sleep(rng.uniform(0, 1.5))  # a random moment mid-write
                process.kill()
                process.wait()
                await asyncio.gather(*writers)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    process, url = start_server(env, tmp_path)  # it must come back after the last kill too
    stop_server(process)

    lost, broken = await _check_store(kill_db_url, acked)
    print(
        tally.summary(f"kill -9 x{KILL_ROUNDS}, {kill_db_url.split(':')[0]}", len(lost))
        + f"; acknowledged: {len(acked.slots)} slots, {len(acked.bookings)} bookings, "
        + f"{len(acked.confirmed)} accepts; rules broken: {len(broken)}"
    )
    assert lost == []
    assert broken == []
    assert set(tally.statuses) <= {
        200,
        201,
        409,
        "ReadError",
        "RemoteProtocolError",
        "ConnectError",
    }, tally.statuses


async def _check_store(url: str, acked: Acknowledged) -> tuple[list[str], list[str]]:
    """What the database holds after the kills: (acknowledged writes lost, rules broken)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:

            async def rows(sql: str) -> list[Any]:
                return list((await connection.execute(text(sql))).all())

            slots = await rows("SELECT id, channel_id, starts_at, ends_at, status FROM slot")
            bookings = await rows(
                "SELECT id, slot_id, person_id, status, starts_at, busy_until FROM booking"
            )
            notifications = await rows(
                "SELECT booking_id, kind, person_id, seq FROM notification WHERE NOT missed"
            )
            changes = await rows("SELECT event_id, seq, type, payload FROM change")
            events = await rows("SELECT id, last_seq FROM event")
            people = await rows("SELECT id, last_notification_seq FROM person")
    finally:
        await engine.dispose()

    slot_ids = {row.id for row in slots}
    booking_status = {row.id: row.status for row in bookings}
    lost = sorted(acked.slots - slot_ids) + sorted(acked.bookings - set(booking_status))
    lost += [b for b in acked.confirmed if booking_status.get(b) != "confirmed"]

    broken: list[str] = []
    invited = Counter(n.booking_id for n in notifications if n.kind == "booking.invited")
    broken += [
        f"booking {b.id}: {invited[b.id]} invitations" for b in bookings if invited[b.id] != 1
    ]
    broken += [f"booking {b.id}: no slot" for b in bookings if b.slot_id not in slot_ids]
    payloads = [
        (c.type, c.payload if isinstance(c.payload, dict) else json.loads(c.payload))
        for c in changes
    ]
    logged_slots = Counter(p["slot"]["id"] for t, p in payloads if t == "slot.created")
    broken += [
        f"slot {s}: {logged_slots[s]} slot.created changes"
        for s in slot_ids
        if logged_slots[s] != 1
    ]
    logged_confirms = Counter(p["booking"]["id"] for t, p in payloads if t == "booking.confirmed")
    broken += [
        f"booking {b.id}: {logged_confirms[b.id]} booking.confirmed changes"
        for b in bookings
        if logged_confirms[b.id] != (b.status == "confirmed")
    ]
    for event in events:
        seqs = sorted(c.seq for c in changes if c.event_id == event.id)
        if seqs != list(range(1, event.last_seq + 1)):
            broken.append(f"event {event.id}: change seqs not 1..{event.last_seq}")
    for person in people:
        seqs = sorted(n.seq for n in notifications if n.person_id == person.id)
        if seqs != list(range(1, person.last_notification_seq + 1)):
            broken.append(
                f"person {person.id}: notification seqs not 1..{person.last_notification_seq}"
            )
    live = [s for s in slots if s.status != "cancelled"]
    broken += [
        f"slots {a.id} and {b.id} overlap on a channel"
        for a, b in itertools.combinations(live, 2)
        if a.channel_id == b.channel_id
        and _as_utc(a.starts_at) < _as_utc(b.ends_at)
        and _as_utc(b.starts_at) < _as_utc(a.ends_at)
    ]
    active = [b for b in bookings if b.status in ("invited", "confirmed")]
    broken += [
        f"bookings {a.id} and {b.id} overlap for one person"
        for a, b in itertools.combinations(active, 2)
        if a.person_id == b.person_id
        and _as_utc(a.starts_at) < _as_utc(b.busy_until)
        and _as_utc(b.starts_at) < _as_utc(a.busy_until)
    ]
    return lost, broken


def _as_utc(value: datetime | str) -> datetime:
    """A timestamp as stored (aware on PostgreSQL, text or naive UTC on SQLite) as aware UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
