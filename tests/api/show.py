"""Helpers for the run-of-show tests: an event around the present moment, and slot commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import Client, auth, make_channel, ok

SLUG = "now"


def minutes_from_now(minutes: float) -> datetime:
    """Whole minutes from now, so that times compare cleanly with what the API answers."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now + timedelta(minutes=minutes)


async def event_around_now(client: Client, token: str, **fields: Any) -> Any:
    """A published event running from three hours ago to six hours ahead, one channel "main"."""
    body = {
        "slug": SLUG,
        "title": "Now",
        "timezone": "Europe/London",
        "starts_at": minutes_from_now(-180).isoformat(),
        "ends_at": minutes_from_now(360).isoformat(),
        "changeover_minutes": 0,
        **fields,
    }
    event = await ok(await client.post("/api/events", json=body, headers=auth(token)), 201)
    await make_channel(client, token, SLUG, "main")
    await ok(await client.post(f"/api/events/{SLUG}/publish", headers=auth(token)))
    return event


async def slot_at(
    client: Client, token: str, start: float, end: float, title: str = "Session", **fields: Any
) -> Any:
    """A slot of the "now" event from ``start`` to ``end`` minutes from now."""
    body = {
        "channel": "main",
        "title": title,
        "starts_at": minutes_from_now(start).isoformat(),
        "ends_at": minutes_from_now(end).isoformat(),
        **fields,
    }
    response = await client.post(f"/api/events/{SLUG}/slots", json=body, headers=auth(token))
    return await ok(response, 201)


async def run(client: Client, token: str, slot_id: str, verb: str, body: Any = None) -> Any:
    """POST a slot command (live, end, cancel, reopen, restore); the raw response."""
    return await client.post(f"/api/slots/{slot_id}/{verb}", json=body, headers=auth(token))


async def delay(client: Client, token: str, slot_id: str, minutes: int, **flags: Any) -> Any:
    body = {"minutes": minutes, **flags}
    return await client.post(f"/api/slots/{slot_id}/delay", json=body, headers=auth(token))


async def listed(client: Client, slot_id: str, token: str | None = None) -> Any:
    """The slot as the schedule lists it (anonymous unless ``token``)."""
    headers = auth(token) if token else {}
    schedule = await ok(await client.get(f"/api/events/{SLUG}/schedule", headers=headers))
    return next(slot for slot in schedule["slots"] if slot["id"] == slot_id)


async def kinds_of(client: Client, person: Any) -> list[str]:
    """The kinds of the person's notifications, oldest first."""
    found = await ok(await client.get("/api/me/notifications", headers=auth(person["token"])))
    return [n["kind"] for n in found]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)
