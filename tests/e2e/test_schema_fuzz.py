"""Schemathesis against the server's own ``/schema/openapi.json``, on real servers.

Every operation of the document is called with generated requests (valid and invalid ones), as an
authenticated host, against a seeded event so that path parameters also name real things; each
request goes to two servers, one on SQLite and one on PostgreSQL. Each answer must be no 5xx,
carry a documented status code and content type, and match the documented schema. Generation is
bounded (``MAX_EXAMPLES`` per operation) and derandomized, so a CI run makes the same requests
every time. The number of requests is printed at the end (``-s``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

from tests import plain_http
from tests.conftest import empty_database, sqlite_copy
from tests.e2e.conftest import issue_host_token, server_env, start_server, stop_server
from tests.launch import Launched

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
    with plain_http.Client(base_url=url, headers=headers, timeout=10) as http:

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


@dataclass(frozen=True)
class Target:
    """A server on one backend, seeded, with its host token and its real path values."""

    backend: str
    url: str
    token: str
    real: dict[str, list[str]]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def targets(
    sqlite_template: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[list[Target]]:
    """One server on SQLite and one on PostgreSQL: every generated request goes to both.

    Generating the requests costs more CPU than the servers answering them, so they are made
    once (they were the same on both before: generation is derandomized).
    """
    pg_url: str = request.getfixturevalue("pg_database")
    asyncio.run(empty_database(pg_url))
    databases = {"sqlite": sqlite_copy(tmp_path, sqlite_template), "postgres": pg_url}
    processes: list[Launched] = []
    found: list[Target] = []
    try:
        for backend, db_url in databases.items():
            cwd = tmp_path / backend
            cwd.mkdir()
            env = server_env(db_url, **FUZZ_ENV)
            token = issue_host_token(env, cwd)
            process, url = start_server(env, cwd)
            processes.append(process)
            found.append(Target(backend, url, token, seed(url, token)))
        yield found
    finally:
        for process in processes:
            stop_server(process)


@pytest.fixture
def api_schema(targets: list[Target]) -> schemathesis.BaseSchema:
    real = targets[0].real
    schema = schemathesis.openapi.from_url(f"{targets[0].url}/schema/openapi.json")

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


def same_thing_on(target: Target, first: Target) -> dict[str, str]:
    """The first server's seeded values mapped to what the same seeding made on ``target``."""
    return {
        mine: theirs
        for name, values in first.real.items()
        for mine, theirs in zip(values, target.real[name], strict=True)
    }


def fuzz_operation(
    schema: schemathesis.BaseSchema,
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    targets: list[Target],
    counts: Counter[str],
) -> None:
    """Up to MAX_EXAMPLES derandomized cases of one operation, each sent to every target;
    raises on the first failure, naming the backend."""
    translations = [same_thing_on(target, targets[0]) for target in targets]

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, hooks=schema.hooks))
    def run(case: schemathesis.Case) -> None:
        generated = case.path_parameters
        for target, translation in zip(targets, translations, strict=True):
            if generated:
                case.path_parameters = {
                    name: translation.get(value, value) if isinstance(value, str) else value
                    for name, value in generated.items()
                }
            try:
                response = case.call_and_validate(
                    base_url=target.url, headers=target.headers(), checks=CHECKS
                )
            except Exception as failure:
                failure.add_note(f"on {target.backend}")
                raise
            finally:
                case.path_parameters = generated
            counts[f"{response.status_code // 100}xx"] += 1

    run()


@pytest.mark.postgres
def test_every_operation_answers_as_documented_on_sqlite_and_postgres(
    api_schema: schemathesis.BaseSchema, targets: list[Target]
) -> None:
    counts: Counter[str] = Counter()
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            try:
                fuzz_operation(api_schema, operation, mode, targets, counts)
            except Unsatisfiable:
                # No parameters and no body: there is nothing to make invalid.
                if mode is not schemathesis.GenerationMode.NEGATIVE:
                    raise
            except Exception as failure:  # report every operation's failure, not just the first
                notes = " ".join(getattr(failure, "__notes__", []))
                failures.append(f"{operation.label} ({mode.value}) {notes}: {failure}")
    by_status = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
    print(
        f"\nschema fuzz: {len(operations)} operations, {sum(counts.values())} requests"
        f" on {len(targets)} servers ({by_status})"
    )
    assert len(operations) > 20
    assert not failures, "\n\n".join(failures)
