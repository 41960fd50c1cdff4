"""Schemathesis against the server's own ``/schema/openapi.json``, on a real server.

Every operation of the document is called with generated requests (valid and invalid ones), as an
authenticated host, against a seeded event so that path parameters also name real things. Each
answer must be no 5xx, carry a documented status code and content type, and match the documented
schema. Generation is bounded (``MAX_EXAMPLES`` per operation) and derandomized, so a CI run
makes the same requests every time. The number of requests is printed at the end (``-s``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import issue_host_token, server_env, start_server, stop_server

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Generated tokens and feed names fail authentication on purpose; the per-address limit would
# then answer 429 to everything and hide the answers under test.
FUZZ_ENV = {
    "TAKEAMOMENT_AUTH_FAILURE_LIMIT": "1000000000",
    "TAKEAMOMENT_RATE_LIMIT_PER_MINUTE": "0",
}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def seed(url: str, token: str) -> dict[str, list[str]]:
    """A published event with a channel, slots, a creator, a licensed therapist and a booking.

    Returns real values for each path parameter name of the API.
    """
    headers = {"Authorization": f"Bearer {token}"}
    tag = uuid.uuid4().hex[:6]
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:

        def post(path: str, body: Any = None) -> dict[str, Any]:
            response = http.post(path, json=body)
            assert response.status_code in (200, 201), response.text
            result: dict[str, Any] = response.json()
            return result

        slug = f"fuzz-{tag}"
        post(
            "/api/events",
            {
                "slug": slug,
                "title": "Fuzz",
                "timezone": "Europe/Berlin",
                "starts_at": "2031-05-01T08:00:00+00:00",
                "ends_at": "2031-05-03T20:00:00+00:00",
            },
        )
        post(f"/api/events/{slug}/channels", {"slug": "main", "name": "Main"})
        slots = [
            post(
                f"/api/events/{slug}/slots",
                {
                    "channel": "main",
                    "title": f"Slot {hour}",
                    "starts_at": f"2031-05-01T{hour:02d}:00:00+00:00",
                    "ends_at": f"2031-05-01T{hour:02d}:45:00+00:00",
                },
            )["id"]
            for hour in (9, 11, 13)
        ]
        post(f"/api/events/{slug}/publish")
        creator = post(
            "/api/people", {"name": "Cre Ator", "handle": f"creator{tag}", "role": "creator"}
        )
        therapist = post(
            "/api/people",
            {
                "name": "The Rapist",
                "handle": f"therapist{tag}",
                "role": "therapist",
                "license": {
                    "number": "L-1",
                    "issuer": "Board",
                    "jurisdiction": "DE",
                    "expires_on": "2040-01-01",
                },
            },
        )
        post(f"/api/people/{therapist['id']}/license/verify")
        booking = post(
            f"/api/slots/{slots[0]}/bookings", {"person_id": creator["id"], "role": "creator"}
        )
        feed = creator["feed_url"].rsplit("/", 1)[-1]
    return {
        "slug": [slug],
        "slot_id": slots,
        "person_id": [creator["id"], therapist["id"]],
        "booking_id": [booking["id"]],
        "feed_file": [feed],
    }


@pytest.fixture
def fuzz_server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str, dict[str, list[str]]]]:
    env = server_env(db_url, **FUZZ_ENV)
    token = issue_host_token(env, tmp_path)
    process, url = start_server(env, tmp_path)
    try:
        yield url, token, seed(url, token)
    finally:
        stop_server(process)


@pytest.fixture
def api_schema(fuzz_server: tuple[str, str, dict[str, list[str]]]) -> schemathesis.BaseSchema:
    url, token, real = fuzz_server
    schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json")

    @schema.hook
    def flatmap_path_parameters(
        context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        if not path_parameters:
            return st.just(path_parameters)
        # Generated values almost never name anything: mix in the seeded ones.
        return st.fixed_dictionaries(
            {
                name: st.sampled_from([value, *real.get(name, [])])
                for name, value in path_parameters.items()
            }
        )

    return schema


def fuzz_operation(
    schema: schemathesis.BaseSchema,
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    headers: dict[str, str],
    counts: Counter[str],
) -> None:
    """Up to MAX_EXAMPLES derandomized cases of one operation; raises on the first failure."""

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, hooks=schema.hooks))
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        counts[f"{response.status_code // 100}xx"] += 1

    run()


def test_every_operation_answers_as_documented(
    api_schema: schemathesis.BaseSchema, fuzz_server: tuple[str, str, dict[str, list[str]]]
) -> None:
    headers = {"Authorization": f"Bearer {fuzz_server[1]}"}
    counts: Counter[str] = Counter()
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            try:
                fuzz_operation(api_schema, operation, mode, headers, counts)
            except Unsatisfiable:
                # No parameters and no body: there is nothing to make invalid.
                if mode is not schemathesis.GenerationMode.NEGATIVE:
                    raise
            except Exception as failure:  # report every operation's failure, not just the first
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    by_status = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
    print(
        f"\nschema fuzz: {len(operations)} operations, {sum(counts.values())} requests"
        f" ({by_status})"
    )
    assert len(operations) > 20
    assert not failures, "\n\n".join(failures)
