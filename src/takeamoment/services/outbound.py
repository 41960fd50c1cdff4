"""The guard on requests to URLs that users give us (push endpoints now, webhooks later).

Such a URL is server-side request forgery waiting to happen: it could name our own database,
a cloud metadata service or a printer on the office network. So a URL is accepted only as
``https`` to a host whose every address is public (globally routable), checked when it is
registered and again, by resolving it, at every send: the caller then connects to the address
checked, never to a second lookup's answer. Redirects are never followed and requests time out
after ``OUTBOUND_TIMEOUT_S``. ``allow_private`` (``TAKEAMOMENT_OUTBOUND_ALLOW_PRIVATE``) also
allows ``http`` and loopback or private addresses, for development and tests.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

OUTBOUND_TIMEOUT_S = 10.0
RESOLVE_TIMEOUT_S = 5.0
MAX_URL_LENGTH = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(ValueError):
    """A URL we will not send to; the message says why (422 when it is being registered)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL and the address to connect to for it."""

    url: SplitResult
    host: str
    port: int
    address: str


def check_shape(url: str, *, allow_private: bool) -> SplitResult:
    """The URL split, if its scheme, host and length are acceptable; else OutboundRefused."""
    if len(url) > MAX_URL_LENGTH:
        raise OutboundRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise OutboundRefused(f"the URL cannot be read: {error}") from error
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise OutboundRefused(f"the URL must use {' or '.join(schemes)}")
    if not parts.hostname:
        raise OutboundRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("the URL must not carry a user name or password")
    return parts


def _refusal(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global or address.is_multicast:
        return "an address that is not public"
    return None


def check_address(address: str, *, allow_private: bool) -> None:
    """Raise OutboundRefused unless ``address`` (an IP literal) may be sent to."""
    if allow_private:
        return
    why = _refusal(ipaddress.ip_address(address))
    if why is not None:
        raise OutboundRefused(f"the URL's host is {why} ({address})")


async def resolve(url: str, *, allow_private: bool) -> Target:
    """Check ``url`` and resolve its host; every address must pass (see module doc)."""
    parts = check_shape(url, allow_private=allow_private)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await _addresses(host, port)
    for address in addresses:  # all of them: a name with one private address is refused
        check_address(address, allow_private=allow_private)
    return Target(url=parts, host=host, port=port, address=addresses[0])


# Answers are kept a few seconds: a burst of pushes to one push service resolves its name once.
# Every send still checks the addresses, and connects to the one it checked.
RESOLVED_FOR_S = 10.0
_resolved: dict[tuple[str, int], tuple[float, list[str]]] = {}


@functools.lru_cache(maxsize=1024)
def _literal_address(host: str) -> str | None:
    """The host as an address if it is one (parsing one showed up in profiles of a burst)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


async def _addresses(host: str, port: int) -> list[str]:
    literal = _literal_address(host)
    if literal is not None:
        return [literal]  # a literal address: nothing to look up
    loop = asyncio.get_running_loop()
    cached = _resolved.get((host, port))
    if cached is not None and cached[0] > loop.time():
        return cached[1]
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError) as error:
        raise OutboundRefused(f"the URL's host {host!r} cannot be resolved") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OutboundRefused(f"the URL's host {host!r} has no address")
    if len(_resolved) > 1000:
        _resolved.clear()
    _resolved[(host, port)] = (loop.time() + RESOLVED_FOR_S, addresses)
    return addresses
