"""No token carried in a URL reaches a log: the filter itself, then a real server's output."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from takeamoment.logs import RedactTokens, app_logging_config, redact, uvicorn_log_config
from tests import plain_http
from tests.conftest import ONE_BACKEND
from tests.e2e.conftest import Server, issue_host_token, server_env, start_server, stop_server
from tests.e2e.test_realtime import Host, recv, ws_url

pytestmark = ONE_BACKEND  # what a server writes to its log

TOKEN = "tam_" + "a1B2-c3_D4" * 4 + "xyz"  # the shape of a real token: 43 base64url characters
FEED = "tamf_" + "Z9y8-X7_w6" * 4 + "vut"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/ws/me?token={TOKEN}", "/ws/me?token=[redacted]"),
        (f"/ws/me?since=4&token={TOKEN}&x=1", "/ws/me?since=4&token=[redacted]&x=1"),
        (f"/ws/me?TOKEN={TOKEN}", "/ws/me?TOKEN=[redacted]"),
        (f"/api/events?tok%65n={TOKEN}", "/api/events?tok%65n=[redacted]"),
        (f"/api/events?anything={TOKEN}#x", "/api/events?anything=[redacted]#x"),
        (f"GET /feeds/{FEED}.ics HTTP/1.1", "GET /feeds/[redacted].ics HTTP/1.1"),
        (f"webcal://h/feeds/{FEED}.ics?x=1", "webcal://h/feeds/[redacted].ics?x=1"),
        (f"/feed/{FEED}.ics", "/feed/[redacted].ics"),
        (f"/FEEDS/{FEED}.ics", "/FEEDS/[redacted].ics"),
        (f"/feeds/{FEED}", "/feeds/[redacted]"),
        (f"Authorization: Bearer {TOKEN}", "Authorization: Bearer [redacted]"),
        # Percent-escapes inside the token do not hide it.
        (f"/api/events?q=%74{TOKEN[1:]}", "/api/events?q=[redacted]"),
        (f"/api/events?q={TOKEN[:9]}%2D{TOKEN[10:]}", "/api/events?q=[redacted]"),
        (f"/api/events?q=%2574{TOKEN[1:]}", "/api/events?q=[redacted]"),
        # Nothing else changes.
        ("/api/people/3/feed-token/rotate", "/api/people/3/feed-token/rotate"),
        ("/ws/events/tam?since=3", "/ws/events/tam?since=3"),
        ("/ws/me?token=tam_short", "/ws/me?token=tam_short"),
        ("/search?q=50%25%20off", "/search?q=50%25%20off"),
    ],
)
def test_tokens_are_redacted_by_their_shape_anywhere_and_nothing_else(
    text: str, expected: str
) -> None:
    assert redact(text) == expected


def test_the_filter_rewrites_the_arguments_uvicorns_access_log_passes() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/feeds/{FEED}.ics", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    assert record.args == ("127.0.0.1:5000", "GET", "/feeds/[redacted].ics", "1.1", 200)
    mapping = logging.LogRecord("x", logging.INFO, __file__, 1, "at %(url)s", (), None)
    mapping.args = {"url": f"/ws/me?token={TOKEN}"}
    RedactTokens().filter(mapping)
    assert mapping.getMessage() == "at /ws/me?token=[redacted]"


def test_every_handler_of_uvicorn_and_of_the_app_has_the_filter() -> None:
    for handlers in (uvicorn_log_config()["handlers"], app_logging_config().handlers):
        assert handlers
        for handler in handlers.values():
            assert "redact_tokens" in handler["filters"]


@pytest.mark.slow
async def test_a_real_servers_output_never_holds_a_token_from_a_url(
    db_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # The server writes to this test's captured stdout/stderr; INFO turns the access log on.
    env = server_env(db_url, TAKEAMOMENT_LOG_LEVEL="info")
    process, url = start_server(env, tmp_path)
    try:
        server = Server(url, issue_host_token(env, tmp_path), env)
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            host = Host(client, server)
            await host.published_event()
            person = await host.post(
                "/api/people", {"name": "Ana", "handle": "ana", "role": "creator"}
            )
            slot = await host.slot(9)
            booking = {"person_id": person["id"], "role": "creator"}
            await host.post(f"/api/slots/{slot['id']}/bookings", booking)
            feed_path = person["feed_url"].removeprefix("http://127.0.0.1:8000")
            assert (await client.get(feed_path)).status_code == 200
            assert (await client.get(f"/api/events?token={person['token']}")).status_code == 200
            # By any other name, on paths that are not ours, or in percent-escapes: the shape
            # gives the token away, and that is what is redacted.
            feed_token = feed_path.removeprefix("/feeds/").removesuffix(".ics")
            token = person["token"]
            for path in (
                f"/api/events?tok%65n={token}",
                f"/feed/{feed_token}.ics",
                f"/FEEDS/{feed_token}.ics",
                f"/api/events?q=%74{token[1:]}",
                f"/api/events?q={token[:12]}%{ord(token[12]):02X}{token[13:]}",
            ):
                assert (await client.get(path)).status_code in (200, 404), path
        async with connect(ws_url(server, f"/ws/me?token={person['token']}")) as ws:
            assert (await recv(ws))["kind"] == "booking.invited"
    finally:
        stop_server(process)
    out, err = capfd.readouterr()
    logs = out + err
    assert "/feeds/[redacted].ics" in logs  # the access log did see the feed request
    assert "/ws/me?token=[redacted]" in logs
    assert "/FEEDS/[redacted].ics" in logs and "/feed/[redacted].ics" in logs
    for secret in (person["token"], feed_token, server.host_token):
        body = secret.split("_", 1)[1]
        pieces = {body[i : i + 12] for i in range(len(body) - 11)}
        assert not [piece for piece in pieces if piece in logs], secret[:8]
