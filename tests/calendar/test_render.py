"""``render_calendar``: plain records in, RFC 5545 bytes out, read alike by three parsers."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import icalendar
import pytest

from takeamoment.calendar.model import Performer, SafetyResource
from takeamoment.calendar.render import (
    calendar_component,
    clean_text,
    render_calendar,
    slot_vevent,
    vevent_bytes,
    vtimezones,
    written_time,
)
from takeamoment.calendar.vtimezone import vtimezone
from tests.calendar.readers import (
    assert_well_formed,
    content_lines,
    property_names,
    read_everywhere,
)
from tests.calendar.samples import (
    CHANGED,
    EVENT,
    VEVENT_PROPERTIES,
    calendar,
    in_zone,
    private,
    slot,
    utc,
)


def vtimezone_onsets(body: bytes) -> dict[str, list[str]]:
    """Each VTIMEZONE's TZID and every onset (DTSTART and RDATEs) of its parts, in order."""
    zones: dict[str, list[str]] = {}
    for component in icalendar.Calendar.from_ical(body).walk("VTIMEZONE"):
        onsets = []
        for part in component.subcomponents:
            starts = [part["DTSTART"].to_ical().decode()]
            if "RDATE" in part:
                starts += part["RDATE"].to_ical().decode().split(",")
            onsets += [f"{part.name}:{start}" for start in starts]
        zones[str(component["TZID"])] = sorted(onsets, key=lambda onset: onset.split(":")[1])
    return zones


def test_the_same_schedule_renders_to_the_same_bytes() -> None:
    info = calendar(slot("s1"), slot("s2", utc(2030, 10, 10, 12)))
    assert render_calendar(info) == render_calendar(info)
    assert b"DTSTAMP:20300901T120000Z" in render_calendar(info)  # the change, never "now"


def test_the_feed_is_byte_for_byte_what_icalendar_writes_for_the_whole_calendar() -> None:
    info = private(calendar(slot("s1"), in_zone(slot("s2"), "Asia/Kolkata")))
    whole = calendar_component(info)
    for tzid, first, last in vtimezones(info.slots):
        whole.add_component(vtimezone(tzid, first, last))
    for entry in info.slots:
        whole.add_component(slot_vevent(entry, info.uid_domain, info.owner_id))
    assert render_calendar(info) == whole.to_ical()


def test_after_a_change_only_the_changed_slot_is_rendered_again() -> None:
    slots = [slot(f"memo-{i}", utc(2030, 10, 10, i)) for i in range(3)]
    render_calendar(calendar(*slots))
    before = vevent_bytes.cache_info()
    slots[1] = replace(slots[1], title="Moved", sequence=1, changed_at=CHANGED + timedelta(1))
    body = render_calendar(calendar(*slots))
    after = vevent_bytes.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)
    assert b"SUMMARY:Moved" in body


def test_the_calendar_carries_every_property_the_contract_lists() -> None:
    lines = content_lines(render_calendar(calendar(slot())))
    assert lines[:4] == ["BEGIN:VCALENDAR", "VERSION:2.0", lines[2], "CALSCALE:GREGORIAN"]
    assert lines[2].startswith("PRODID:-//takeamoment//")
    for expected in (
        "METHOD:PUBLISH",
        "NAME:Take A Moment",
        "X-WR-CALNAME:Take A Moment",
        "SOURCE:https://tam.example/events/tam/calendar.ics",
        "REFRESH-INTERVAL;VALUE=DURATION:PT15M",
        "X-PUBLISHED-TTL:PT15M",
        "UID:calendar-ev1@tam.example",
        "LAST-MODIFIED:20300901T120000Z",
    ):
        assert expected in lines, expected
    assert not [line for line in lines if line.startswith("X-WR-TIMEZONE")]
    assert lines[-1] == "END:VCALENDAR"


def test_a_vevent_holds_each_promised_property_once_with_the_slot_values() -> None:
    entry = slot(sequence=3, tags=("calm", "q&a"))
    body = render_calendar(calendar(entry))
    assert [sorted(names) for names in property_names(body)] == [sorted(VEVENT_PROPERTIES)]
    event = icalendar.Calendar.from_ical(body).events[0]
    assert str(event["UID"]) == "s1@tam.example"
    assert event["SEQUENCE"] == 3
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]) == "https://tam.example/events/tam#slot-s1"
    assert [str(c) for c in event["CATEGORIES"].cats] == ["calm", "q&a"]
    assert event.decoded("DTSTAMP") == event.decoded("LAST-MODIFIED") == CHANGED
    assert event.decoded("DTSTART") == utc(2030, 10, 10, 10)
    assert event.decoded("DTEND") == utc(2030, 10, 10, 11)


def test_the_description_shows_people_hashtags_and_safety_resources() -> None:
    description = str(
        icalendar.Calendar.from_ical(render_calendar(calendar(slot()))).events[0]["DESCRIPTION"]
    )
    assert description.startswith("Slow down.\n\n")
    assert "Ana (@ana, creator)" in description
    assert "#MentalHealth #SelfCare" in description
    assert "Need support? Samaritans (UK): 116 123. All helplines: " in description
    assert "https://www.samaritans.org" not in description  # the event page lists them all
    assert "https://tam.example/events/tam#slot-s1" in description


def test_a_cancelled_slot_stays_with_status_cancelled() -> None:
    body = render_calendar(calendar(slot(status="cancelled", sequence=1)))
    (event,) = read_everywhere(body.decode()).values()
    assert (event.status, event.sequence) == ("CANCELLED", 1)


def test_a_slot_across_the_clocks_going_back_keeps_its_instants() -> None:
    # London leaves summer time at 01:00 UTC on 27 October 2030: 00:30 BST to 03:00 GMT.
    entry = slot(starts_at=utc(2030, 10, 26, 23, 30), minutes=210)
    body = render_calendar(calendar(entry))
    assert "DTSTART;TZID=Europe/London:20301027T003000" in content_lines(body)
    assert "DTEND;TZID=Europe/London:20301027T030000" in content_lines(body)
    (event,) = read_everywhere(body.decode()).values()
    assert (event.starts_at, event.ends_at) == (entry.starts_at, entry.ends_at)


def test_both_passes_of_the_repeated_hour_are_written_in_utc_so_every_reader_agrees() -> None:
    # 01:15 happens twice in London that night. RFC 5545 reads it as the first pass, vobject
    # (through dateutil) as the second: only UTC names either moment for every reader.
    first_pass = slot("s1", utc(2030, 10, 27, 0, 15), minutes=30)
    second_pass = slot("s2", utc(2030, 10, 27, 1, 15), minutes=30)
    body = render_calendar(calendar(first_pass, second_pass))
    assert "DTSTART:20301027T001500Z" in content_lines(body)
    assert "DTSTART:20301027T011500Z" in content_lines(body)
    read = read_everywhere(body.decode())
    assert read["s1@tam.example"].starts_at == first_pass.starts_at
    assert read["s2@tam.example"].starts_at == second_pass.starts_at


def test_times_next_to_the_repeated_hour_stay_in_local_time() -> None:
    before = slot("s1", utc(2030, 10, 26, 23, 59), minutes=1)  # 00:59 BST
    after = slot("s2", utc(2030, 10, 27, 2, 0), minutes=1)  # 02:00 GMT
    lines = content_lines(render_calendar(calendar(before, after)))
    assert "DTSTART;TZID=Europe/London:20301027T005900" in lines
    assert "DTSTART;TZID=Europe/London:20301027T020000" in lines


def test_a_slot_across_the_clocks_going_forward_keeps_its_instants() -> None:
    # London starts summer time at 01:00 UTC on 31 March 2030: 00:30 GMT to 02:30 BST.
    entry = slot(starts_at=utc(2030, 3, 31, 0, 30), minutes=60)
    body = render_calendar(calendar(entry))
    assert "DTEND;TZID=Europe/London:20300331T023000" in content_lines(body)
    (event,) = read_everywhere(body.decode()).values()
    assert (event.starts_at, event.ends_at) == (entry.starts_at, entry.ends_at)


def test_one_vtimezone_per_zone_in_rrule_form_for_the_years_used() -> None:
    london = slot("s1", utc(2030, 12, 31, 23, 30), minutes=60)  # into 2031
    kolkata = in_zone(slot("s2", utc(2031, 6, 1, 9)), "Asia/Kolkata")
    zones = vtimezone_onsets(render_calendar(calendar(london, kolkata)))
    assert sorted(zones) == ["Asia/Kolkata", "Europe/London"]
    assert zones["Asia/Kolkata"] == ["STANDARD:19700101T000000"]
    # Summer time begins at 01:00 GMT (local time before the change), ends at 02:00 BST.
    assert zones["Europe/London"] == ["DAYLIGHT:20290325T010000", "STANDARD:20291028T020000"]


def test_utc_events_are_written_in_utc_without_a_vtimezone() -> None:
    body = render_calendar(calendar(in_zone(slot(), "Etc/UTC")))
    assert "DTSTART:20301010T100000Z" in content_lines(body)
    assert vtimezone_onsets(body) == {}
    assert written_time(utc(2030, 1, 1), "UTC").tzinfo is not None


def test_an_empty_feed_is_still_a_valid_calendar_with_its_zone() -> None:
    body = render_calendar(calendar())
    assert_well_formed(body)
    assert read_everywhere(body.decode()) == {}
    assert list(vtimezone_onsets(body)) == ["Europe/London"]  # RFC 5545: one component at least
    without_zone = render_calendar(calendar(timezone=None))
    assert list(vtimezone_onsets(without_zone)) == ["UTC"]


def test_a_private_feed_adds_the_booking_and_an_alarm_per_reminder() -> None:
    info = private(calendar(slot()), status="invited")
    body = render_calendar(info)
    (event,) = read_everywhere(body.decode()).values()
    assert event.uid == "s1.p1@tam.example"
    assert event.alarms == (timedelta(minutes=-15), timedelta(minutes=-5))
    assert event.description.startswith("Your booking: invited, as creator.\n")
    assert "CLASS:PRIVATE" in content_lines(body)


def test_a_cancelled_slot_has_no_alarms_even_in_a_private_feed() -> None:
    body = render_calendar(private(calendar(slot(status="cancelled"))))
    (event,) = read_everywhere(body.decode()).values()
    assert event.alarms == ()


def test_a_public_feed_has_no_alarms_and_no_booking() -> None:
    body = render_calendar(calendar(slot()))
    assert b"VALARM" not in body and b"Your booking" not in body and b"CLASS" not in body


HOSTILE = [
    "carriage\rreturn",
    "line\nfeed",
    "crlf\r\nSTATUS:CANCELLED",
    "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil",
    "semi;colon, comma\\backslash: colon",
    "unicode\u2028line\u2029paragraph\x85next",
    "vertical\x0btab\x0cform\x1cfile\x1dgroup\x1erecord",
    "bell\x07escape\x1bdelete\x7f",
    ";X-INJECTED=1:evil",
    "\r\n ",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_anywhere_adds_no_line_and_no_property(text: str) -> None:
    resource = SafetyResource(name=text, phone=text, url=text, region=text, description=text)
    event = replace(EVENT, title=text, hashtags=(text,), safety_resources=(resource,))
    entry = slot(
        title=text,
        description=text,
        tags=(text, "calm"),
        channel_name=text,
        event=event,
        people=(Performer(name=text, handle=text, role=text),),
    )
    body = render_calendar(private(calendar(entry, name=text, description=text)))

    assert_well_formed(body)
    assert [sorted(names) for names in property_names(body)] == [
        sorted({*VEVENT_PROPERTIES, "CLASS"})
    ]
    assert property_names(body, "VALARM") == [["ACTION", "DESCRIPTION", "TRIGGER"]] * 2
    assert not [line for line in content_lines(body) if re.match(r"(X-INJECTED|UID:evil)", line)]
    (read,) = read_everywhere(body.decode()).values()
    assert read.summary == clean_text(text)
    assert clean_text(text) in read.description
    assert read.categories == {clean_text(text), "calm"}


def test_clean_text_turns_every_line_break_into_a_newline_and_drops_other_controls() -> None:
    assert clean_text("a\rb\r\nc\nd\u2028e\u2029f\x85g") == "a\nb\nc\nd\ne\nf\ng"
    assert clean_text("tab\tstays, bell\x07 and nul\x00 go") == "tab\tstays, bell and nul go"
    assert clean_text("plain; text, with: \\ and émoji 🧘") == "plain; text, with: \\ and émoji 🧘"


def test_long_unicode_text_is_folded_at_75_octets_without_splitting_a_character() -> None:
    title = "🧘é" * 120
    body = render_calendar(calendar(slot(title=title, description="ü" * 500)))
    assert_well_formed(body)
    for line in body.split(b"\r\n"):
        line.decode("utf-8")  # each physical line is whole characters
    (read,) = read_everywhere(body.decode()).values()
    assert read.summary == title
