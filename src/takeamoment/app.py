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
from takeamoment.api.errors import exception_handlers
from takeamoment.api.events import EventController
from takeamoment.api.health import HealthController
from takeamoment.api.limits import (
    STORE_NAME,
    limit_exception_handlers,
    rate_limit_config,
    rate_limit_store,
)
from takeamoment.api.me import MeController
from takeamoment.api.people import PeopleController
from takeamoment.api.push import PushController
from takeamoment.api.readiness import ReadinessController
from takeamoment.api.slots import BookingController, SlotController
from takeamoment.calendar.feeds import calendar_route_handlers
from takeamoment.db.engine import Database
from takeamoment.delivery.plugin import DeliveryPlugin
from takeamoment.logs import app_logging_config
from takeamoment.realtime.plugin import RealtimePlugin
from takeamoment.scheduler.plugin import SchedulerPlugin
from takeamoment.settings import Settings, get_settings
from takeamoment.web.headers import SecurityHeaders
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

    return Litestar(
        route_handlers=[
            EventController,
            PeopleController,
            SlotController,
            BookingController,
            HealthController,
            *calendar_route_handlers(),
            MeController,
            PushController,
            ReadinessController,
            AuditController,
        ],
        before_request=bind_audit_actor,
        dependencies={
            "db": Provide(provide_db, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "principal": Provide(provide_principal),
            "caller": Provide(provide_required_principal),
        },
        exception_handlers={**exception_handlers, **limit_exception_handlers},
        state=State({"db": db, "settings": settings}),
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
        logging_config=app_logging_config(),  # no token from a URL reaches a log
        debug=settings.debug,
        openapi_config=OpenAPIConfig(title="takeamoment", version=__version__),
    )
