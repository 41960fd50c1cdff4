"""The feed routes: an event's public calendar and a person's private one, with conditional GET.

Every answer carries ``ETag`` (strong, from the bytes sent) and ``Last-Modified`` (the feed's
latest change, never going back); a request whose validators match gets 304 with no body. HEAD
answers exactly as GET without the body. A client that accepts gzip gets the gzipped bytes, with
an ETag of their own (``Vary: Accept-Encoding``). The private feed's URL holds a secret: it is
never logged here, and errors name only a redacted form of it. Feed tokens carry 256 bits, so a
wrong one is not counted as a failed authentication: calendar services poll many stale URLs from
shared addresses, and counting them would lock every feed on that address out.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, route
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.enums import HttpMethod
from litestar.params import QueryParameter
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_304_NOT_MODIFIED
from litestar.types import (
    ControllerRouterHandler,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)

from takeamoment.api.deps import Db, PathKey
from takeamoment.api.errors import NOT_FOUND_ERRORS, GoneDoc
from takeamoment.calendar.cache import FeedCache, RenderedFeed
from takeamoment.calendar.conditional import accepts_gzip, is_not_modified
from takeamoment.db.engine import Database
from takeamoment.domain.errors import NotFound
from takeamoment.services import feeds
from takeamoment.services.app_settings import uid_domain
from takeamoment.services.feeds import FeedFilter, FeedUrls, redact_token
from takeamoment.settings import Settings

logger = logging.getLogger(__name__)

MEDIA_TYPE = "text/calendar"  # Litestar appends "; charset=utf-8" to text types
CONTENT_TYPE = b"text/calendar; charset=utf-8"
FEED_SUFFIX = ".ics"
# Clients may reuse a copy for a minute, then revalidate (cheap: usually a 304).
PUBLIC_CACHE_CONTROL = "public, max-age=60"
PRIVATE_CACHE_CONTROL = "private, max-age=60"
# Only for bench/feeds.py: serve a directory at /_bench/static, to compare with a static file.
BENCH_STATIC_DIR_VARIABLE = "TAKEAMOMENT_BENCH_STATIC_DIR"
GET_AND_HEAD = [HttpMethod.GET, HttpMethod.HEAD]

Cache = NamedDependency[FeedCache]
Urls = NamedDependency[FeedUrls]
# Like a path key: no control characters (a NUL would reach PostgreSQL in the channel lookup).
FilterText = Annotated[str | None, QueryParameter(pattern=r"^[^\x00-\x1f\x7f]{1,64}$")]


class FeedSources:
    """This process's feed cache and feed URLs, made once by ``create_app`` (``STATE_KEY``).

    The URLs need the UID domain, which lives in the database: it is looked up at start-up, or
    by the first feed request if the database was away then, and kept for the process's life.
    """

    STATE_KEY = "feeds"

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.cache = FeedCache()
        self._urls: FeedUrls | None = None

    async def urls(self) -> FeedUrls:
        if self._urls is None:
            domain = await uid_domain(self.db, self.settings.uid_domain, self.settings.public_url)
            self._urls = FeedUrls(self.settings.public_url, domain)
        return self._urls

    async def settle(self) -> None:
        """At start-up: store the public URL's host as the UID domain if none is stored yet."""
        try:
            await self.urls()
        except Exception:  # the database may be away at start: the first feed request settles it
            logger.warning("could not settle the iCalendar UID domain at start-up", exc_info=True)


def feed_sources(state: State) -> FeedSources:
    sources: FeedSources = state[FeedSources.STATE_KEY]
    return sources


def provide_feed_cache(state: State) -> FeedCache:
    return feed_sources(state).cache


async def provide_feed_urls(state: State) -> FeedUrls:
    return await feed_sources(state).urls()


class FeedResponse(Response[bytes]):
    """A feed's answer: the feed's own encoded headers and its bytes, sent as they are.

    ``to_asgi_response`` skips Litestar's header building (the feed made its headers once, see
    ``RenderedFeed``); what every response gets (security headers, the request id) is added by
    the middleware as for any other. To a HEAD request: the same headers, ``Content-Length``
    included, and no body.
    """

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        super().__init__(content=body, status_code=status)
        self.raw_status, self.raw_headers = status, headers

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], **kwargs: Any) -> Any:
        body = b"" if request.method == HttpMethod.HEAD else self.content
        return _RawAnswer(self.raw_status, self.raw_headers, body)


@dataclass(frozen=True, slots=True)
class _RawAnswer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": self.status,
            "headers": list(self.headers),  # a middleware may add to the list it is given
        }
        await send(start)
        body: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": self.body,
            "more_body": False,
        }
        await send(body)


def feed_response(
    request: Request[Any, Any, Any],
    feed: RenderedFeed,
    cache_control: str,
    extra_headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """200 with the feed (gzipped when the client accepts it), or 304 when its copy is current."""
    gzipped = accepts_gzip(request.headers.get("accept-encoding"))
    body, etag = (feed.gzipped, feed.gzip_etag) if gzipped else (feed.body, feed.etag)
    headers = [
        *(feed.gzip_headers if gzipped else feed.plain_headers),
        (b"cache-control", cache_control.encode()),
        *((name.lower().encode(), value.encode()) for name, value in (extra_headers or {}).items()),
    ]
    if is_not_modified(request.headers, etag, feed.last_modified):
        return FeedResponse(HTTP_304_NOT_MODIFIED, headers, b"")
    headers += [(b"content-type", CONTENT_TYPE), (b"content-length", str(len(body)).encode())]
    return FeedResponse(200, headers, body)


async def event_feed_response(
    request: Request[Any, Any, Any], slug: str, feed_filter: FeedFilter
) -> Response[bytes]:
    """An event's (filtered) public feed, answered as every feed is (see module)."""
    # No injected dependencies: resolving them (a task group per request) cost more than
    # serving a cached feed (bench/http_servers.py). Same objects, from the app's state.
    state = request.app.state
    sources = feed_sources(state)
    known = state.get("known_versions")  # trusted versions (the real-time plugin's)
    feed = await feeds.event_feed(
        sources.db, sources.cache, slug, feed_filter, await sources.urls(), known
    )
    return feed_response(request, feed, PUBLIC_CACHE_CONTROL)


class FeedController(Controller):
    path = "/"
    tags = ["calendar"]
    dependencies = {
        "feed_cache": Provide(provide_feed_cache, sync_to_thread=False),
        "feed_urls": Provide(provide_feed_urls),
    }

    @route(
        "/events/{slug:str}/calendar.ics",
        http_method=GET_AND_HEAD,
        summary="An event's calendar (iCalendar); ?channel=, ?tag= and ?slot= filter it",
        media_type=MEDIA_TYPE,
        raises=NOT_FOUND_ERRORS,
    )
    async def event_feed(
        self,
        request: Request[Any, Any, Any],
        slug: PathKey,
        channel: FilterText = None,
        tag: FilterText = None,
        slot: FilterText = None,
    ) -> Response[bytes]:
        return await event_feed_response(
            request, slug, FeedFilter(channel=channel, tag=tag, slot=slot)
        )

    @route(
        "/feeds/{feed_file:str}",
        http_method=GET_AND_HEAD,
        summary="A person's own bookings (iCalendar, with alarms); the path holds their feed token",
        description="An unknown feed token is 404; one replaced by a rotation is 410 Gone.",
        media_type=MEDIA_TYPE,
        raises=[*NOT_FOUND_ERRORS, GoneDoc],
    )
    async def person_feed(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        feed_urls: Urls,
        feed_cache: Cache,
        feed_file: PathKey,
    ) -> Response[bytes]:
        if not feed_file.endswith(FEED_SUFFIX):
            raise NotFound("feed", redact_token(feed_file))
        token = feed_file.removesuffix(FEED_SUFFIX)
        feed = await feeds.person_feed(db, feed_cache, token, feed_urls)
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
