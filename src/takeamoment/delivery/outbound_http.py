"""The HTTP side of the outbound rules (``services/outbound.py``), shared by Web Push and
webhooks: one ``aiohttp`` session that never follows redirects, never uses a proxy from the
environment and gives up after ``OUTBOUND_TIMEOUT_S``; and a POST made to the address the guard
checked, with the URL's host still named for HTTP (``Host``) and TLS (SNI and certificate
checks).

``aiohttp`` rather than ``httpx``: a burst of pushes is thousands of small POSTs, and ``httpx``
spent 1.5 ms of the event loop's time on each (its pool polls every connection's socket for
every request), ``aiohttp`` 0.12 ms. On two CPUs that time was taken from the mails going out
beside the pushes (bench/delivery.py).
"""

from __future__ import annotations

from urllib.parse import urlunsplit

import aiohttp

from takeamoment.services.outbound import OUTBOUND_TIMEOUT_S, Target

# What a send may raise besides OutboundRefused: no connection, a broken answer, no answer in
# time. ``TimeoutError`` first where the two are told apart (aiohttp's timeouts are both).
OUTBOUND_ERRORS: tuple[type[Exception], ...] = (aiohttp.ClientError, TimeoutError)
# An answer's body is read (so the connection can be kept) up to this much, then the
# connection is dropped: a push service or a webhook receiver has nothing long to say to us.
MAX_ANSWER_BYTES = 64 * 1024


def error_name(error: BaseException) -> str:
    """What went wrong, for a delivery's record: ``timeout`` or the exception's name."""
    return "timeout" if isinstance(error, TimeoutError) else type(error).__name__


class OutboundClient:
    """Up to ``connections`` kept-alive connections, opened on first use (a session belongs
    to the event loop it was made on, and this object is made before the server's loop runs)."""

    def __init__(self, connections: int) -> None:
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                timeout=aiohttp.ClientTimeout(total=OUTBOUND_TIMEOUT_S),
                trust_env=False,  # never through a proxy from the environment
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, target: Target, body: bytes, headers: dict[str, str]) -> int:
        """POST to the address the guard checked, naming the host for HTTP and TLS; the
        answer's status code."""
        address = f"[{target.address}]" if ":" in target.address else target.address
        parts = target.url
        pinned = urlunsplit(
            (parts.scheme, f"{address}:{target.port}", parts.path or "/", parts.query, "")
        )
        async with self._open().post(
            pinned,
            data=body,
            headers={**headers, "Host": parts.netloc},
            allow_redirects=False,
            server_hostname=target.host if parts.scheme == "https" else None,
        ) as answer:
            read = 0
            async for chunk in answer.content.iter_chunked(16 * 1024):
                read += len(chunk)
                if read > MAX_ANSWER_BYTES:
                    answer.close()  # the rest is not worth reading: this connection goes
                    break
            return answer.status
