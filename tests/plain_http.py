"""HTTP clients for the servers the tests start, which all speak plain ``http://``.

httpx makes an SSL context for every client it builds and loads the CA bundle into it: 23 ms of
CPU a client, though no test here ever speaks TLS. A run builds about 750 clients (a probe per
server start, one per call of a browser test's site, two per concurrent pair of the booking-rules
state machine), 17 s of CPU, so every client shares this one context instead. It is the one httpx
would make (the same CA bundle, verification on), built once.
"""

from __future__ import annotations

from typing import Any

import httpx

TLS = httpx.create_ssl_context()


def Client(**options: Any) -> httpx.Client:  # noqa: N802 (stands in for httpx.Client)
    return httpx.Client(verify=TLS, **options)


def AsyncClient(**options: Any) -> httpx.AsyncClient:  # noqa: N802 (stands in for httpx.AsyncClient)
    return httpx.AsyncClient(verify=TLS, **options)
