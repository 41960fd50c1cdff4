"""Notices in words: a pure function of (kind, payload, zone), one entry per kind."""

from __future__ import annotations

from typing import Any

import pytest

from takeamoment.services.notice_words import notice_path, words_for

SLOT = {
    "id": "s1",
    "event": "tam",
    "title": "Small habits that carried me through",
    "channel": "main",
    "channel_name": "Main Stage",
    "starts_at": "2030-10-10T09:30:00+00:00",
    "ends_at": "2030-10-10T10:00:00+00:00",
}


def payload(**extra: Any) -> dict[str, Any]:
    return {"slot": SLOT, "event": "tam", **extra}


def test_a_reminder_reads_as_in_the_issue_in_the_persons_own_zone() -> None:
    words = words_for("reminder", payload(minutes_before=5), "Europe/London")
    assert words.body == (
        "You're on in 5 minutes: 'Small habits that carried me through', Main Stage, 10:30"
    )
    assert words.title == "You're on in 5 minutes"
    tokyo = words_for("reminder", payload(minutes_before=1), "Asia/Tokyo")
    assert tokyo.body.endswith("Main Stage, 18:30") and "1 minute:" in tokyo.body


@pytest.mark.parametrize(
    ("kind", "extra", "title", "in_body"),
    [
        ("booking.invited", {"role": "creator"}, "You're invited", "Thu 10 Oct, 10:30–11:00 BST"),
        ("go_live", {}, "You're on now", "You're on now: 'Small habits"),
        ("standby", {"expected_start": "2030-10-10T09:40:00+00:00"}, "Stand by", "10:40"),
        (
            "schedule.changed",
            {
                "starts_at": "2030-10-10T10:00:00+00:00",
                "ends_at": "2030-10-10T10:30:00+00:00",
                "previous_starts_at": "2030-10-10T09:30:00+00:00",
                "previous_ends_at": "2030-10-10T10:00:00+00:00",
            },
            "Moved",
            "now Thu 10 Oct, 11:00–11:30 BST (was Thu 10 Oct, 10:30–11:00 BST)",
        ),
        ("slot.cancelled", {"role": "creator"}, "Cancelled", "10:30–11:00"),
        ("booking.removed", {}, "You're off", "no longer booked"),
        ("something.new", {}, "something.new", "Small habits"),
    ],
)
def test_every_kind_has_a_title_and_a_plain_body(
    kind: str, extra: dict[str, Any], title: str, in_body: str
) -> None:
    words = words_for(kind, payload(**extra), "Europe/London")
    assert words.title.startswith(title)
    assert in_body in words.body
    assert "<" not in words.body and "\n" not in words.body


def test_an_unknown_zone_reads_as_utc() -> None:
    assert words_for("reminder", payload(minutes_before=5), "Nowhere/Else").body.endswith("09:30")


def test_links_go_to_the_persons_page_or_the_event_page_for_what_happens_on_air() -> None:
    assert notice_path("reminder", payload()) == "/me"
    assert notice_path("booking.invited", payload()) == "/me"
    assert notice_path("go_live", payload()) == "/events/tam#slot-s1"
    assert notice_path("slot.cancelled", payload()) == "/events/tam#slot-s1"
