"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

from tests.helpers import Client, ok

# The HTTP API of CONTRACT.md for core scheduling, as OpenAPI writes its paths.
CONTRACT_PATHS = {
    "/api/events": {"get", "post"},
    "/api/events/{slug}": {"get", "patch"},
    "/api/events/{slug}/publish": {"post"},
    "/api/events/{slug}/channels": {"post"},
    "/api/events/{slug}/slots": {"post"},
    "/api/events/{slug}/schedule": {"get"},
    "/api/events/{slug}/changes": {"get"},
    "/api/events/{slug}/follows": {"post"},
    "/api/people": {"post"},
    "/api/people/{person_id}": {"get"},
    "/api/people/{person_id}/license/verify": {"post"},
    "/api/people/{person_id}/availability": {"put"},
    "/api/people/{person_id}/feed-token/rotate": {"post"},
    "/api/slots/{slot_id}": {"patch"},
    "/api/slots/{slot_id}/bookings": {"post"},
    "/api/bookings/{booking_id}": {"delete"},
    "/api/bookings/{booking_id}/accept": {"post"},
    "/api/bookings/{booking_id}/decline": {"post"},
    "/healthz": {"get"},
    "/readyz": {"get"},
}


async def test_healthz_and_readyz_answer_200_when_the_database_answers(client: Client) -> None:
    assert (await ok(await client.get("/healthz")))["status"] == "ok"
    ready = await ok(await client.get("/readyz"))
    assert (ready["status"], ready["database"]) == ("ok", "ok")
    assert ready["scheduler"] in ("running", "standby")


async def test_the_openapi_document_lists_every_path_of_the_contract(client: Client) -> None:
    document = await ok(await client.get("/schema/openapi.json"))
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "takeamoment"
    for path, methods in CONTRACT_PATHS.items():
        assert path in document["paths"], path
        assert methods <= set(document["paths"][path]), (path, set(document["paths"][path]))
