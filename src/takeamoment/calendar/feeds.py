"""The feed routes: an event's public calendar and a person's private one, with conditional GET.

Every answer carries ``ETag`` (strong, from the bytes) and ``Last-Modified`` (the feed's latest
change); a request whose validators match gets 304 with no body. The private feed's URL holds a
secret: it is never logged here, and errors name only a redacted form of it.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from takeamoment.api.auth_limits import TooManyAuthFailures, auth_limiter, client_address
from takeamoment.api.deps import AppSettings, Db, PathKey
from takeamoment.api.errors import NOT_FOUND_ERRORS
from takeamoment.calendar.cache import FeedCache, RenderedFeed
from takeamoment.calendar.conditional import http_date, is_not_modified
from takeamoment.domain.errors import NotFound
from takeamoment.services import feeds
from takeamoment.services.feeds import FeedFilter, redact_token

MEDIA_TYPE = "text/calendar"  # Litestar appends "; charset=utf-8" to text types
FEED_SUFFIX = ".ics"
# Clients may reuse a copy for a minute, then revalidate (cheap: usually a 304).
PUBLIC_CACHE_CONTROL = "public, max-age=60"
PRIVATE_CACHE_CONTROL = "private, max-age=60"
# Only for bench/feeds.py: serve a directory at /_bench/static, to compare with a static file.
BENCH_STATIC_DIR_VARIABLE = "TAKEAMOMENT_BENCH_STATIC_DIR"

Cache = NamedDependency[FeedCache]
# Like a path key: no control characters (a NUL would reach PostgreSQL in the channel lookup).
FilterText = Annotated[str | None, QueryParameter(pattern=r"^[^\x00-\x1f\x7f]{1,64}$")]


def provide_feed_cache(state: State) -> FeedCache:
    """One cache per application, made on first use."""
    cache = state.get("feed_cache")
    if not isinstance(cache, FeedCache):
        cache = FeedCache()
        state["feed_cache"] = cache
    return cache


def feed_response(
    request: Request[Any, Any, Any],
    feed: RenderedFeed,
    cache_control: str,
    extra_headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """200 with the feed, or 304 with no body when the client's copy is current."""
    headers = {
        "ETag": feed.etag,
        "Last-Modified": http_date(feed.last_modified),
        "Cache-Control": cache_control,
        **(extra_headers or {}),
    }
    if is_not_modified(request.headers, feed.etag, feed.last_modified):
        return Response(content=b"", status_code=304, headers=headers)
    return Response(content=feed.body, media_type=MEDIA_TYPE, headers=headers)


class FeedController(Controller):
    path = "/"
    tags = ["calendar"]
    dependencies = {"feed_cache": Provide(provide_feed_cache, sync_to_thread=False)}

    @get(
        "/events/{slug:str}/calendar.ics",
        summary="An event's calendar (iCalendar); ?channel= and ?tag= filter it",
        media_type=MEDIA_TYPE,
        raises=NOT_FOUND_ERRORS,
    )
    async def event_feed(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        settings: AppSettings,
        feed_cache: Cache,
        slug: PathKey,
        channel: FilterText = None,
        tag: FilterText = None,
    ) -> Response[bytes]:
        feed_filter = FeedFilter(channel=channel, tag=tag)
        feed = await feeds.event_feed(db, feed_cache, slug, feed_filter, settings.public_url)
        return feed_response(request, feed, PUBLIC_CACHE_CONTROL)

    @get(
        "/feeds/{feed_file:str}",
        summary="A person's own bookings (iCalendar, with alarms); the path holds their feed token",
        media_type=MEDIA_TYPE,
        raises=[*NOT_FOUND_ERRORS, TooManyAuthFailures],
    )
    async def person_feed(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        settings: AppSettings,
        feed_cache: Cache,
        feed_file: PathKey,
    ) -> Response[bytes]:
        if not feed_file.endswith(FEED_SUFFIX):
            raise NotFound("feed", redact_token(feed_file))
        token = feed_file.removesuffix(FEED_SUFFIX)
        # An unknown feed token is a failed authentication: guessing them is rate-limited too.
        limiter, address = auth_limiter(request), client_address(request)
        await limiter.ensure_allowed(address)
        try:
            feed = await feeds.person_feed(db, feed_cache, token, settings.public_url)
        except NotFound:
            await limiter.failed(address)
            raise
        # The URL is a secret: keep it out of Referer headers and search engines.
        private = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}
        return feed_response(request, feed, PRIVATE_CACHE_CONTROL, private)


def calendar_route_handlers() -> list[ControllerRouterHandler]:
    """The feed routes, plus the benchmark's static route when its variable names a directory."""
    handlers: list[ControllerRouterHandler] = [FeedController]
    bench_static_dir = os.environ.get(BENCH_STATIC_DIR_VARIABLE)
    if bench_static_dir:
        handlers.append(
            create_static_files_router(
                path="/_bench/static", directories=[bench_static_dir], include_in_schema=False
            )
        )
    return handlers
