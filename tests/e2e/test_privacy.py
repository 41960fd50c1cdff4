"""Nothing private leaves through a public door: a sweep of every public output of a real server.

The event below has a creator and a therapist with emails, a licence number, bearer tokens and
feed tokens. After a run of host actions (booking, accepting, moving, going live, rotating a feed
token), every public HTTP route, page, feed and the public WebSocket stream is read, and none of
those secrets — nor their SHA-256 hashes, which are what the database keeps — may appear.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests import plain_http
from tests.conftest import ONE_BACKEND
from tests.e2e.conftest import Server
from tests.helpers import at

pytestmark = [ONE_BACKEND, pytest.mark.slow]  # which fields public output carries

EMAILS = ("ana.private@example.org", "tom.private@example.org")
LICENCE_NUMBER = "LIC-PRIVATE-93731"


class Show:
    """The event under test, built through the public API by its host."""

    def __init__(self, client: httpx.AsyncClient, server: Server) -> None:
        self.client, self.server = client, server
        self.secrets: set[str] = set(EMAILS) | {LICENCE_NUMBER, server.host_token}
        self.people: list[dict[str, Any]] = []

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.client.request(method, path, json=body, headers=self.server.headers())
        assert response.status_code in (200, 201, 204), response.text
        return response.json() if response.content else None

    def keep_secret(self, person: dict[str, Any]) -> None:
        feed_token = person["feed_url"].rsplit("/", 1)[-1].removesuffix(".ics")
        self.secrets |= {person["token"], feed_token}

    async def build(self) -> list[str]:
        await self.call(
            "POST",
            "/api/events",
            {"slug": "priv", "title": "Private", "timezone": "Europe/London",
             "starts_at": at(0), "ends_at": at(23)},
        )  # fmt: skip
        await self.call("POST", "/api/events/priv/channels", {"slug": "main", "name": "Main"})
        await self.call("POST", "/api/events/priv/publish")
        creator = await self.call(
            "POST",
            "/api/people",
            {"name": "Ana", "handle": "ana", "role": "creator", "email": EMAILS[0]},
        )
        licence = {
            "number": LICENCE_NUMBER,
            "issuer": "HCPC",
            "jurisdiction": "UK",
            "expires_on": "2031-12-31",
        }
        therapist = await self.call(
            "POST",
            "/api/people",
            {"name": "Tom", "handle": "tom", "role": "therapist", "email": EMAILS[1],
             "license": licence},
        )  # fmt: skip
        for person in (creator, therapist):
            self.keep_secret(person)
        self.people = [creator, therapist]
        await self.call("POST", f"/api/people/{therapist['id']}/license/verify")
        return [await self.slot(hour) for hour in (10, 12, 14)]

    async def slot(self, hour: int) -> str:
        body = {"channel": "main", "title": f"At {hour}", "starts_at": at(hour),
                "ends_at": at(hour + 1), "tags": ["tips"]}  # fmt: skip
        slot: dict[str, Any] = await self.call("POST", "/api/events/priv/slots", body)
        return str(slot["id"])

    async def run_the_show(self, slot_ids: list[str]) -> None:
        """Host actions whose public traces must stay free of private fields."""
        for person, slot_id in zip(self.people, slot_ids, strict=False):
            booking = await self.call(
                "POST",
                f"/api/slots/{slot_id}/bookings",
                {"person_id": person["id"], "role": person["role"]},
            )
            await self.call("POST", f"/api/bookings/{booking['id']}/accept")
        await self.call("PATCH", f"/api/slots/{slot_ids[2]}", {"title": "Moved"})
        await self.call("POST", f"/api/slots/{slot_ids[0]}/delay", {"minutes": 10})
        await self.call("POST", f"/api/slots/{slot_ids[0]}/live", {"early": True})
        rotated = await self.call("POST", f"/api/people/{self.people[0]['id']}/feed-token/rotate")
        self.keep_secret({"token": self.people[0]["token"], "feed_url": rotated["feed_url"]})

    def forbidden_strings(self) -> set[str]:
        hashes = {hashlib.sha256(secret.encode()).hexdigest() for secret in self.secrets}
        return self.secrets | hashes


def assert_carries_no_secret(where: str, text: str, secrets: set[str]) -> None:
    leaked = sorted(secret for secret in secrets if secret in text)
    assert not leaked, f"{where} carries private data: {leaked}"


@pytest.fixture
async def show(server: Server) -> AsyncIterator[Show]:
    async with plain_http.AsyncClient(base_url=server.url, timeout=30) as client:
        yield Show(client, server)


async def read_stream(ws: ClientConnection, until_seq: int) -> list[str]:
    messages: list[str] = []
    while True:
        raw = str(await asyncio.wait_for(ws.recv(), 10))
        messages.append(raw)
        if json.loads(raw)["seq"] >= until_seq:
            return messages


async def test_no_public_route_page_feed_or_stream_carries_a_private_field(
    server: Server, show: Show
) -> None:
    slot_ids = await show.build()
    ws_base = server.url.replace("http://", "ws://")
    async with connect(f"{ws_base}/ws/events/priv") as viewer:
        snapshot = str(await asyncio.wait_for(viewer.recv(), 10))
        await show.run_the_show(slot_ids)
        changes = (await show.client.get("/api/events/priv/changes")).json()
        live_messages = await read_stream(viewer, until_seq=changes[-1]["seq"])
    async with connect(f"{ws_base}/ws/events/priv?since=0") as replaying:
        replayed = await read_stream(replaying, until_seq=changes[-1]["seq"])

    anonymous = plain_http.AsyncClient(base_url=server.url, timeout=30)
    async with anonymous:
        outputs = {
            path: (await anonymous.get(path)).text
            for path in (
                "/",
                "/events/priv",
                "/api/events",
                "/api/events/priv",
                "/api/events/priv/schedule",
                "/api/events/priv/changes?since=0",
                "/events/priv/calendar.ics",
                "/events/priv/calendar.ics?channel=main",
                "/events/priv/calendar.ics?tag=tips",
                f"/api/people/{show.people[0]['id']}",
                "/api/me/notifications",
            )
        }
        for slot_id in slot_ids:  # each session's page and its one-slot calendar
            for path in (
                f"/events/priv/sessions/{slot_id}",
                f"/events/priv/sessions/{slot_id}.ics",
            ):
                outputs[path] = (await anonymous.get(path)).text
    outputs["the live stream"] = "\n".join([snapshot, *live_messages])
    outputs["the replayed stream"] = "\n".join(replayed)

    secrets = show.forbidden_strings()
    for where, text in outputs.items():
        assert_carries_no_secret(where, text, secrets)
    assert "Ana" in outputs["/api/events/priv/schedule"]  # the sweep did read real content
    assert "Ana" in outputs[f"/events/priv/sessions/{slot_ids[0]}"]


async def test_a_person_s_own_feed_names_colleagues_but_none_of_their_private_fields(
    server: Server, show: Show
) -> None:
    slot_ids = await show.build()
    await show.run_the_show(slot_ids)
    creator, therapist = show.people
    # Both people on one slot, so each one's feed lists the other.
    booking = await show.call(
        "POST",
        f"/api/slots/{slot_ids[2]}/bookings",
        {"person_id": therapist["id"], "role": "therapist"},
    )
    await show.call("POST", f"/api/bookings/{booking['id']}/accept")

    feed = await show.client.get(httpx.URL(therapist["feed_url"]).path)
    assert feed.status_code == 200
    assert "Tom" in feed.text
    colleague_secrets = {EMAILS[0], creator["token"], LICENCE_NUMBER, therapist["token"]}
    assert_carries_no_secret("the therapist's own feed", feed.text, colleague_secrets)
