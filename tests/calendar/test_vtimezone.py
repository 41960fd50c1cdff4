"""``VTIMEZONE``s in RRULE form: the rules zoneinfo follows, read back by a third reader.

dateutil's ``tzical`` builds a zone from nothing but the ``VTIMEZONE`` text (RRULEs and all), so
a local time resolved with it must give the instant zoneinfo gives, in every zone tried.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil.tz import tzical
from hypothesis import given, settings
from hypothesis import strategies as st

from takeamoment.calendar.vtimezone import transitions, vtimezone, vtimezone_bytes

# Northern and southern rules, a 30-minute change, negative DST in tzdata (Dublin), none at all.
ZONES = [
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Europe/Dublin",
    "America/Santiago",
    "Pacific/Auckland",
    "Asia/Tehran",  # left summer time in 2022: irregular across 2021-2023
    "Africa/Casablanca",  # summer time suspended each Ramadan: irregular
]


def parts(tzid: str, first: int, last: int) -> list[icalendar.Component]:
    return list(vtimezone(tzid, first, last).subcomponents)


def lines_of(part: icalendar.Component) -> dict[str, str]:
    """The part's properties as written, by name (BEGIN and END left out)."""
    lines = part.to_ical().decode().splitlines()[1:-1]
    return dict(line.split(":", 1) for line in lines)


def test_london_is_one_daylight_and_one_standard_rule_with_onsets_at_the_real_times() -> None:
    daylight, standard = parts("Europe/London", 2030, 2031)
    assert (daylight.name, standard.name) == ("DAYLIGHT", "STANDARD")
    # Clocks go forward at 01:00 GMT (local time before the change), back at 02:00 BST.
    assert lines_of(daylight) == {
        "DTSTART": "20290325T010000",
        "RRULE": "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
        "TZNAME": "BST",
        "TZOFFSETFROM": "+0000",
        "TZOFFSETTO": "+0100",
    }
    assert lines_of(standard)["DTSTART"] == "20291028T020000"
    assert lines_of(standard)["RRULE"] == "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"


def test_new_york_and_lord_howe_rules() -> None:
    daylight, standard = parts("America/New_York", 2030, 2031)
    assert (lines_of(daylight)["RRULE"], lines_of(standard)["RRULE"]) == (
        "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3",
        "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11",
    )
    daylight, standard = parts("Australia/Lord_Howe", 2030, 2031)
    assert (lines_of(daylight)["TZOFFSETFROM"], lines_of(daylight)["TZOFFSETTO"]) == (
        "+1030",
        "+1100",
    )
    assert lines_of(standard)["RRULE"] == "FREQ=YEARLY;BYDAY=1SU;BYMONTH=4"


def test_a_zone_without_clock_changes_has_a_single_standard_part() -> None:
    (standard,) = parts("Asia/Kolkata", 2030, 2031)
    assert standard.name == "STANDARD"
    assert lines_of(standard) == {
        "DTSTART": "19700101T000000",
        "TZNAME": "IST",
        "TZOFFSETFROM": "+0530",
        "TZOFFSETTO": "+0530",
    }


def test_a_zone_whose_rules_changed_in_those_years_gets_one_part_per_change() -> None:
    # The United States moved its clock changes in 2007.
    found = parts("America/New_York", 2006, 2008)
    assert not [part for part in found if "RRULE" in part]
    assert len(found) == 1 + 2 * 4  # what held on 1 January 2005, then every change
    assert {lines_of(part)["DTSTART"] for part in found} >= {"20060402T020000", "20070311T020000"}


def test_transitions_are_found_to_the_second() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    found = transitions(ZoneInfo("Europe/London"), start, start + timedelta(days=365))
    assert [change.at for change in found] == [
        datetime(2030, 3, 31, 1, tzinfo=UTC),
        datetime(2030, 10, 27, 1, tzinfo=UTC),
    ]


@pytest.mark.parametrize("tzid", ZONES)
@settings(max_examples=60, deadline=None)
@given(
    first=st.integers(min_value=2020, max_value=2034),
    span=st.integers(min_value=0, max_value=2),
    offset=st.floats(min_value=0, max_value=1),
)
def test_dateutil_reading_only_our_vtimezone_gives_zoneinfos_instants(
    tzid: str, first: int, span: int, offset: float
) -> None:
    last = first + span
    text = vtimezone_bytes(tzid, first, last).decode()
    read = tzical(io.StringIO(text)).get(tzid)
    start = datetime(first, 1, 1, tzinfo=UTC)
    end = datetime(last + 1, 1, 1, tzinfo=UTC) - timedelta(days=1)
    moment = (start + (end - start) * offset).replace(microsecond=0)
    local = moment.astimezone(ZoneInfo(tzid))
    naive = local.replace(tzinfo=None)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        return  # the repeated hour: our feeds write those moments in UTC
    assert naive.replace(tzinfo=read).astimezone(UTC) == moment, (tzid, naive)
    for change in transitions(ZoneInfo(tzid), start, end):  # every change, to the minute
        for delta in (timedelta(minutes=-1), timedelta(0), timedelta(minutes=1)):
            instant = change.at + delta
            local = instant.astimezone(ZoneInfo(tzid))
            if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
                continue
            assert local.replace(tzinfo=read).astimezone(UTC) == instant, (tzid, local)
