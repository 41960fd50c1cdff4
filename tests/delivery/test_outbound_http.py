"""The outbound POST: made to the address the guard checked, naming the URL's host; no redirects
followed; a long answer cut short; no answer in time, or no connection, is an error by name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import pytest

from takeamoment.delivery import outbound_http
from takeamoment.delivery.outbound_http import OUTBOUND_ERRORS, OutboundClient, error_name
from takeamoment.services.outbound import Target

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def http_server(answer: Answer) -> AsyncIterator[int]:
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> dict[str, str]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    request_line, *lines = head.strip().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return {"request": request_line, **headers}


def target(port: int, url: str = "http://push.example.test/send/1") -> Target:
    return Target(url=urlsplit(url), host="push.example.test", port=port, address="127.0.0.1")


@pytest.fixture
async def client() -> AsyncIterator[OutboundClient]:
    outbound = OutboundClient(4)
    yield outbound
    await outbound.close()


async def test_the_post_goes_to_the_checked_address_naming_its_host(client: OutboundClient) -> None:
    seen: list[dict[str, str]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async with http_server(answer) as port:
        status = await client.post(target(port), b"payload", {"TTL": "60"})
    assert status == 201
    assert seen[0]["request"] == "POST /send/1 HTTP/1.1"
    assert seen[0]["host"] == "push.example.test"
    assert seen[0]["ttl"] == "60"


async def test_a_redirect_is_an_answer_not_followed(client: OutboundClient) -> None:
    requests = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await read_request(reader)
        requests += 1
        writer.write(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    async with http_server(answer) as port:
        assert await client.post(target(port), b"x", {}) == 307
    assert requests == 1


async def test_a_long_answer_is_cut_short_and_its_status_kept(client: OutboundClient) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        size = 4 * 1024 * 1024
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n" % size)
        try:
            for _ in range(size // 65536):
                writer.write(b"x" * 65536)
                await writer.drain()
        except ConnectionError:
            pass  # the client hung up once it had read enough: what this test wants
        writer.close()

    async with http_server(answer) as port:
        assert await client.post(target(port), b"x", {}) == 201


async def test_no_answer_in_time_is_a_timeout(
    client: OutboundClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbound_http, "OUTBOUND_TIMEOUT_S", 0.3)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(2)
        writer.close()

    async with http_server(answer) as port:
        with pytest.raises(OUTBOUND_ERRORS) as caught:
            await client.post(target(port), b"x", {})
    assert error_name(caught.value) == "timeout"


async def test_no_connection_is_an_error_by_name(client: OutboundClient) -> None:
    async with http_server(lambda r, w: asyncio.sleep(0)) as port:
        pass  # closed again: nothing listens on the port now
    with pytest.raises(OUTBOUND_ERRORS) as caught:
        await client.post(target(port), b"x", {})
    assert error_name(caught.value) == "ClientConnectorError"
