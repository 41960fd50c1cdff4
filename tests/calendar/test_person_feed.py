"""``GET /feeds/{feed_token}.ics``: a person's own bookings, with reminders, behind a secret URL."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import icalendar
import pytest

from tests.calendar.builders import (
    EMAIL,
    Festival,
    feed_text,
    fetch_feed,
    path_of,
)
from tests.calendar.readers import content_lines, read_everywhere
from tests.helpers import Client, auth, make_person, ok


def by_slot(text: str) -> dict[str, icalendar.Event]:
    events = icalendar.Calendar.from_ical(text).walk("VEVENT")
    return {str(e["UID"]).split(".")[0]: e for e in events}


async def rotate(client: Client, token: str, person: Any) -> str:
    path = f"/api/people/{person['id']}/feed-token/rotate"
    feed_url: str = (await ok(await client.post(path, headers=auth(token))))["feed_url"]
    return feed_url


async def test_the_feed_holds_the_persons_bookings_across_events_only(
    client: Client, festival: Festival
) -> None:
    events = by_slot(await feed_text(client, path_of(festival.ana["feed_url"])))
    names = ("calm", "kolkata", "repeat", "dropped")
    assert set(events) == {festival.slots[name]["id"] for name in names}
    assert by_slot(await feed_text(client, path_of(festival.cy["feed_url"]))) == {}  # declined


async def test_each_booking_carries_its_status_role_and_an_alarm_per_reminder(
    client: Client, festival: Festival
) -> None:
    text = await feed_text(client, path_of(festival.ana["feed_url"]))
    events, read = by_slot(text), read_everywhere(text)
    calm, repeat = events[festival.slots["calm"]["id"]], events[festival.slots["repeat"]["id"]]
    assert str(calm["DESCRIPTION"]).startswith("Your booking: confirmed, as creator.\n")
    assert str(repeat["DESCRIPTION"]).startswith(
        "Your booking: invited, as creator.\nPlease accept or decline it in takeamoment.\n"
    )
    assert "Changeover: 5 minutes" in str(calm["DESCRIPTION"])
    alarms = read[str(calm["UID"])].alarms
    assert alarms == (timedelta(minutes=-15), timedelta(minutes=-5))
    for alarm in calm.walk("VALARM"):
        assert str(alarm["ACTION"]) == "DISPLAY"
        assert str(alarm["DESCRIPTION"]).startswith("Breathe; slowly, together starts in")
    assert str(calm["CLASS"]) == "PRIVATE"


async def test_a_cancelled_slot_stays_in_the_feed_of_those_it_released_without_alarms(
    client: Client, festival: Festival
) -> None:
    events = by_slot(await feed_text(client, path_of(festival.ana["feed_url"])))
    dropped = events[festival.slots["dropped"]["id"]]
    assert (str(dropped["STATUS"]), dropped["SEQUENCE"]) == ("CANCELLED", 1)
    assert str(dropped["DESCRIPTION"]).startswith("Your booking: cancelled, as creator.\n")
    assert dropped.walk("VALARM") == []


async def test_the_feed_shows_who_else_is_on_but_no_one_s_private_details(
    client: Client, host_token: str, festival: Festival
) -> None:
    text = await feed_text(client, path_of(festival.bo["feed_url"]))
    unfolded = "\n".join(content_lines(text.encode()))
    (night,) = by_slot(text).values()
    assert str(night["DESCRIPTION"]).startswith("Your booking: confirmed, as therapist.")
    for secret in (EMAIL, "LIC-1", host_token, festival.bo["token"], festival.ana["token"]):
        assert secret not in unfolded


async def test_the_feed_is_private_to_caches_and_referrers_and_names_its_own_url(
    client: Client, festival: Festival
) -> None:
    response = await fetch_feed(client, path_of(festival.ana["feed_url"]))
    assert response.headers["cache-control"] == "private, max-age=60"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert f"SOURCE:{festival.ana['feed_url']}" in content_lines(response.content)
    assert "NAME:Ana (@ana): my takeamoment bookings" in content_lines(response.content)


async def test_rotating_the_token_retires_the_old_url_and_keeps_the_uids(
    client: Client, host_token: str, festival: Festival
) -> None:
    old = path_of(festival.ana["feed_url"])
    before = by_slot(await feed_text(client, old))
    new_url = await rotate(client, festival.ana["token"], festival.ana)  # the person themself

    assert (await client.get(old)).status_code == 410
    response = await fetch_feed(client, path_of(new_url))
    after = by_slot(response.text)
    assert {k: str(e["UID"]) for k, e in after.items()} == {
        k: str(e["UID"]) for k, e in before.items()
    }
    assert f"SOURCE:{new_url}" in content_lines(response.content)
    newer_url = await rotate(client, host_token, festival.ana)  # or a host
    assert (await client.get(path_of(new_url))).status_code == 410
    assert (await client.get(path_of(newer_url))).status_code == 200


async def test_an_unknown_token_or_path_is_404_without_echoing_the_token(
    client: Client, festival: Festival
) -> None:
    token = path_of(festival.ana["feed_url"]).split("/")[-1].removesuffix(".ics")
    wrong = token[:-4] + "AAAA"
    for path in (f"/feeds/{wrong}.ics", f"/feeds/{token}", f"/feeds/{token}.ics.txt"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert token not in response.text and wrong not in response.text


async def test_a_person_without_bookings_gets_an_empty_valid_calendar(
    client: Client, host_token: str
) -> None:
    person = await make_person(client, host_token, "dee")
    text = await feed_text(client, path_of(person["feed_url"]))
    assert read_everywhere(text) == {}
    assert text.startswith("BEGIN:VCALENDAR\r\n")


async def test_our_logs_never_hold_a_feed_token(
    client: Client, host_token: str, festival: Festival, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = path_of(festival.ana["feed_url"]).split("/")[-1].removesuffix(".ics")
    with caplog.at_level(logging.DEBUG):
        caplog.clear()
        await fetch_feed(client, f"/feeds/{token}.ics")
        new_url = await rotate(client, host_token, festival.ana)
        await client.get(f"/feeds/{token}.ics")  # now 410
        await fetch_feed(client, path_of(new_url))
    new_token = path_of(new_url).split("/")[-1].removesuffix(".ics")
    ours = [r for r in caplog.records if r.name.startswith("takeamoment")]
    assert any("rendered the calendar feed" in r.getMessage() for r in ours)
    # The test client logs each URL it requests (httpx, at INFO): that is the client, not us.
    for record in ours:
        assert token not in record.getMessage() and new_token not in record.getMessage()
