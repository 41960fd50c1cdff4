"""Request ids, the 500 answer and its log line, JSON log lines and the metrics helpers.

A real server's /metrics and JSON logs: ``tests/e2e/test_observe.py``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar, WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from takeamoment import metrics
from takeamoment.app import create_app
from takeamoment.logs import JsonLines, StampRequestId, redact
from takeamoment.realtime.hub import Hub
from takeamoment.request_id import bind_request_id, choose_request_id, unbind_request_id
from takeamoment.settings import Settings
from tests.conftest import ONE_BACKEND
from tests.helpers import Client

pytestmark = ONE_BACKEND  # request ids, logs and metrics

SECRET = "tam_s3cretS3cretS3cretS3cretS3cretS3cret00"


class Boom(Exception):
    """What the failing route raises: nothing in the app maps it."""


@get("/test/boom", sync_to_thread=False)
def boom() -> None:
    raise Boom(f"the failure's own words, with a secret: ?token={SECRET}")


@websocket("/test/ws-boom")
async def ws_boom(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    raise Boom("a stream's own failure")


def failing_app(settings: Settings) -> Litestar:
    """The app as ``create_app`` wires it, plus routes that always fail."""
    app = create_app(settings)
    app.register(boom)
    app.register(ws_boom)
    return app


@pytest.fixture(params=[False, True], ids=["production", "debug"])
async def failing(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Client]:
    app = failing_app(settings.model_copy(update={"debug": request.param}))
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_an_unhandled_exception_is_logged_with_the_request_id_and_the_500_shows_it(
    failing: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="takeamoment.api.errors"):
        response = await failing.get("/test/boom", headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-42"
    body = response.json()
    assert (body["status_code"], body["detail"]) == (500, "Internal Server Error")
    assert body["extra"]["request_id"] == "trace-42"
    if failing.app.debug:
        assert "Boom" in "".join(body["extra"]["traceback"])
    else:
        assert set(body["extra"]) == {"request_id"}
        assert "Traceback" not in response.text and "Boom" not in response.text
    [record] = [r for r in caplog.records if r.name == "takeamoment.api.errors"]
    assert "trace-42" in record.getMessage() and "/test/boom" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is Boom


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_an_unhandled_exception_on_a_websocket_is_logged_with_its_traceback(
    failing: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="takeamoment.api.observe"),
        await failing.websocket_connect("/test/ws-boom") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text(timeout=10)
    assert closed.value.code == 4500
    [record] = [r for r in caplog.records if r.name == "takeamoment.api.observe"]
    assert "/test/ws-boom" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is Boom


async def test_each_request_gets_an_id_kept_from_a_sane_header_or_made_anew(
    client: Client,
) -> None:
    kept = await client.get("/healthz", headers={"X-Request-ID": "abc-123_x.y:z"})
    assert kept.headers["x-request-id"] == "abc-123_x.y:z"
    made = {
        (await client.get("/healthz")).headers["x-request-id"],
        (await client.get("/healthz")).headers["x-request-id"],
    }
    assert len(made) == 2 and all(len(made_id) == 32 for made_id in made)
    for insane in ("has space", "x" * 129, 'quote"d', ""):
        answer = await client.get("/healthz", headers={"X-Request-ID": insane})
        assert answer.headers["x-request-id"] != insane
    # Answered before any route matched, and still carries one.
    unknown = await client.get("/no/such/path", headers={"X-Request-ID": "nf-1"})
    assert (unknown.status_code, unknown.headers["x-request-id"]) == (404, "nf-1")


def test_a_request_id_is_a_short_safe_word() -> None:
    assert choose_request_id("0af7651916cd43dd8448eb211c80319c") == (
        "0af7651916cd43dd8448eb211c80319c"
    )
    for forged in ("a\nb", "a b", "<script>", "é", "x" * 200, None):
        chosen = choose_request_id(forged)
        assert chosen != forged and len(chosen) == 32


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("takeamoment.x", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_json_lines_are_one_object_each_with_the_request_id_and_no_token() -> None:
    formatter, stamp = JsonLines(), StampRequestId()
    binding = bind_request_id("req-7")
    try:
        record = _record("fetched %s", f"/feeds/{SECRET}.ics", route="/api/x/{x_id}", status=200)
        assert stamp.filter(record)
    finally:
        unbind_request_id(binding)
    try:
        raise ValueError(f'?token={SECRET} and a quote " and a newline\n')
    except ValueError:
        failed = _record("failed", path=f"/ws/me?token={SECRET}")
        failed.exc_info = sys.exc_info()
    lines = [formatter.format(record), formatter.format(failed)]
    assert all("\n" not in line and SECRET not in line for line in lines)
    first, second = (json.loads(line) for line in lines)
    assert first["request_id"] == "req-7" and first["logger"] == "takeamoment.x"
    assert first["message"] == redact(f"fetched /feeds/{SECRET}.ics")
    assert (first["route"], first["status"], first["level"]) == ("/api/x/{x_id}", 200, "INFO")
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert "request_id" not in second  # logged outside any request
    assert "ValueError" in second["exception"] and second["path"] == "/ws/me?token=[redacted]"


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_notices_are_counted_due_late_and_missed_by_channel() -> None:
    before = {
        name: _sample(f"takeamoment_notices_{name}_total", channel="stream")
        for name in ("due", "sent_late", "missed")
    }
    metrics.notice_outcome("stream", "sent", timedelta(seconds=0.2))
    metrics.notice_outcome("stream", "sent", timedelta(seconds=30))
    metrics.notice_outcome("stream", "missed", timedelta(minutes=10))
    metrics.notice_outcome("stream", "not owed", timedelta(0))
    after = {
        name: _sample(f"takeamoment_notices_{name}_total", channel="stream") for name in before
    }
    assert {name: after[name] - before[name] for name in before} == {
        "due": 3,
        "sent_late": 1,
        "missed": 1,
    }


def test_change_to_send_is_measured_from_the_changes_own_time() -> None:
    name = "takeamoment_change_to_send_seconds"
    count_before = _sample(f"{name}_count", kind="me")
    sum_before = _sample(f"{name}_sum", kind="me")
    fanned_before = _sample("takeamoment_messages_fanned_out_total", kind="me")
    at = (datetime.now(UTC) - timedelta(seconds=3)).isoformat()
    metrics.fanned_out("person:p1", {"seq": 1, "at": at}, subscribers=4)
    metrics.fanned_out("person:p1", {"seq": 2, "at": "not a time"}, subscribers=1)
    assert _sample(f"{name}_count", kind="me") - count_before == 1
    assert _sample(f"{name}_sum", kind="me") - sum_before >= 3
    assert _sample("takeamoment_messages_fanned_out_total", kind="me") - fanned_before == 5


async def test_the_hub_counts_open_streams_and_drops_the_too_slow() -> None:
    hub = Hub(max_backlog=2)
    opened = _sample("takeamoment_websockets_open", kind="me")
    dropped = _sample("takeamoment_viewers_dropped_total", kind="me")
    with hub.subscribe("person:slow") as subscription:
        assert _sample("takeamoment_websockets_open", kind="me") == opened + 1
        for seq in range(1, 6):  # nobody writes: the backlog of 2 overflows once
            hub.dispatch("person:slow", {"seq": seq})
        assert subscription.overflowed
    assert _sample("takeamoment_websockets_open", kind="me") == opened
    assert _sample("takeamoment_viewers_dropped_total", kind="me") == dropped + 1
