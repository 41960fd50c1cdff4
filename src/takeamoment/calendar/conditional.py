"""Conditional GET for feeds (RFC 9110 section 13): does the client already hold these bytes?

Litestar never answers 304 by itself, so the feed handlers ask ``is_not_modified`` first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache


@lru_cache(maxsize=1024)  # a cached feed's Last-Modified is formatted for every answer
def http_date(moment: datetime) -> str:
    """An IMF-fixdate, e.g. ``Thu, 10 Oct 2030 09:00:00 GMT``."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def is_not_modified(headers: Mapping[str, str], etag: str, last_modified: datetime) -> bool:
    """True when the request's validators match: answer 304 with no body.

    ``If-None-Match`` wins when present (weak comparison, ``*`` matches); otherwise
    ``If-Modified-Since`` matches when it is not older than ``last_modified`` to the second.
    """
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return etag_matches(if_none_match, etag)
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since is None:
        return False
    since = parse_http_date(if_modified_since)
    return since is not None and last_modified.astimezone(UTC).replace(microsecond=0) <= since


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of ``etag`` against an ``If-None-Match`` list."""
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(
        candidate.strip().removeprefix("W/") == wanted for candidate in if_none_match.split(",")
    )


def parse_http_date(value: str) -> datetime | None:
    """An HTTP date as aware UTC, or None when it is not one (then it is ignored)."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000" and obsolete forms: HTTP dates are always GMT
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Does an ``Accept-Encoding`` header (RFC 9110 12.5.3) take gzip? ``q=0`` refuses."""
    if not accept_encoding:
        return False
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        weight = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
        weights[coding.strip().lower()] = weight
    for coding in ("gzip", "x-gzip"):
        if coding in weights:
            return weights[coding] > 0
    return weights.get("*", 0.0) > 0
