"""Both feeds show what happened on air, and a person's feed keeps what was taken from them."""

from __future__ import annotations

from datetime import datetime, timedelta

import icalendar

from tests.api.builders import confirmed
from tests.api.show import event_around_now, run, slot_at
from tests.calendar.builders import feed_text, path_of
from tests.calendar.readers import read_everywhere
from tests.helpers import Client, auth, make_person, ok


def vevents(text: str) -> dict[str, icalendar.Event]:
    return {
        str(e["UID"]).split("@")[0].split(".")[0]: e
        for e in icalendar.Calendar.from_ical(text).walk("VEVENT")
    }


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(microsecond=0)


async def test_live_and_ended_slots_show_their_real_times_and_an_ended_one_no_alarms(
    client: Client, host_token: str
) -> None:
    await event_around_now(client, host_token)
    done = await slot_at(client, host_token, 5, 35, title="Done early")
    ana = await make_person(client, host_token, "ana")
    await confirmed(client, host_token, done["id"], ana)
    live = await ok(await run(client, host_token, done["id"], "live"))
    for path in ("/events/now/calendar.ics", path_of(ana["feed_url"])):
        event = vevents(await feed_text(client, path))[done["id"]]
        assert event.decoded("DTSTART") == instant(live["actual_started_at"])
        assert event.decoded("DTEND") == instant(done["ends_at"])
    ended = await ok(await run(client, host_token, done["id"], "end"))
    for path in ("/events/now/calendar.ics", path_of(ana["feed_url"])):
        text = await feed_text(client, path)
        event = vevents(text)[done["id"]]
        assert event.decoded("DTSTART") == instant(ended["actual_started_at"])
        # Its real end; an end within the same second as the start still shows a second.
        shown_end = event.decoded("DTEND")
        assert instant(ended["actual_ended_at"]) <= shown_end
        assert shown_end - instant(ended["actual_ended_at"]) <= timedelta(seconds=1)
        assert shown_end > event.decoded("DTSTART")
        assert list(event.walk("VALARM")) == []
        assert read_everywhere(text)[str(event["UID"])].alarms == ()


async def test_a_removed_booking_stays_in_the_persons_feed_as_cancelled(
    client: Client, host_token: str
) -> None:
    await event_around_now(client, host_token)
    slot = await slot_at(client, host_token, 60, 90, title="Taken off")
    ana = await make_person(client, host_token, "ana")
    booking = await confirmed(client, host_token, slot["id"], ana)
    before = vevents(await feed_text(client, path_of(ana["feed_url"])))[slot["id"]]
    assert str(before["STATUS"]) == "CONFIRMED" and list(before.walk("VALARM"))
    await ok(await client.delete(f"/api/bookings/{booking['id']}", headers=auth(host_token)), 204)
    after = vevents(await feed_text(client, path_of(ana["feed_url"])))[slot["id"]]
    assert str(after["STATUS"]) == "CANCELLED"
    assert list(after.walk("VALARM")) == []
    public = vevents(await feed_text(client, "/events/now/calendar.ics"))[slot["id"]]
    assert str(public["STATUS"]) == "CONFIRMED"  # the slot itself goes on
