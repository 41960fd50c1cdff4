"""The HTTP side of the outbound rules (``services/outbound.py``), shared by Web Push and
webhooks: one client that never follows redirects, never uses a proxy from the environment and
gives up after ``OUTBOUND_TIMEOUT_S``; and a POST made to the address the guard checked, with
the URL's host still named for HTTP (``Host``) and TLS (SNI and certificate checks)."""

from __future__ import annotations

import logging
from urllib.parse import urlunsplit

import httpx

from takeamoment.services.outbound import OUTBOUND_TIMEOUT_S, Target

# httpx logs every request at INFO, and a push endpoint's URL is a capability: keep both out.
logging.getLogger("httpx").setLevel(logging.WARNING)


def outbound_client(connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=OUTBOUND_TIMEOUT_S,
        follow_redirects=False,
        trust_env=False,  # never through a proxy from the environment
        # httpcore scans its whole pool for every request: a pool no larger than the sends
        # under way keeps that cheap (with 128 connections it took a quarter of the time).
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def post_checked(
    client: httpx.AsyncClient, target: Target, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST to the address the guard checked, naming the host for HTTP and TLS."""
    address = f"[{target.address}]" if ":" in target.address else target.address
    parts = target.url
    pinned = urlunsplit(
        (parts.scheme, f"{address}:{target.port}", parts.path or "/", parts.query, "")
    )
    return await client.post(
        pinned,
        content=body,
        headers={**headers, "Host": parts.netloc},
        extensions={"sni_hostname": target.host},
    )
