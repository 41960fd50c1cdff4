"""A Hypothesis state machine drives a real server through random schedules.

Rules create slots and people, set availability, book, accept, decline, move, delay later or
earlier (with or without ``force``, straight or after a preview with its ``seq``), cancel, go
live (early or not), end, reopen, restore, remove bookings, and fire concurrent PAIRS of
conflicting writes from two threads. Every answer must be no 5xx and, when refused, refused for
a documented reason. After every step the invariants read the database directly and check each
booking rule of CONTRACT.md over the example's event and every booking its people hold, in any
event (nothing else can change: earlier examples' events are no longer touched):

- no two non-cancelled slots of a channel overlap;
- no person holds two active bookings whose slots overlap or are closer than the changeover;
- a person with availability windows is booked only inside one of them;
- a booked therapist holds a verified licence valid on the slot's date;
- a booking's ``starts_at``/``busy_until`` copies match its slot (plus the event's changeover);
- an event's change log is numbered 1..last_seq without gaps;
- a channel has at most one live slot; a live or ended slot records when it went on air (and an
  ended one when it went off), a scheduled or cancelled one never went on air;
- a live slot's start never moves: it stays what it was when the slot went live.

Each example runs against a fresh event (a unique slug) on one server, with fresh people and some
of the earlier examples' people (whose bookings in other events must then be respected).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from takeamoment.db.events import Change, Event
from takeamoment.db.people import AvailabilityWindow, Person
from takeamoment.db.slots import ACTIVE_BOOKING_STATUSES, Booking, Slot
from tests import plain_http
from tests.e2e.conftest import issue_host_token, server_env, start_server, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DAY = datetime(2031, 6, 1, 8, tzinfo=UTC)  # the event runs 08:00-20:00 UTC
EVENT_MINUTES = 12 * 60
CHANNELS = ("a", "b")
ROLES = ("creator", "therapist")
CONFLICT_KINDS = {
    "channel_overlap",
    "person_overlap",
    "changeover",
    "outside_availability",
    "invalid_transition",
    "channel_busy",
    "too_early",
    "stale_preview",
}

# Start on a 15-minute grid, sometimes outside the event on purpose (then 400).
starts = st.integers(min_value=-2, max_value=EVENT_MINUTES // 15)
lengths = st.sampled_from([15, 30, 45, 60, 90])
picks = st.integers(min_value=0, max_value=1_000)


def needs(
    condition: Callable[[Any], object],
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Like Hypothesis' ``precondition``, but decided after the rule's draws.

    What there is to act on depends on the server's answers, which vary with the races of the
    concurrent rules; a precondition on them would make Hypothesis' replays draw differently.
    """

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        def run(self: Any, **kwargs: Any) -> None:
            if condition(self):
                function(self, **kwargs)
            else:
                self.counts["skipped: nothing to act on"] += 1

        return run

    return decorate


def at(quarter: int, plus_minutes: int = 0) -> str:
    return (DAY + timedelta(minutes=quarter * 15 + plus_minutes)).isoformat()


@dataclass(frozen=True)
class PersonRef:
    id: str
    token: str
    role: str


@dataclass(frozen=True)
class Target:
    url: str
    host_token: str
    db_url: str


class BookingRules(RuleBasedStateMachine):
    """One example: a fresh event with two channels, driven through random commands.

    Slots, people and bookings made so far are kept in lists; rules pick among them by a drawn
    index (``pick``), so one initializer can set up a schedule with bookings in a single step.
    """

    target: ClassVar[Target]
    counts: ClassVar[Counter[str]]
    runner: ClassVar[asyncio.Runner]
    engine: ClassVar[AsyncEngine]
    shared: ClassVar[list[PersonRef]] = []  # everyone made so far, in any example

    def __init__(self) -> None:
        super().__init__()
        self.http = plain_http.Client(
            base_url=self.target.url,
            headers={"Authorization": f"Bearer {self.target.host_token}"},
            timeout=30,
        )
        self.slug = f"rules-{uuid.uuid4().hex[:10]}"
        self.slot_ids: list[str] = []
        self.persons: list[PersonRef] = []
        self.booked: list[tuple[str, PersonRef]] = []
        # When each slot went live, as the answer said: a live slot's start must never move.
        self.went_live: dict[str, datetime] = {}
        self.counts["examples"] += 1

    def teardown(self) -> None:
        self.http.close()

    # -- talking to the server ---------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        allowed: set[int],
        body: Any = None,
        token: str | None = None,
        client: httpx.Client | None = None,
    ) -> httpx.Response:
        """One request; a 5xx or an undocumented refusal fails the example."""
        headers = {"Authorization": f"Bearer {token}"} if token else None
        response = (client or self.http).request(method, path, json=body, headers=headers)
        self.counts["requests"] += 1
        self.counts[f"status {response.status_code}"] += 1
        assert response.status_code < 500, f"{method} {path}: {response.text}"
        assert response.status_code in allowed, f"{method} {path}: {response.text}"
        if response.status_code == 409:
            # The database's own backstop answers only a race: never a request made alone.
            assert client is not None or "another request" not in response.text, response.text
            extra = response.json().get("extra")
            # A rule conflict names its kinds; a duplicate (already booked) has no extra.
            assert extra is None or {c["kind"] for c in extra} <= CONFLICT_KINDS, response.text
        return response

    def step(self, name: str) -> None:
        self.counts["commands"] += 1
        self.counts[f"rule {name}"] += 1

    def slot(self, pick: int) -> str:
        return self.slot_ids[pick % len(self.slot_ids)]

    def person(self, pick: int) -> PersonRef:
        return self.persons[pick % len(self.persons)]

    # -- making things -----------------------------------------------------------------------

    @initialize(
        changeover=st.sampled_from([0, 5, 15]),
        placed=st.lists(
            st.tuples(st.sampled_from(CHANNELS), starts, lengths), min_size=2, max_size=5
        ),
        roles=st.lists(st.sampled_from(ROLES), min_size=1, max_size=3),
        borrowed=st.lists(picks, max_size=2),
        bookings=st.lists(st.tuples(picks, picks, st.booleans()), max_size=4),
    )
    def schedule(
        self,
        changeover: int,
        placed: list[tuple[str, int, int]],
        roles: list[str],
        borrowed: list[int],
        bookings: list[tuple[int, int, bool]],
    ) -> None:
        """The example's published event with two channels, some slots, people and bookings."""
        body = {
            "slug": self.slug,
            "title": "Rules",
            "timezone": "UTC",
            "starts_at": DAY.isoformat(),
            "ends_at": (DAY + timedelta(minutes=EVENT_MINUTES)).isoformat(),
            "changeover_minutes": changeover,
        }
        self.call("POST", "/api/events", {201}, body)
        for channel in CHANNELS:
            body = {"slug": channel, "name": channel.upper()}
            self.call("POST", f"/api/events/{self.slug}/channels", {201}, body)
        self.call("POST", f"/api/events/{self.slug}/publish", {200})
        for channel, start, length in placed:
            self.create_slot(channel, start, length)
        for role in roles:
            self.create_person(role, "valid", True, None)
        # People of earlier examples too: the person rules hold across events.
        self.persons += [self.shared[pick % len(self.shared)] for pick in borrowed if self.shared]
        for slot_pick, person_pick, accept in bookings:
            if self.slot_ids:
                self.book(slot_pick=slot_pick, person_pick=person_pick)
            if accept and self.booked:
                booking_id, person = self.booked[-1]
                self.call("POST", f"/api/bookings/{booking_id}/accept", {200}, token=person.token)

    def slot_body(self, channel: str, start: int, length: int) -> dict[str, str]:
        return {
            "channel": channel,
            "title": "S",
            "starts_at": at(start),
            "ends_at": at(start, length),
        }

    @rule(channel=st.sampled_from(CHANNELS), start=starts, length=lengths)
    def create_slot(self, channel: str, start: int, length: int) -> None:
        self.step("create_slot")
        body = self.slot_body(channel, start, length)
        response = self.call("POST", f"/api/events/{self.slug}/slots", {201, 400, 409}, body)
        if response.status_code == 201:
            self.slot_ids.append(response.json()["id"])

    @rule(
        role=st.sampled_from(ROLES),
        licence=st.sampled_from(["valid", "expired", "none"]),
        verified=st.booleans(),
        window=st.none() | st.tuples(starts, st.integers(min_value=2, max_value=24)),
    )
    def create_person(
        self, role: str, licence: str, verified: bool, window: tuple[int, int] | None
    ) -> None:
        self.step("create_person")
        body: dict[str, Any] = {"name": "P", "handle": f"p{uuid.uuid4().hex[:12]}", "role": role}
        if licence != "none":
            expires = "2032-01-01" if licence == "valid" else "2031-05-31"
            licence_body = {"number": "N", "issuer": "I", "jurisdiction": "J"}
            body["license"] = {**licence_body, "expires_on": expires}
        created = self.call("POST", "/api/people", {201}, body).json()
        if verified:
            self.call("POST", f"/api/people/{created['id']}/license/verify", {200, 422})
        if window is not None:  # before any booking: a later change is not re-checked
            start, quarters = window
            windows = [{"starts_at": at(start), "ends_at": at(start + quarters)}]
            self.call("PUT", f"/api/people/{created['id']}/availability", {200}, windows)
        self.persons.append(PersonRef(id=created["id"], token=created["token"], role=role))
        self.shared.append(self.persons[-1])

    # -- bookings ----------------------------------------------------------------------------

    @rule(slot_pick=picks, person_pick=picks)
    @needs(lambda self: self.slot_ids and self.persons)
    def book(self, slot_pick: int, person_pick: int) -> None:
        self.step("book")
        person = self.person(person_pick)
        body = {"person_id": person.id, "role": person.role}
        path = f"/api/slots/{self.slot(slot_pick)}/bookings"
        response = self.call("POST", path, {201, 409, 422}, body)
        if response.status_code == 201:
            self.booked.append((response.json()["id"], person))

    @rule(pick=picks, as_person=st.booleans(), accept=st.booleans())
    @needs(lambda self: self.booked)
    def answer(self, pick: int, as_person: bool, accept: bool) -> None:
        verb = "accept" if accept else "decline"
        self.step(verb)
        booking_id, person = self.booked[pick % len(self.booked)]
        token = person.token if as_person else None
        self.call("POST", f"/api/bookings/{booking_id}/{verb}", {200, 409}, token=token)

    @rule(pick=picks)
    @needs(lambda self: self.booked)
    def remove_booking(self, pick: int) -> None:
        self.step("remove_booking")
        booking_id, _ = self.booked.pop(pick % len(self.booked))
        self.call("DELETE", f"/api/bookings/{booking_id}", {204, 404})

    # -- moving and running slots ------------------------------------------------------------

    @rule(pick=picks, start=starts, length=lengths)
    @needs(lambda self: self.slot_ids)
    def move(self, pick: int, start: int, length: int) -> None:
        self.step("move")
        body = {"starts_at": at(start), "ends_at": at(start, length)}
        self.call("PATCH", f"/api/slots/{self.slot(pick)}", {200, 400, 409, 422}, body)

    @rule(
        pick=picks,
        minutes=st.sampled_from([-60, -30, -15, -5, 5, 15, 30, 60]),
        force=st.booleans(),
        cascade=st.booleans(),
    )
    @needs(lambda self: self.slot_ids)
    def delay(self, pick: int, minutes: int, force: bool, cascade: bool) -> None:
        self.step("delay" if minutes > 0 else "pull_forward")
        body = {"minutes": minutes, "cascade": cascade, "force": force}
        self.call("POST", f"/api/slots/{self.slot(pick)}/delay", {200, 400, 409, 422}, body)

    @rule(pick=picks, minutes=st.sampled_from([-30, -5, 5, 30]), meddle=st.booleans())
    @needs(lambda self: self.slot_ids)
    def delay_after_preview(self, pick: int, minutes: int, meddle: bool) -> None:
        """Preview, maybe change the schedule, then apply with the preview's seq."""
        self.step("delay_after_preview")
        path = f"/api/slots/{self.slot(pick)}/delay"
        body = {"minutes": minutes, "cascade": True, "force": True}
        preview = self.call("POST", path, {200, 400, 409, 422}, {**body, "dry_run": True})
        if preview.status_code != 200:
            return
        if meddle:  # any change of the event makes the preview stale
            title = {"title": f"Meddled {uuid.uuid4().hex[:6]}"}
            self.call("PATCH", f"/api/slots/{self.slot(pick + 1)}", {200}, title)
        applied = self.call(
            "POST", path, {200, 400, 409, 422}, {**body, "seq": preview.json()["seq"]}
        )
        stale = applied.status_code == 409 and applied.json()["extra"][0]["kind"] == "stale_preview"
        assert stale == meddle, applied.text  # refused exactly when the schedule changed
        self.counts["stale previews refused"] += stale

    @rule(
        pick=picks,
        command=st.sampled_from(["live", "end", "cancel", "reopen", "restore"]),
        early=st.booleans(),
    )
    @needs(lambda self: self.slot_ids)
    def change_state(self, pick: int, command: str, early: bool) -> None:
        self.step(command)
        slot_id = self.slot(pick)
        body = {"early": early} if command == "live" else None
        answer = self.call("POST", f"/api/slots/{slot_id}/{command}", {200, 400, 409, 422}, body)
        if command == "live" and answer.status_code == 200:
            self.went_live[slot_id] = datetime.fromisoformat(answer.json()["starts_at"])
        if command == "live" and not early:  # the example's day is years ahead
            assert answer.status_code == 409, answer.text

    @rule(pick=picks)
    @needs(lambda self: self.slot_ids)
    def run_on_air_and_undo(self, pick: int) -> None:
        """A whole turn on air: live (early), end, reopen, end; each may be refused (409)."""
        self.step("on_air_and_undo")
        slot_id = self.slot(pick)
        for command in ("live", "end", "reopen", "end"):
            body = {"early": True} if command == "live" else None
            answer = self.call("POST", f"/api/slots/{slot_id}/{command}", {200, 409}, body)
            self.counts[f"{command} {answer.status_code}"] += 1
            if command == "live" and answer.status_code == 200:
                self.went_live[slot_id] = datetime.fromisoformat(answer.json()["starts_at"])

    # -- concurrent pairs of conflicting writes ----------------------------------------------

    @rule(channel=st.sampled_from(CHANNELS), start=starts, length=lengths)
    def concurrent_overlapping_slots(self, channel: str, start: int, length: int) -> None:
        """Two overlapping slots on one channel at once: at most one may be created."""
        self.step("concurrent_slots")
        path = f"/api/events/{self.slug}/slots"
        bodies = [self.slot_body(channel, start, length), self.slot_body(channel, start, 15)]
        responses = self.pair(
            *(
                lambda client, body=body: self.call(
                    "POST", path, {201, 400, 409}, body, client=client
                )
                for body in bodies
            )
        )
        created = [r.json()["id"] for r in responses if r.status_code == 201]
        assert len(created) <= 1, [r.text for r in responses]
        self.slot_ids += created

    @rule(person_pick=picks, first=picks, second=picks)
    @needs(lambda self: self.slot_ids and self.persons)
    def concurrent_bookings(self, person_pick: int, first: int, second: int) -> None:
        """One person into two slots at once (the same one, or two that may clash)."""
        self.step("concurrent_bookings")
        person = self.person(person_pick)
        body = {"person_id": person.id, "role": person.role}
        paths = [f"/api/slots/{self.slot(pick)}/bookings" for pick in (first, second)]
        responses = self.pair(
            *(
                lambda client, path=path: self.call(
                    "POST", path, {201, 409, 422}, body, client=client
                )
                for path in paths
            )
        )
        if paths[0] == paths[1]:  # the same slot twice: one booking, one duplicate
            assert sorted(r.status_code for r in responses) != [201, 201]
        self.booked += [(r.json()["id"], person) for r in responses if r.status_code == 201]

    @rule(pick=picks, other=picks, start=starts, length=lengths)
    @needs(lambda self: self.slot_ids)
    def concurrent_move_and_delay(self, pick: int, other: int, start: int, length: int) -> None:
        """A move racing a forced cascading delay on the same schedule."""
        self.step("concurrent_move_delay")
        move = {"starts_at": at(start), "ends_at": at(start, length)}
        delay = {"minutes": 30, "cascade": True, "force": True}
        allowed = {200, 400, 409, 422}
        self.pair(
            lambda client: self.call(
                "PATCH", f"/api/slots/{self.slot(pick)}", allowed, move, client=client
            ),
            lambda client: self.call(
                "POST", f"/api/slots/{self.slot(other)}/delay", allowed, delay, client=client
            ),
        )

    @rule(pick=picks, accept=st.booleans())
    @needs(lambda self: self.booked)
    def concurrent_answer_and_remove(self, pick: int, accept: bool) -> None:
        """The person answers while the host removes the booking."""
        self.step("concurrent_answer_remove")
        booking_id, person = self.booked.pop(pick % len(self.booked))
        verb = "accept" if accept else "decline"
        self.pair(
            lambda client: self.call(
                "POST",
                f"/api/bookings/{booking_id}/{verb}",
                {200, 404, 409},
                None,
                person.token,
                client,
            ),
            lambda client: self.call(
                "DELETE", f"/api/bookings/{booking_id}", {204, 404}, None, None, client
            ),
        )

    def pair(self, *calls: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
        """Run two requests from two threads, released together by a barrier."""
        barrier = threading.Barrier(len(calls))

        def run(call: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
            headers = {"Authorization": f"Bearer {self.target.host_token}"}
            with plain_http.Client(base_url=self.target.url, headers=headers, timeout=30) as client:
                barrier.wait()
                return call(client)

        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(run, calls))

    # -- invariants: the database itself -----------------------------------------------------

    @invariant()
    def contract_rules_hold_in_the_database(self) -> None:
        self.counts["invariant_checks"] += 1
        people = {person.id for person in self.persons}
        rows = self.runner.run(read_database(self.engine, self.slug, people))
        check_rules(rows)
        for slot_id, starts_at in self.went_live.items():
            slot = rows.slots[slot_id]
            if slot.status in ("live", "ended"):
                assert slot.starts_at == starts_at, f"live slot {slot_id} moved its start"


@dataclass
class Rows:
    events: dict[str, Event]
    slots: dict[str, Slot]
    bookings: list[Booking]
    people: dict[str, Person]
    windows: dict[str, list[AvailabilityWindow]]
    changes: dict[str, list[int]]


async def read_database(engine: AsyncEngine, slug: str, people: set[str]) -> Rows:
    """The rows the rules speak of for one event and some people, read in one connection: the
    event's slots, every booking of those slots or those people, the slots and events of those
    bookings, and the people, windows and change logs of all of these."""
    async with engine.connect() as connection:

        async def all_of(model: Any, *where: Any) -> list[Any]:
            result = await connection.execute(select(model).where(*where))
            return [model.model_validate(row._mapping) for row in result]

        event_ids = {e.id for e in await all_of(Event, Event.slug == slug)}
        slots = {s.id: s for s in await all_of(Slot, Slot.event_id.in_(event_ids))}
        bookings = await all_of(Booking, Booking.slot_id.in_(slots) | Booking.person_id.in_(people))
        elsewhere = {b.slot_id for b in bookings} - slots.keys()
        slots |= {s.id: s for s in await all_of(Slot, Slot.id.in_(elsewhere))}
        event_ids |= {s.event_id for s in slots.values()}
        people = people | {b.person_id for b in bookings}
        windows: dict[str, list[AvailabilityWindow]] = {}
        for window in await all_of(AvailabilityWindow, AvailabilityWindow.person_id.in_(people)):
            windows.setdefault(window.person_id, []).append(window)
        changes: dict[str, list[int]] = {}
        for change in await all_of(Change, Change.event_id.in_(event_ids)):
            changes.setdefault(change.event_id, []).append(change.seq)
        return Rows(
            events={e.id: e for e in await all_of(Event, Event.id.in_(event_ids))},
            slots=slots,
            bookings=bookings,
            people={p.id: p for p in await all_of(Person, Person.id.in_(people))},
            windows=windows,
            changes=changes,
        )


def check_rules(rows: Rows) -> None:
    live = [s for s in rows.slots.values() if s.status != "cancelled"]
    for i, one in enumerate(live):
        for two in live[i + 1 :]:
            if one.channel_id == two.channel_id:
                overlap = one.starts_at < two.ends_at and two.starts_at < one.ends_at
                assert not overlap, f"channel overlap: {one.id} {two.id}"
    on_air = [s.channel_id for s in rows.slots.values() if s.status == "live"]
    assert len(on_air) == len(set(on_air)), "two live slots on one channel"
    for slot in rows.slots.values():
        check_on_air(slot)
    active = [b for b in rows.bookings if b.status in ACTIVE_BOOKING_STATUSES]
    for booking in active:
        check_booking(rows, booking)
    for i, one in enumerate(active):
        for two in active[i + 1 :]:
            if one.person_id == two.person_id:
                clash = one.starts_at < two.busy_until and two.starts_at < one.busy_until
                assert not clash, f"person {one.person_id} double-booked: {one.id} {two.id}"
    for event in rows.events.values():
        seqs = sorted(rows.changes.get(event.id, []))
        assert seqs == list(range(1, event.last_seq + 1)), f"change seqs of {event.slug}: {seqs}"


def check_on_air(slot: Slot) -> None:
    """What a slot records of its time on air agrees with its state."""
    started, ended = slot.actual_started_at is not None, slot.actual_ended_at is not None
    expected = {
        "scheduled": (False, False),
        "cancelled": (False, False),
        "live": (True, False),
        "ended": (True, True),
    }[slot.status]
    assert (started, ended) == expected, f"slot {slot.id} is {slot.status}: {started}, {ended}"


def check_booking(rows: Rows, booking: Booking) -> None:
    slot = rows.slots[booking.slot_id]
    changeover = timedelta(minutes=rows.events[slot.event_id].changeover_minutes)
    assert booking.starts_at == slot.starts_at, f"booking {booking.id} starts_at out of step"
    assert booking.busy_until == slot.ends_at + changeover, f"booking {booking.id} busy_until"
    windows = rows.windows.get(booking.person_id, [])
    if windows:
        inside = any(w.starts_at <= slot.starts_at and slot.ends_at <= w.ends_at for w in windows)
        assert inside, f"booking {booking.id} outside the person's availability"
    if booking.role == "therapist":
        person = rows.people[booking.person_id]
        assert person.license_verified_at is not None, f"unverified therapist in {booking.id}"
        expires = person.license_expires_on
        assert expires is not None and expires >= slot.starts_at.date(), f"expired: {booking.id}"


@pytest.fixture
def target(db_url: str, tmp_path: Path) -> Iterator[Target]:
    env = server_env(db_url, TAKEAMOMENT_RATE_LIMIT_PER_MINUTE="0")
    token = issue_host_token(env, tmp_path)
    process, url = start_server(env, tmp_path)
    try:
        yield Target(url=url, host_token=token, db_url=db_url)
    finally:
        stop_server(process)


def test_booking_rules_hold_under_random_commands(target: Target) -> None:
    counts: Counter[str] = Counter()
    with asyncio.Runner() as runner:
        engine = create_async_engine(target.db_url)
        BookingRules.target, BookingRules.counts = target, counts
        BookingRules.runner, BookingRules.engine = runner, engine
        BookingRules.shared = []
        try:
            run_state_machine_as_test(
                BookingRules,
                settings=settings(
                    max_examples=20,
                    stateful_step_count=30,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    # Each replay runs against the server: a failure is reported unshrunk
                    # (at most a few dozen steps) instead of minutes of shrinking.
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                ),
            )
        finally:
            runner.run(engine.dispose())
    summary = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()))
    print(f"\nbooking rules state machine: {summary}")
    assert counts["examples"] >= 20


def test_the_checker_catches_broken_rules() -> None:
    """The invariant is not vacuous: each kind of broken row is reported."""
    event = Event(id="e", slug="e", title="E", timezone="UTC", starts_at=DAY, ends_at=DAY)
    event.last_seq = 1

    def slot(slot_id: str, channel: str, start: int) -> Slot:
        return Slot(
            id=slot_id,
            event_id="e",
            channel_id=channel,
            title="S",
            starts_at=DAY + timedelta(minutes=start),
            ends_at=DAY + timedelta(minutes=start + 30),
        )

    def booking(booking_id: str, of: Slot) -> Booking:
        busy = of.ends_at + timedelta(minutes=event.changeover_minutes)
        return Booking(
            id=booking_id,
            slot_id=of.id,
            person_id="p",
            role="creator",
            starts_at=of.starts_at,
            busy_until=busy,
        )

    def rows(slots: list[Slot], bookings: list[Booking], seqs: list[int]) -> Rows:
        return Rows(
            events={"e": event},
            slots={s.id: s for s in slots},
            bookings=bookings,
            people={},
            windows={},
            changes={"e": seqs},
        )

    apart = [slot("s1", "a", 0), slot("s2", "b", 35)]  # 5 minutes apart: the changeover
    check_rules(rows(apart, [booking("b1", apart[0]), booking("b2", apart[1])], [1]))
    with pytest.raises(AssertionError, match="channel overlap"):
        check_rules(rows([slot("s1", "a", 0), slot("s2", "a", 15)], [], [1]))
    close = [slot("s1", "a", 0), slot("s2", "b", 32)]
    with pytest.raises(AssertionError, match="double-booked"):
        check_rules(rows(close, [booking("b1", close[0]), booking("b2", close[1])], [1]))
    with pytest.raises(AssertionError, match="change seqs"):
        check_rules(rows(apart, [], [2]))
