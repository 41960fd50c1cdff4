"""Helpers the API tests share on top of ``tests/helpers.py``: reads and answers through the API."""

from __future__ import annotations

from typing import Any

from tests.helpers import Client, auth, book, make_channel, make_event, make_person, make_slot, ok


def kinds(response: Any) -> list[str]:
    """The conflict kinds of a 409 answer, in order."""
    assert response.status_code == 409, (response.status_code, response.text)
    return [conflict["kind"] for conflict in response.json()["extra"]]


def headers_of(token: str | None) -> dict[str, str]:
    return auth(token) if token else {}


async def schedule(client: Client, token: str | None = None, event: str = "tam") -> Any:
    """The event's schedule as the caller sees it (anonymous when ``token`` is None)."""
    return await ok(await client.get(f"/api/events/{event}/schedule", headers=headers_of(token)))


async def changes(
    client: Client, token: str | None = None, event: str = "tam", since: int = 0
) -> Any:
    path = f"/api/events/{event}/changes?since={since}"
    return await ok(await client.get(path, headers=headers_of(token)))


async def last_seq(client: Client, token: str, event: str = "tam") -> int:
    response = await client.get(f"/api/events/{event}", headers=auth(token))
    seq: int = (await ok(response))["last_seq"]
    return seq


async def answer(client: Client, token: str, booking_id: str, verb: str = "accept") -> Any:
    """POST accept or decline for a booking; the raw response."""
    return await client.post(f"/api/bookings/{booking_id}/{verb}", headers=auth(token))


async def patch_slot(client: Client, token: str, slot_id: str, **fields: Any) -> Any:
    """PATCH a slot; the raw response."""
    return await client.patch(f"/api/slots/{slot_id}", json=fields, headers=auth(token))


async def invite(client: Client, token: str, slot_id: str, person: Any) -> Any:
    """Book a person into a slot and expect 201; the booking."""
    return await ok(await book(client, token, slot_id, person), 201)


async def confirmed(client: Client, token: str, slot_id: str, person: Any) -> Any:
    """Book a person and let them accept; the confirmed booking."""
    booking = await invite(client, token, slot_id, person)
    return await ok(await answer(client, person["token"], booking["id"]))


async def event_with_channels(
    client: Client,
    token: str,
    slug: str = "tam",
    channels: tuple[str, ...] = ("main",),
    **fields: Any,
) -> Any:
    """A draft event with the given channels."""
    event = await make_event(client, token, slug, **fields)
    for channel in channels:
        await make_channel(client, token, slug, channel)
    return event


async def slot_with_person(
    client: Client, token: str, start: str, end: str, handle: str = "ana", **slot_fields: Any
) -> tuple[Any, Any]:
    """A slot on the "main" channel of "tam" and a creator; nobody is booked yet."""
    slot = await make_slot(client, token, start, end, **slot_fields)
    person = await make_person(client, token, handle)
    return slot, person
