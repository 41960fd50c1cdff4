"""Small helpers that build state through the public HTTP API, as a host would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

# A fixed World Mental Health Day, far enough ahead that nothing is "in the past".
DAY = datetime(2030, 10, 10, tzinfo=UTC)

Client = AsyncTestClient  # type: ignore[type-arg]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def at(hour: int, minute: int = 0, day: datetime = DAY) -> str:
    return (day + timedelta(hours=hour, minutes=minute)).isoformat()


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


async def make_event(client: Client, token: str, slug: str = "tam", **fields: Any) -> Any:
    body = {
        "slug": slug,
        "title": "Take A Moment",
        "timezone": "Europe/London",
        "starts_at": at(0),
        "ends_at": at(23),
        **fields,
    }
    return await ok(await client.post("/api/events", json=body, headers=auth(token)), 201)


async def publish(client: Client, token: str, slug: str = "tam") -> Any:
    return await ok(await client.post(f"/api/events/{slug}/publish", headers=auth(token)))


async def make_channel(client: Client, token: str, event: str = "tam", slug: str = "main") -> Any:
    body = {"slug": slug, "name": slug.title()}
    response = await client.post(f"/api/events/{event}/channels", json=body, headers=auth(token))
    return await ok(response, 201)


async def make_slot(
    client: Client,
    token: str,
    start: str,
    end: str,
    *,
    event: str = "tam",
    channel: str = "main",
    title: str = "Session",
    **fields: Any,
) -> Any:
    body = {"channel": channel, "title": title, "starts_at": start, "ends_at": end, **fields}
    response = await client.post(f"/api/events/{event}/slots", json=body, headers=auth(token))
    return await ok(response, 201)


async def make_person(
    client: Client, token: str, handle: str, role: str = "creator", **fields: Any
) -> Any:
    body = {"name": handle.title(), "handle": handle, "role": role, **fields}
    return await ok(await client.post("/api/people", json=body, headers=auth(token)), 201)


async def make_therapist(
    client: Client, token: str, handle: str, expires_on: str = "2031-12-31"
) -> Any:
    licence = {"number": "LIC-1", "issuer": "HCPC", "jurisdiction": "UK", "expires_on": expires_on}
    person = await make_person(client, token, handle, "therapist", license=licence)
    path = f"/api/people/{person['id']}/license/verify"
    await ok(await client.post(path, headers=auth(token)))
    return person


async def book(client: Client, token: str, slot_id: str, person: Any) -> Any:
    body = {"person_id": person["id"], "role": person["role"]}
    return await client.post(f"/api/slots/{slot_id}/bookings", json=body, headers=auth(token))
