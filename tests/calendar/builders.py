"""A small festival built through the API, and helpers to fetch and read its feeds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tests.api.builders import answer, confirmed, event_with_channels, invite, schedule
from tests.helpers import (
    Client,
    auth,
    make_channel,
    make_event,
    make_person,
    make_slot,
    make_therapist,
    ok,
    publish,
)

CALENDAR_TYPE = "text/calendar; charset=utf-8"
EMAIL = "ana@example.org"
SAFETY = {
    "name": "Samaritans",
    "phone": "116 123",
    "url": "https://www.samaritans.org",
    "region": "UK and Ireland",
    "description": "Free, any time.",
}


def z(text: str) -> str:
    """A UTC time on the night London's clocks go back (27 October 2030, 01:00 UTC)."""
    return datetime.fromisoformat(f"2030-10-{text}+00:00").astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Festival:
    """Two published events and three people; ``slots`` by nickname."""

    slots: dict[str, Any]
    ana: Any  # creator: confirmed in "calm" and "kolkata", invited to "repeat" and "dropped"
    # ("dropped" is cancelled afterwards, which releases her booking)
    bo: Any  # therapist: confirmed in "night"
    cy: Any  # creator: invited to "calm", then declined


async def build_festival(client: Client, token: str) -> Festival:
    """ "tam" (Europe/London, across the clocks going back) and "kol" (Asia/Kolkata)."""
    await event_with_channels(
        client,
        token,
        "tam",
        ("main", "garden"),
        starts_at=z("26T00:00"),
        ends_at=z("28T00:00"),
        description="A day and a night of live sessions.",
        hashtags=["#MentalHealth", "SelfCare"],
        safety_resources=[SAFETY],
        reminder_minutes=[5, 15],
    )
    slots = {
        "calm": await make_slot(
            client,
            token,
            z("26T10:00"),
            z("26T11:00"),
            title="Breathe; slowly, together",
            description="Bring a cushion.\nAnd water.",
            tags=["calm", "Q&A"],
        ),
        # 00:30 BST to 03:00 GMT: three and a half hours across the change.
        "night": await make_slot(
            client, token, z("26T23:30"), z("27T03:00"), title="Night owls", tags=["night"]
        ),
        # 01:15 GMT, the second time 01:15 happens in London that night.
        "repeat": await make_slot(
            client, token, z("27T01:15"), z("27T01:45"), channel="garden", tags=["calm"]
        ),
        "dropped": await make_slot(
            client, token, z("27T10:00"), z("27T11:00"), channel="garden", title="Dropped"
        ),
    }
    await make_event(
        client,
        token,
        "kol",
        timezone="Asia/Kolkata",
        starts_at="2030-11-01T00:00:00+00:00",
        ends_at="2030-11-02T00:00:00+00:00",
    )
    await make_channel(client, token, "kol", "main")
    slots["kolkata"] = await make_slot(
        client, token, "2030-11-01T04:30:00+00:00", "2030-11-01T05:30:00+00:00", event="kol"
    )
    ana = await make_person(client, token, "ana", email=EMAIL, timezone="Europe/London")
    bo = await make_therapist(client, token, "bo")
    cy = await make_person(client, token, "cy", email="cy@example.org")
    await confirmed(client, token, slots["calm"]["id"], ana)
    await confirmed(client, token, slots["kolkata"]["id"], ana)
    await invite(client, token, slots["repeat"]["id"], ana)
    await invite(client, token, slots["dropped"]["id"], ana)
    await confirmed(client, token, slots["night"]["id"], bo)
    declined = await invite(client, token, slots["calm"]["id"], cy)
    await ok(await answer(client, cy["token"], declined["id"], "decline"))
    await publish(client, token, "tam")
    await publish(client, token, "kol")
    await cancel_slot(client, token, slots["dropped"]["id"])
    return Festival(slots, ana, bo, cy)


async def cancel_slot(client: Client, token: str, slot_id: str) -> Any:
    """``POST /api/slots/{id}/cancel``; the cancelled slot."""
    return await ok(await client.post(f"/api/slots/{slot_id}/cancel", headers=auth(token)))


def path_of(url: str) -> str:
    """The path (and query) of an absolute URL the API gave, to request through the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def fetch_feed(client: Client, path: str, **headers: str) -> Any:
    """GET a feed and expect a 200 calendar; the response."""
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["content-type"] == CALENDAR_TYPE
    return response


async def feed_text(client: Client, path: str) -> str:
    text: str = (await fetch_feed(client, path)).text
    return text


async def public_slots(client: Client, event: str = "tam") -> list[Any]:
    slots: list[Any] = (await schedule(client, None, event))["slots"]
    return slots


async def host_slots(client: Client, token: str, *events: str) -> list[Any]:
    return [slot for event in events for slot in (await schedule(client, token, event))["slots"]]
