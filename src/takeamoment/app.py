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
from takeamoment.api.events import EventController
from takeamoment.api.feeds import calendar_route_handlers, settle_uid_domain
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
from takeamoment.db.engine import Database
from takeamoment.delivery.plugin import DeliveryPlugin
from takeamoment.logs import app_logging_config
from takeamoment.realtime.plugin import RealtimePlugin
from takeamoment.redis_client import Breaker
from takeamoment.scheduler.plugin import SchedulerPlugin
from takeamoment.settings import Settings, get_settings
from takeamoment.web.headers import SecurityHeaders
from takeamoment.web.openapi import LocalSwaggerUI
from takeamoment.web.plugin import WebPlugin


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the ASGI app; nothing connects until the first request."""
    settings = settings or get_settings()
    db = Database(settings.database_url)

    def provide_db(state: State) -> Database:
        return db

    def provide_settings() -> Settings:
        return settings

    realtime = RealtimePlugin(db, settings)

    async def dispose_db() -> None:
        await db.dispose()

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
        # One breaker for the Redis the request paths ask (limits): after a failure they stop
        # asking it for a few seconds instead of each waiting on it.
        state=State({"db": db, "settings": settings, "redis_breaker": Breaker()}),
        on_startup=[settle_uid_domain],
        after_exception=[log_websocket_failure],
        on_shutdown=[dispose_db],
        plugins=[
            realtime.channels,
            realtime,
            SchedulerPlugin(db, realtime.hub, settings),
            DeliveryPlugin(db, realtime.hub, settings),
            WebPlugin(settings),
        ],
        # Outermost first: every answer gets the headers, even a 429.
        middleware=[SecurityHeaders(settings), *([rate_limit.middleware] if rate_limit else [])],
        stores={STORE_NAME: rate_limit_store(settings)} if rate_limit else None,
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
