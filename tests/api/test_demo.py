from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from itertools import combinations
from typing import Any
from zoneinfo import ZoneInfo

from takeamoment.db.engine import Database
from takeamoment.demo import demo_document, seed_demo, world_mental_health_day
from takeamoment.settings import Settings
from tests.helpers import Client, auth, ok

# Pinned so the event always falls on 10 October 2030, whatever the date the tests run.
TODAY = date(2030, 6, 1)
LONDON = ZoneInfo("Europe/London")
DOCUMENT = demo_document()
DEMO_PEOPLE = DOCUMENT["people"]
DEMO_SLOTS = DOCUMENT["slots"]


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_next_world_mental_health_day_is_10_october_on_or_after_today() -> None:
    assert world_mental_health_day(date(2030, 1, 1)) == date(2030, 10, 10)
    assert world_mental_health_day(date(2030, 10, 10)) == date(2030, 10, 10)
    assert world_mental_health_day(date(2030, 10, 11)) == date(2031, 10, 10)


async def test_seeding_twice_creates_one_event_and_a_working_host_token_each_time(
    client: Client, db: Database, settings: Settings
) -> None:
    first = await seed_demo(db, settings, today=TODAY)
    second = await seed_demo(db, settings, today=TODAY)

    assert (first.created, second.created) == (True, False)
    assert first.host_token != second.host_token
    for summary in (first, second):
        assert summary.published
        published = await client.post(
            "/api/events/take-a-moment/publish", headers=auth(summary.host_token)
        )
        assert (await ok(published))["status"] == "published"
    listed = await ok(await client.get("/api/events", headers=auth(second.host_token)))
    assert [event["slug"] for event in listed] == ["take-a-moment"]
    schedule = await ok(await client.get("/api/events/take-a-moment/schedule"))
    assert len(schedule["slots"]) == len(DEMO_SLOTS)


async def test_the_summary_lists_the_urls_and_ends_with_the_token_alone(
    db: Database, settings: Settings
) -> None:
    summary = await seed_demo(db, settings, today=TODAY)
    text = str(summary)

    assert text.splitlines()[-1] == summary.host_token
    assert summary.event_slug == "take-a-moment"
    assert summary.event_day == date(2030, 10, 10)
    for url in (
        "http://testserver/events/take-a-moment",
        "http://testserver/host/events/take-a-moment",
        "http://testserver/api/events/take-a-moment/schedule",
        "http://testserver/events/take-a-moment/calendar.ics",
        "webcal://testserver/events/take-a-moment/calendar.ics",
    ):
        assert url in text


async def test_the_public_schedule_is_the_take_a_moment_day(
    client: Client, db: Database, settings: Settings
) -> None:
    await seed_demo(db, settings, today=TODAY)
    schedule = await ok(await client.get("/api/events/take-a-moment/schedule"))
    event, slots = schedule["event"], schedule["slots"]

    assert event["status"] == "published"
    assert event["title"] == "Take A Moment"
    assert "World Mental Health Day" in event["description"]
    assert "#aGoodCollective" in event["description"]
    assert _when(event["starts_at"]) == datetime(2030, 10, 10, 10, tzinfo=LONDON)
    assert _when(event["ends_at"]) == datetime(2030, 10, 10, 22, tzinfo=LONDON)
    assert event["timezone"] == "Europe/London"
    assert (event["changeover_minutes"], event["reminder_minutes"]) == (5, [15, 5])
    assert {"main-stage", "therapist-qa"} <= {channel["slug"] for channel in event["channels"]}
    # Stored without "#" (pages and feeds show exactly one).
    assert {"aGoodCollective", "MentalHealth", "SelfCare", "BookTok"} <= set(event["hashtags"])
    assert "https://www.samaritans.org" in {r["url"] for r in event["safety_resources"]}
    assert any(slot["kind"] == "music" for slot in slots)
    assert any("BookTok" in slot["tags"] and slot["people"] for slot in slots)
    assert any(slot["kind"] == "qa" and slot["channel"] == "therapist-qa" for slot in slots)
    starts = [_when(slot["starts_at"]) for slot in slots]
    assert starts == sorted(starts)


async def test_the_public_schedule_shows_confirmed_people_and_no_private_fields(
    client: Client, db: Database, settings: Settings
) -> None:
    summary = await seed_demo(db, settings, today=TODAY)
    public = await client.get("/api/events/take-a-moment/schedule")
    hosted = await ok(
        await client.get("/api/events/take-a-moment/schedule", headers=auth(summary.host_token))
    )

    for person in DEMO_PEOPLE:
        assert person["email"] not in public.text
        if person.get("license"):
            assert person["license"]["number"] not in public.text
    assert "example.com" not in public.text
    for slot, hosted_slot in zip((await ok(public))["slots"], hosted["slots"], strict=True):
        confirmed = [b["person"] for b in hosted_slot["bookings"] if b["status"] == "confirmed"]
        assert slot["people"] == confirmed
        for person in slot["people"]:
            assert set(person) == {"id", "name", "handle", "role"}
    statuses = [b["status"] for slot in hosted["slots"] for b in slot["bookings"]]
    assert 1 <= statuses.count("invited") < statuses.count("confirmed")


async def test_every_demo_booking_keeps_the_booking_rules(
    client: Client, db: Database, settings: Settings
) -> None:
    summary = await seed_demo(db, settings, today=TODAY)
    hosted = await ok(
        await client.get("/api/events/take-a-moment/schedule", headers=auth(summary.host_token))
    )
    changeover = timedelta(minutes=hosted["event"]["changeover_minutes"])
    busy: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for slot in hosted["slots"]:
        for booking in slot["bookings"]:
            assert booking["role"] == booking["person"]["role"]
            assert (booking["role"] == "therapist") == (slot["kind"] == "qa")
            busy[booking["person"]["handle"]].append(_span(slot))

    assert {_role_of(handle) for handle in busy} == {"creator", "therapist"}
    for spans in busy.values():
        for (a_start, a_end), (b_start, b_end) in combinations(sorted(spans), 2):
            assert b_start >= a_end + changeover, (a_start, a_end, b_start, b_end)


def _span(slot: dict[str, Any]) -> tuple[datetime, datetime]:
    return _when(slot["starts_at"]), _when(slot["ends_at"])


def _role_of(handle: str) -> str:
    role: str = next(person["role"] for person in DEMO_PEOPLE if person["handle"] == handle)
    return role
