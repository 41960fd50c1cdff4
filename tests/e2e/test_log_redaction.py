"""No token carried in a URL reaches a log: the filter itself, then a real server's output."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from takeamoment.logs import RedactTokens, app_logging_config, redact, uvicorn_log_config
from tests.e2e.conftest import Server, issue_host_token, server_env, start_server, stop_server
from tests.e2e.test_realtime import Host, recv, ws_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/ws/me?token=tam_s3cret", "/ws/me?token=[redacted]"),
        ("/ws/me?since=4&token=tam_s3cret&x=1", "/ws/me?since=4&token=[redacted]&x=1"),
        ("/ws/me?TOKEN=tam_s3cret", "/ws/me?TOKEN=[redacted]"),
        ("GET /feeds/f_s3cret.ics HTTP/1.1", "GET /feeds/[redacted].ics HTTP/1.1"),
        ("webcal://h/feeds/f_s3cret.ics?x=1", "webcal://h/feeds/[redacted].ics?x=1"),
        ("/feeds/f_s3cret", "/feeds/[redacted].ics"),
        ("/api/people/3/feed-token/rotate", "/api/people/3/feed-token/rotate"),
        ("/ws/events/tam?since=3", "/ws/events/tam?since=3"),
    ],
)
def test_tokens_in_urls_are_redacted_and_nothing_else(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_filter_rewrites_the_arguments_uvicorns_access_log_passes() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/feeds/f_s3cret.ics", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    assert record.args == ("127.0.0.1:5000", "GET", "/feeds/[redacted].ics", "1.1", 200)
    mapping = logging.LogRecord("x", logging.INFO, __file__, 1, "at %(url)s", (), None)
    mapping.args = {"url": "/ws/me?token=tam_s3cret"}
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
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
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
        async with connect(ws_url(server, f"/ws/me?token={person['token']}")) as ws:
            assert (await recv(ws))["kind"] == "booking.invited"
    finally:
        stop_server(process)
    out, err = capfd.readouterr()
    logs = out + err
    feed_token = feed_path.removeprefix("/feeds/").removesuffix(".ics")
    assert "/feeds/[redacted].ics" in logs  # the access log did see the feed request
    assert "/ws/me?token=[redacted]" in logs
    assert person["token"] not in logs
    assert feed_token not in logs
    assert server.host_token not in logs
