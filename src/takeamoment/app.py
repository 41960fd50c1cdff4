"""``create_app(settings)``: the one place that wires the application together."""

from __future__ import annotations

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from takeamoment import __version__
from takeamoment.api.audit import AuditController, bind_audit_actor
from takeamoment.api.auth import provide_principal, provide_required_principal
from takeamoment.api.bodies import JsonRequest
from takeamoment.api.errors import exception_handlers
from takeamoment.api.events import PUBLIC_SCHEDULES_KEY, EventController
from takeamoment.api.feeds import FeedSources, calendar_route_handlers
from takeamoment.api.follows import FollowController
from takeamoment.api.health import HealthController
from takeamoment.api.limits import STORE_NAME, rate_limit_config, rate_limit_store
from takeamoment.api.me import MeController
from takeamoment.api.observe import ObservedRequests, log_websocket_failure, metrics_endpoint
from takeamoment.api.people import PeopleController
from takeamoment.api.push import PushController
from takeamoment.api.readiness import ReadinessController
from takeamoment.api.slots import BookingController, SlotController
from takeamoment.api.webhooks import EventWebhookController, WebhookController
from takeamoment.connection.auth_limits import STATE_KEY as AUTH_LIMITER_KEY
from takeamoment.connection.auth_limits import make_limiter
from takeamoment.db.engine import Database
from takeamoment.delivery.plugin import DeliveryPlugin
from takeamoment.logs import app_logging_config
from takeamoment.realtime.plugin import RealtimePlugin
from takeamoment.redis_client import Breaker, redis_client
from takeamoment.scheduler.plugin import SchedulerPlugin
from takeamoment.services.schedule import PublicSchedules
from takeamoment.settings import Settings, get_settings
from takeamoment.web.headers import SecurityHeaders
from takeamoment.web.openapi import LocalSwaggerUI
from takeamoment.web.plugin import WebPlugin


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the ASGI app; nothing connects until the first request."""
    settings = settings or get_settings()
    db = Database(settings.database_url)
    # One Redis client a process: the bus, presence, both limits and the readiness probe share
    # its connection pool. One breaker for the paths a request waits on (the limits): after a
    # failure they stop asking Redis for a few seconds instead of each waiting on it.
    redis = redis_client(settings.redis_url) if settings.redis_url else None
    breaker = Breaker()

    realtime = RealtimePlugin(db, settings, redis)
    scheduler = SchedulerPlugin(db, settings)
    delivery = DeliveryPlugin(db, settings)
    # Who hears whom, here and nowhere else: each commit's messages go out on the bus, and every
    # message this process hears (its own or, through Redis, another's) re-arms the reminders,
    # wakes the outbox and queues webhooks.
    db.after_commit = realtime.bus.publish
    realtime.hub.listeners.extend(
        [scheduler.reminders.on_message, delivery.worker.on_message, delivery.webhooks.on_message]
    )
    feed_sources = FeedSources(db, settings)

    def provide_db() -> Database:
        return db

    def provide_settings() -> Settings:
        return settings

    async def close_stores() -> None:
        await db.dispose()
        if redis is not None:
            await redis.aclose()

    rate_limit = rate_limit_config(settings)
    cors = settings.cors_allowed_origins

    app = Litestar(
        route_handlers=[
            EventController,
            PeopleController,
            SlotController,
            BookingController,
            HealthController,
            *calendar_route_handlers(),
            MeController,
            PushController,
            FollowController,
            ReadinessController,
            AuditController,
            EventWebhookController,
            WebhookController,
            metrics_endpoint,
        ],
        before_request=bind_audit_actor,
        dependencies={
            "db": Provide(provide_db, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "principal": Provide(provide_principal),
            "caller": Provide(provide_required_principal),
        },
        exception_handlers=exception_handlers,
        # Made once, here; request paths too hot for injection read them from the state.
        state=State(
            {
                "db": db,
                "settings": settings,
                "redis_breaker": breaker,
                AUTH_LIMITER_KEY: make_limiter(settings, redis, breaker),
                FeedSources.STATE_KEY: feed_sources,
                PUBLIC_SCHEDULES_KEY: PublicSchedules(realtime.known),
            }
        ),
        on_startup=[feed_sources.settle],
        after_exception=[log_websocket_failure],
        on_shutdown=[close_stores],  # after every plugin's (they insert theirs first)
        plugins=[realtime.channels, realtime, scheduler, delivery, WebPlugin(settings)],
        # Outermost first: every answer gets the headers, even a 429.
        middleware=[SecurityHeaders(settings), *([rate_limit.middleware] if rate_limit else [])],
        stores={STORE_NAME: rate_limit_store(settings, redis)} if rate_limit else None,
        cors_config=CORSConfig(allow_origins=cors) if cors else None,
        request_max_body_size=settings.max_body_bytes,
        request_class=JsonRequest,  # bodies not UTF-8 or nested too deep: 400, not 500
        # No token from a URL reaches a log; JSON lines with the request id if asked.
        logging_config=app_logging_config(
            json_lines=settings.log_format == "json", level=settings.log_level
        ),
        debug=settings.debug,
        openapi_config=OpenAPIConfig(
            title="takeamoment",
            version=__version__,
            render_plugins=[LocalSwaggerUI()],  # pinned local files, no CDN (web/openapi.py)
        ),
    )
    # Around everything, routing included (Litestar's middleware sees only matched routes): the
    # request id, the request metrics and, with JSON logs, the access line (uvicorn's is off).
    app.asgi_handler = ObservedRequests(app.asgi_handler, access_log=settings.log_format == "json")
    return app
