"""Random JSON bodies, near-valid and not, never make the service answer 500.

Each test shares one client and one database across its examples (hence the suppressed
function-scoped-fixture health check): the property must hold whatever state earlier examples left.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.builders import event_with_channels, invite, slot_with_person
from tests.helpers import Client, at, auth, ok

FUZZ = settings(
    max_examples=50,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def json_values() -> st.SearchStrategy[Any]:
    numbers = st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    scalars = st.none() | st.booleans() | numbers | st.text()
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=8,
    )


def datetime_texts() -> st.SearchStrategy[str]:
    """Datetimes as text: mostly inside the event, else any year, naive or up to +-14 hours."""
    offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
    any_time = st.datetimes(timezones=st.none() | offsets).map(lambda d: d.isoformat())
    in_the_event = st.integers(0, 23 * 4).map(lambda quarter: at(0, 15 * quarter))
    return in_the_event | any_time


def mutated(valid: st.SearchStrategy[dict[str, Any]], fields: list[str]) -> st.SearchStrategy[Any]:
    """Valid bodies with up to three fields dropped or replaced by anything, or any JSON at all."""
    junk = datetime_texts() | json_values()
    replaced = st.dictionaries(st.sampled_from(fields) | st.text(max_size=12), junk, max_size=3)
    dropped = st.sets(st.sampled_from(fields), max_size=2)
    bodies = st.builds(
        lambda body, new, gone: {k: v for k, v in {**body, **new}.items() if k not in gone},
        valid,
        replaced,
        dropped,
    )
    return bodies | json_values()


def text(max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(min_size=1, max_size=max_size)


SLOT = st.fixed_dictionaries(
    {
        "channel": st.sampled_from(["main", "garden", "nope"]),
        "title": text(),
        "starts_at": datetime_texts(),
        "ends_at": datetime_texts(),
    },
    optional={
        "description": st.text(max_size=30),
        "tags": st.lists(text(10), max_size=3),
        "kind": text(10),
    },
)
SLOT_FIELDS = ["channel", "title", "description", "tags", "kind", "starts_at", "ends_at"]

ZONES = st.sampled_from(["UTC", "Europe/London", "Asia/Kathmandu", "America"]) | st.text()
EVENT = st.fixed_dictionaries(
    {
        "slug": st.sampled_from(["fuzz", "fuzz-new"])
        | st.from_regex(r"[a-z0-9-]{1,8}", fullmatch=True),
        "title": text(),
        "timezone": ZONES,
        "starts_at": datetime_texts(),
        "ends_at": datetime_texts(),
    },
    optional={
        "description": st.text(max_size=30),
        "hashtags": st.lists(text(10), max_size=3),
        "changeover_minutes": st.integers(-5, 2000),
        "reminder_minutes": st.lists(st.integers(-5, 20_000), max_size=4),
        "safety_resources": st.lists(
            st.fixed_dictionaries({"name": text()}, optional={"phone": text(), "url": text()}),
            max_size=2,
        ),
    },
)
EVENT_FIELDS = ["slug", "title", "timezone", "starts_at", "ends_at", "changeover_minutes"]

LICENCE = st.fixed_dictionaries(
    {
        "number": text(10),
        "issuer": text(10),
        "jurisdiction": text(10),
        "expires_on": st.dates().map(lambda d: d.isoformat()) | st.text(max_size=12),
    }
)
PERSON = st.fixed_dictionaries(
    {
        "name": text(),
        "handle": st.from_regex(r"@?[A-Za-z0-9_.]{1,20}", fullmatch=True),
        "role": st.sampled_from(["creator", "therapist", "host"]),
    },
    optional={
        "email": st.sampled_from(["a@b.co"]) | st.text(max_size=20),
        "timezone": ZONES,
        "license": LICENCE | json_values(),
    },
)
PERSON_FIELDS = ["name", "handle", "role", "email", "timezone", "license"]

WINDOW = st.fixed_dictionaries({"starts_at": datetime_texts(), "ends_at": datetime_texts()})
AVAILABILITY = st.lists(mutated(WINDOW, ["starts_at", "ends_at"]), max_size=3) | json_values()

BOOKING = st.fixed_dictionaries(
    {
        "person_id": st.sampled_from(["{person}", "nope"]) | st.text(max_size=40),
        "role": st.sampled_from(["creator", "therapist", "host"]),
    }
)
CHANNEL = st.fixed_dictionaries(
    {"slug": st.from_regex(r"[a-z0-9-]{1,8}", fullmatch=True), "name": text()}
)

CHANNEL_UPDATE = st.fixed_dictionaries(
    {},
    optional={
        "name": text(),
        "position": st.integers(-3, 2000),
        "stream_url": st.sampled_from(["https://example.com/live", None]) | st.text(max_size=20),
    },
)
BOOKED_SLOT = SLOT.map(lambda slot: {**slot, "channel": "main"}).flatmap(
    lambda slot: st.fixed_dictionaries(
        {"bookings": st.lists(st.fixed_dictionaries({"person": text(12)}), max_size=2)}
    ).map(lambda extra: {**slot, **extra})
)
DOCUMENT = EVENT.flatmap(
    lambda event: st.fixed_dictionaries(
        {
            "channels": st.lists(CHANNEL, max_size=2) | st.just([{"slug": "main", "name": "M"}]),
            "people": st.lists(mutated(PERSON, PERSON_FIELDS), max_size=2),
            "slots": st.lists(mutated(BOOKED_SLOT, SLOT_FIELDS), max_size=3),
        }
    ).map(lambda lists: {**event, **lists})
)
DOCUMENT_FIELDS = ["slug", "starts_at", "channels", "people", "slots"]

REQUESTS = st.one_of(
    st.tuples(st.just("PATCH"), st.just("/api/people/{person}"), mutated(PERSON, PERSON_FIELDS)),
    st.tuples(
        st.just("POST"),
        st.just("/api/people/{person}/availability"),
        mutated(WINDOW, ["starts_at"]),
    ),
    st.tuples(
        st.just("PATCH"),
        st.just("/api/events/fuzz/channels/main"),
        mutated(CHANNEL_UPDATE, ["name", "position"]),
    ),
    st.tuples(st.just("POST"), st.just("/api/events/import"), mutated(DOCUMENT, DOCUMENT_FIELDS)),
    st.tuples(
        st.just("POST"),
        st.just("/api/events/import?dry_run=true"),
        mutated(DOCUMENT, DOCUMENT_FIELDS),
    ),
    st.tuples(st.just("POST"), st.just("/api/events"), mutated(EVENT, EVENT_FIELDS)),
    st.tuples(st.just("PATCH"), st.just("/api/events/fuzz"), mutated(EVENT, EVENT_FIELDS)),
    st.tuples(st.just("POST"), st.just("/api/events/fuzz/channels"), mutated(CHANNEL, ["slug"])),
    st.tuples(st.just("POST"), st.just("/api/people"), mutated(PERSON, PERSON_FIELDS)),
    st.tuples(st.just("PUT"), st.just("/api/people/{person}/availability"), AVAILABILITY),
    st.tuples(st.just("POST"), st.just("/api/slots/{slot}/bookings"), mutated(BOOKING, ["role"])),
)


async def fuzz_target(client: Client, host_token: str) -> dict[str, str]:
    """The ids of the "fuzz" event's booked slot and its person, built by the first call."""
    response = await client.get("/api/events/fuzz/schedule", headers=auth(host_token))
    if response.status_code == 404:
        await event_with_channels(client, host_token, "fuzz", channels=("main", "garden"))
        slot, person = await slot_with_person(
            client, host_token, at(10), at(11), handle="fuzzed", event="fuzz"
        )
        await invite(client, host_token, slot["id"], person)
        return {"slot": slot["id"], "person": person["id"]}
    slot = next(s for s in (await ok(response))["slots"] if s["bookings"])
    return {"slot": slot["id"], "person": slot["bookings"][0]["person"]["id"]}


def filled(value: Any, ids: dict[str, str]) -> Any:
    """The value with "{slot}" and "{person}" strings replaced by the real ids."""
    if isinstance(value, str) and value in ("{slot}", "{person}"):
        return ids[value.strip("{}")]
    if isinstance(value, dict):
        return {key: filled(item, ids) for key, item in value.items()}
    return value


@FUZZ
@given(body=mutated(SLOT, SLOT_FIELDS))
async def test_random_json_bodies_for_slots_never_cause_a_500(
    client: Client, host_token: str, body: Any
) -> None:
    ids = await fuzz_target(client, host_token)
    created = await client.post("/api/events/fuzz/slots", json=body, headers=auth(host_token))
    assert created.status_code < 500, created.text
    patched = await client.patch(f"/api/slots/{ids['slot']}", json=body, headers=auth(host_token))
    assert patched.status_code < 500, patched.text


@FUZZ
@given(request=REQUESTS)
async def test_random_json_bodies_for_events_people_and_bookings_never_cause_a_500(
    client: Client, host_token: str, request: tuple[str, str, Any]
) -> None:
    ids = await fuzz_target(client, host_token)
    method, path, body = request
    url = path.format(**ids)
    response = await client.request(method, url, json=filled(body, ids), headers=auth(host_token))
    assert response.status_code < 500, response.text
