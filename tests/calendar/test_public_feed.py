"""``GET /events/{slug}/calendar.ics``: a published event's slots, for anyone to subscribe to."""

from __future__ import annotations

import re
from datetime import datetime

import icalendar
from litestar.testing import AsyncTestClient

from takeamoment.app import create_app
from takeamoment.settings import Settings
from tests.api.builders import changes, confirmed, event_with_channels, patch_slot
from tests.calendar.builders import (
    EMAIL,
    Festival,
    cancel_slot,
    feed_text,
    fetch_feed,
    path_of,
    z,
)
from tests.calendar.readers import content_lines
from tests.helpers import Client, at, make_person, make_slot, ok, publish


def vevents(text: str) -> dict[str, icalendar.Event]:
    """The feed's VEVENTs by slot id (the UID's part before the first dot or @)."""
    events = icalendar.Calendar.from_ical(text).walk("VEVENT")
    return {re.split(r"[.@]", str(e["UID"]))[0]: e for e in events}


def to_second(iso: str) -> datetime:
    """An API time as the feed writes it: to the whole second."""
    return datetime.fromisoformat(iso).replace(microsecond=0)


async def last_change_at(client: Client, slot_id: str) -> datetime:
    """When the change log last named the slot, to the second: the slot's DTSTAMP."""
    ats = [c["at"] for c in await changes(client) if c.get("slot", {}).get("id") == slot_id]
    return to_second(ats[-1])


async def test_a_draft_an_unknown_event_or_an_unknown_channel_has_no_feed(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    await make_slot(client, host_token, at(10), at(11))
    assert (await client.get("/events/tam/calendar.ics")).status_code == 404
    assert (await client.get("/events/nope/calendar.ics")).status_code == 404
    await publish(client, host_token)
    assert (await client.get("/events/tam/calendar.ics")).status_code == 200
    assert (await client.get("/events/tam/calendar.ics?channel=nope")).status_code == 404
    for bad in ("channel=%00", "tag=%0A", "tag=" + "x" * 65, "tag="):
        assert (await client.get(f"/events/tam/calendar.ics?{bad}")).status_code == 400, bad


async def test_the_feed_is_a_calendar_with_validators_and_cache_headers(
    client: Client, festival: Festival
) -> None:
    response = await fetch_feed(client, "/events/tam/calendar.ics")
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])
    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["last-modified"].endswith(" GMT")
    assert response.content.endswith(b"END:VCALENDAR\r\n")


async def test_the_calendar_names_itself_its_source_and_its_refresh_interval(
    client: Client, festival: Festival
) -> None:
    path = "/events/tam/calendar.ics?tag=Calm&channel=garden"
    lines = content_lines((await fetch_feed(client, path)).content)
    for expected in (
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "NAME:Take A Moment (Garden\\, #calm)",
        "X-WR-CALNAME:Take A Moment (Garden\\, #calm)",
        "SOURCE:http://testserver/events/tam/calendar.ics?channel=garden&tag=calm",
        "URL:http://testserver/events/tam",
        "REFRESH-INTERVAL;VALUE=DURATION:PT15M",
        "X-PUBLISHED-TTL:PT15M",
    ):
        assert expected in lines, expected


async def test_the_feed_has_one_vtimezone_for_the_event_zone_in_rrule_form(
    client: Client, festival: Festival
) -> None:
    lines = content_lines((await fetch_feed(client, "/events/tam/calendar.ics")).content)
    assert [line for line in lines if line.startswith("TZID:")] == ["TZID:Europe/London"]
    assert {"BEGIN:STANDARD", "BEGIN:DAYLIGHT"} <= set(lines)
    assert [line for line in lines if line.startswith("RRULE:")] == [
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
    ]
    assert not [line for line in lines if line.startswith("RDATE")]


async def test_a_slot_links_to_the_event_page_and_shows_confirmed_people_hashtags_and_help(
    client: Client, festival: Festival
) -> None:
    events = vevents(await feed_text(client, "/events/tam/calendar.ics"))
    calm = events[festival.slots["calm"]["id"]]
    assert str(calm["URL"]) == f"http://testserver/events/tam#slot-{festival.slots['calm']['id']}"
    description = str(calm["DESCRIPTION"])
    assert description.startswith("Bring a cushion.\nAnd water.\n\n")
    assert "With Ana (@ana, creator)" in description
    assert "#MentalHealth #SelfCare" in description
    assert (
        "Samaritans (UK and Ireland): 116 123. All helplines: http://testserver/events/tam#help"
        in description
    )
    # cy declined and ana is only invited to "repeat": neither shows in public.
    assert "Cy" not in description
    assert "@ana" not in str(events[festival.slots["repeat"]["id"]]["DESCRIPTION"])
    assert "Bo (@bo, therapist)" in str(events[festival.slots["night"]["id"]]["DESCRIPTION"])


async def test_public_feeds_never_carry_emails_licences_or_tokens(
    client: Client, host_token: str, festival: Festival
) -> None:
    secrets = [EMAIL, "cy@example.org", "LIC-1", "HCPC", host_token]
    for person in (festival.ana, festival.bo, festival.cy):
        secrets += [person["token"], path_of(person["feed_url"]).split("/")[-1][:-4]]
    for path in ("/events/tam/calendar.ics", "/events/kol/calendar.ics?channel=main"):
        text = await feed_text(client, path)
        unfolded = "\n".join(content_lines(text.encode()))
        assert [s for s in secrets if s in unfolded] == []
        assert "VALARM" not in text and "Your booking" not in text


async def test_a_move_bumps_sequence_and_stamp_and_keeps_the_uid(
    client: Client, host_token: str, festival: Festival
) -> None:
    calm_id, night_id = festival.slots["calm"]["id"], festival.slots["night"]["id"]
    before = vevents(await feed_text(client, "/events/tam/calendar.ics"))
    patch = {"starts_at": z("26T12:00"), "ends_at": z("26T13:00")}
    moved = await ok(await patch_slot(client, host_token, calm_id, **patch))
    after = vevents(await feed_text(client, "/events/tam/calendar.ics"))

    assert str(after[calm_id]["UID"]) == str(before[calm_id]["UID"]) == f"{calm_id}@testserver"
    assert (before[calm_id]["SEQUENCE"], after[calm_id]["SEQUENCE"], moved["sequence"]) == (0, 1, 1)
    assert after[calm_id].decoded("DTSTART") == datetime.fromisoformat(moved["starts_at"])
    assert after[calm_id].decoded("DTSTAMP") == await last_change_at(client, calm_id)
    assert after[calm_id].decoded("DTSTAMP") >= to_second(moved["updated_at"])
    assert after[calm_id].decoded("LAST-MODIFIED") == after[calm_id].decoded("DTSTAMP")
    # The other slots did not change: neither did their stamps.
    assert after[night_id].to_ical() == before[night_id].to_ical()


async def test_a_new_title_keeps_the_sequence_but_moves_the_stamp(
    client: Client, host_token: str, festival: Festival
) -> None:
    calm_id = festival.slots["calm"]["id"]
    before = vevents(await feed_text(client, "/events/tam/calendar.ics"))[calm_id]
    changed = await ok(await patch_slot(client, host_token, calm_id, title="Breathe again"))
    after = vevents(await feed_text(client, "/events/tam/calendar.ics"))[calm_id]
    assert (str(after["SUMMARY"]), after["SEQUENCE"]) == ("Breathe again", before["SEQUENCE"])
    assert after.decoded("DTSTAMP") == await last_change_at(client, calm_id)
    assert after.decoded("DTSTAMP") >= to_second(changed["updated_at"])


async def test_a_cancelled_slot_stays_in_the_feed_as_cancelled(
    client: Client, host_token: str
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(10), at(11))
    await publish(client, host_token)
    await cancel_slot(client, host_token, slot["id"])
    event = vevents(await feed_text(client, "/events/tam/calendar.ics"))[slot["id"]]
    assert (str(event["STATUS"]), event["SEQUENCE"]) == ("CANCELLED", 1)


async def test_a_confirmed_booking_shows_in_the_slot_and_moves_its_stamp(
    client: Client, host_token: str, festival: Festival
) -> None:
    repeat_id = festival.slots["repeat"]["id"]
    before = vevents(await feed_text(client, "/events/tam/calendar.ics"))[repeat_id]
    dee = await make_person(client, host_token, "dee")
    await confirmed(client, host_token, repeat_id, dee)
    after = vevents(await feed_text(client, "/events/tam/calendar.ics"))[repeat_id]
    assert "Dee (@dee, creator)" in str(after["DESCRIPTION"])
    stamp = after.decoded("DTSTAMP")
    assert stamp == await last_change_at(client, repeat_id) >= before.decoded("DTSTAMP")
    assert after["SEQUENCE"] == before["SEQUENCE"]


async def test_the_bytes_depend_only_on_the_schedule_not_on_the_process_or_the_clock(
    client: Client, settings: Settings, festival: Festival
) -> None:
    first = await fetch_feed(client, "/events/tam/calendar.ics")
    # Another application instance: a cold cache, a later clock, the same database.
    async with AsyncTestClient(app=create_app(settings)) as other:
        second = await fetch_feed(other, "/events/tam/calendar.ics")
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["last-modified"] == first.headers["last-modified"]
