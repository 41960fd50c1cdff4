"""The run of show against a real server process, with real WebSocket clients, on both databases.

A host runs a channel as on air: a live slot runs late, ends early, the rest is pulled forward, a
mistake is undone. People are prompted by the channel's state: standby while it is busy, "you're
on" only once it frees. Whoever a change affects is told.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests import plain_http
from tests.e2e.conftest import Server, issue_host_token, server_env, start_server, stop_server
from tests.e2e.test_realtime import recv, ws_url

pytestmark = pytest.mark.slow


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


class Show:
    """A host's calls against one server: an event around now with one channel."""

    def __init__(self, client: httpx.AsyncClient, server: Server) -> None:
        self.client, self.server = client, server

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, status: int = 200
    ) -> Any:
        response = await self.client.request(
            method, path, json=body, headers=self.server.headers(token)
        )
        assert response.status_code == status, (path, response.text)
        return response.json() if response.content else None

    async def event(self) -> None:
        body = {
            "slug": "show",
            "title": "Show",
            "timezone": "Europe/London",
            "starts_at": soon(-3 * 3600).isoformat(),
            "ends_at": soon(6 * 3600).isoformat(),
            "changeover_minutes": 0,
        }
        await self.call("POST", "/api/events", body, status=201)
        channel = {"slug": "main", "name": "Main"}
        await self.call("POST", "/api/events/show/channels", channel, status=201)
        await self.call("POST", "/api/events/show/publish")

    async def slot(self, title: str, starts: datetime, ends: datetime) -> Any:
        body = {
            "channel": "main",
            "title": title,
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
        }
        return await self.call("POST", "/api/events/show/slots", body, status=201)

    async def person(self, handle: str) -> Any:
        body = {"name": handle.title(), "handle": handle, "role": "creator"}
        return await self.call("POST", "/api/people", body, status=201)

    async def invite(self, slot: Any, person: Any) -> Any:
        body = {"person_id": person["id"], "role": "creator"}
        return await self.call("POST", f"/api/slots/{slot['id']}/bookings", body, status=201)

    async def confirm(self, slot: Any, person: Any) -> Any:
        booking = await self.invite(slot, person)
        return await self.call(
            "POST", f"/api/bookings/{booking['id']}/accept", token=person["token"]
        )

    async def do(self, slot: Any, verb: str, body: Any = None) -> Any:
        return await self.call("POST", f"/api/slots/{slot['id']}/{verb}", body)

    async def schedule(self) -> dict[str, Any]:
        slots = (await self.call("GET", "/api/events/show/schedule"))["slots"]
        return {slot["title"]: slot for slot in slots}

    async def notifications(self, person: Any) -> list[Any]:
        found: list[Any] = await self.call("GET", "/api/me/notifications", token=person["token"])
        return found


@pytest.fixture
async def show(server: Server) -> Any:
    async with plain_http.AsyncClient(base_url=server.url, timeout=30) as client:
        yield Show(client, server)


async def changes_until(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [await recv(ws, 30) for _ in range(count)]


async def test_a_live_slot_runs_late_ends_early_the_rest_is_pulled_forward_and_undone(
    server: Server, show: Show
) -> None:
    await show.event()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first = await show.slot("First", now - timedelta(minutes=5), now + timedelta(minutes=25))
    second = await show.slot("Second", now + timedelta(minutes=25), now + timedelta(minutes=55))
    third = await show.slot("Third", now + timedelta(minutes=55), now + timedelta(minutes=85))
    dropped = await show.slot("Dropped", now + timedelta(minutes=100), now + timedelta(hours=2))
    async with connect(ws_url(server, "/ws/events/show")) as viewer:
        snapshot = await recv(viewer)
        on_air = await show.do(first, "live")
        late = await show.do(first, "delay", {"minutes": 10})
        assert [m["id"] for m in late["moved"]] == [first["id"], second["id"], third["id"]]
        assert late["moved"][0]["starts_at"] == late["moved"][0]["previous_starts_at"]
        ended = await show.do(first, "end")
        assert ended["ends_at"] == ended["actual_ended_at"]  # gave back the rest of its time
        preview = await show.do(second, "delay", {"minutes": -45, "dry_run": True})
        pulled = await show.do(second, "delay", {"minutes": -45, "seq": preview["seq"]})
        # The rest of the channel comes forward with it, gaps kept.
        assert pulled["moved"] == preview["moved"]
        assert [m["id"] for m in pulled["moved"]] == [second["id"], third["id"], dropped["id"]]
        assert when(pulled["moved"][0]["starts_at"]) >= when(ended["actual_ended_at"])
        assert when(pulled["moved"][0]["starts_at"]) >= datetime.now(UTC) - timedelta(minutes=1)
        reopened = await show.do(first, "reopen")
        assert when(reopened["ends_at"]) <= when(pulled["moved"][0]["starts_at"])
        await show.do(first, "end")
        await show.do(dropped, "cancel")
        restored = await show.do(dropped, "restore")
        seen = await changes_until(viewer, 12)
    assert [(m["type"], m.get("reopened"), m.get("restored")) for m in seen] == [
        ("slot.live", None, None),
        *[("slot.rescheduled", None, None)] * 3,
        ("slot.ended", None, None),
        *[("slot.rescheduled", None, None)] * 3,
        ("slot.live", True, None),
        ("slot.ended", None, None),
        ("slot.cancelled", None, None),
        ("slot.updated", None, True),
    ]
    assert [m["seq"] for m in seen] == list(range(snapshot["seq"] + 1, snapshot["seq"] + 13))
    final = await show.schedule()
    done = final["First"]
    assert done["status"] == "ended" and done["actual_started_at"] == on_air["actual_started_at"]
    assert done["starts_at"] == first["starts_at"]  # a live slot's start never moved
    assert final["Dropped"]["status"] == restored["status"] == "scheduled"
    held = sorted(
        (when(s["starts_at"]), when(s["ends_at"]))
        for s in final.values()
        if s["status"] != "cancelled"
    )
    assert all(a[1] <= b[0] for a, b in zip(held, held[1:], strict=False)), held


async def test_a_busy_channel_gets_standby_at_the_start_and_go_live_when_it_frees(
    db_url: str, tmp_path: Path
) -> None:
    env = server_env(db_url)
    token = issue_host_token(env, tmp_path)
    process, url = start_server(env, tmp_path)
    server = Server(url, token, env)
    try:
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            show = Show(client, server)
            await show.event()
            start = soon(5)
            running = await show.slot("Running over", start - timedelta(minutes=20), start)
            mine = await show.slot("Mine", start, start + timedelta(minutes=20))
            ana = await show.person("ana")
            await show.confirm(mine, ana)
            await show.do(running, "live")
            async with connect(ws_url(server, f"/ws/me?token={ana['token']}")) as ws:
                invited = await recv(ws, 30)
                standby = await recv(ws, 30)  # at the start: the channel is still busy
                assert datetime.now(UTC) >= when(mine["starts_at"])
                assert not await _arrives(ws, 1.5)  # no "you're on" while it stays busy
                await show.do(running, "end")
                go_live = await recv(ws, 30)
            told = [n["kind"] for n in await show.notifications(ana)]
        stop_server(process)
        process, url = start_server(env, tmp_path, port=int(url.rsplit(":", 1)[1]))
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            await asyncio.sleep(1.5)  # the restarted scheduler re-arms from the database
            after_restart = [n["kind"] for n in await Show(client, server).notifications(ana)]
    finally:
        stop_server(process)
    assert [invited["kind"], standby["kind"], go_live["kind"]] == [
        "booking.invited",
        "standby",
        "go_live",
    ]
    assert when(standby["expected_start"]) >= when(mine["starts_at"])
    assert standby["slot"]["id"] == go_live["slot"]["id"] == mine["id"]
    assert when(go_live["at"]) > when(standby["at"])
    assert told == after_restart == ["booking.invited", "standby", "go_live"]


async def _arrives(ws: ClientConnection, wait: float) -> bool:
    try:
        await recv(ws, wait)
    except TimeoutError:
        return False
    return True


async def test_a_removed_booking_reaches_the_person_live_in_their_list_and_their_feed(
    server: Server, show: Show
) -> None:
    await show.event()
    slot = await show.slot("Taken off", soon(3600), soon(5400))
    ana = await show.person("ana")
    booking = await show.confirm(slot, ana)
    async with connect(ws_url(server, f"/ws/me?token={ana['token']}")) as ws:
        assert (await recv(ws))["kind"] == "booking.invited"
        await show.call("DELETE", f"/api/bookings/{booking['id']}", status=204)
        removed = await recv(ws, 30)
    assert (removed["kind"], removed["booking_id"], removed["slot"]["id"]) == (
        "booking.removed",
        booking["id"],
        slot["id"],
    )
    assert [n["kind"] for n in await show.notifications(ana)] == [
        "booking.invited",
        "booking.removed",
    ]
    feed = (await show.client.get(httpx.URL(ana["feed_url"]).raw_path.decode())).text
    (event,) = icalendar.Calendar.from_ical(feed).walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED" and str(event["UID"]).startswith(slot["id"])


async def test_a_decline_reaches_the_hosts_stream_without_naming_the_person(
    server: Server, show: Show
) -> None:
    await show.event()
    slot = await show.slot("Asked", soon(3600), soon(5400))
    ana = await show.person("ana")
    async with connect(ws_url(server, "/ws/events/show")) as stream:
        await recv(stream)  # the snapshot
        booking = await show.invite(slot, ana)
        await show.call("POST", f"/api/bookings/{booking['id']}/decline", token=ana["token"])
        declined = await recv(stream, 30)
    assert declined["type"] == "booking.declined"
    assert declined["booking"]["id"] == booking["id"] and "person" not in declined["booking"]
    assert "Ana" not in str(declined) and ana["id"] not in str(declined)
    rows = await show.call("GET", "/api/events/show/readiness")
    (entry,) = [row for row in rows if row["id"] == slot["id"]]
    assert [(p["person"]["name"], p["booking_status"]) for p in entry["people"]] == [
        ("Ana", "declined")
    ]
