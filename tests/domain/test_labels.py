"""Messages name slots by title and time in the event's zone, across clock changes too."""

from __future__ import annotations

from datetime import UTC, datetime

from takeamoment.domain.booking_rules import PlacedSlot, find_person_conflicts
from takeamoment.domain.intervals import Interval
from takeamoment.domain.labels import moment_label, slot_label


def test_a_slot_is_named_by_title_and_local_time() -> None:
    label = slot_label(
        "Morning tips",
        datetime(2030, 10, 10, 8, tzinfo=UTC),
        datetime(2030, 10, 10, 8, 30, tzinfo=UTC),
        "Europe/London",
    )
    assert label == "“Morning tips” (Thu 10 Oct 09:00–09:30 BST)"


def test_across_midnight_and_a_clock_change_both_ends_say_enough() -> None:
    label = slot_label(
        "Night",
        datetime(2030, 10, 26, 23, 30, tzinfo=UTC),
        datetime(2030, 10, 27, 1, 30, tzinfo=UTC),
        "Europe/London",
    )
    assert label == "“Night” (Sun 27 Oct 00:30 BST–01:30 GMT)"
    assert moment_label(datetime(2030, 10, 10, 8, tzinfo=UTC), "UTC") == "Thu 10 Oct 08:00 UTC"


def test_conflicts_name_the_person_and_the_slots() -> None:
    def placed(slot_id: str, title: str, hour: int) -> PlacedSlot:
        interval = Interval(
            starts_at=datetime(2030, 10, 10, hour, tzinfo=UTC),
            ends_at=datetime(2030, 10, 10, hour + 1, tzinfo=UTC),
        )
        return PlacedSlot(
            slot_id=slot_id,
            interval=interval,
            label=slot_label(title, interval.starts_at, interval.ends_at, "UTC"),
        )

    (conflict,) = find_person_conflicts(
        "p1", placed("a", "Tips", 10), [placed("b", "Q&A", 10)], person_name="Ana"
    )
    assert conflict.message == "Ana is already booked in “Q&A” (Thu 10 Oct 10:00–11:00 UTC)"
    assert conflict.person_id == "p1" and conflict.conflicting_slot_id == "b"
