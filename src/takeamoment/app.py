"""``create_app(settings)``: the one place that wires the application together."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from takeamoment import __version__
from takeamoment.api.auth import provide_principal, provide_required_principal
from takeamoment.api.errors import exception_handlers
from takeamoment.api.events import EventController
from takeamoment.api.health import HealthController
from takeamoment.api.me import MeController
from takeamoment.api.people import PeopleController
from takeamoment.api.readiness import ReadinessController
from takeamoment.api.slots import BookingController, SlotController
from takeamoment.calendar.feeds import calendar_route_handlers
from takeamoment.db.engine import Database
from takeamoment.realtime.plugin import RealtimePlugin
from takeamoment.scheduler.plugin import SchedulerPlugin
from takeamoment.settings import Settings, get_settings
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

    return Litestar(
        route_handlers=[
            EventController,
            PeopleController,
            SlotController,
            BookingController,
            HealthController,
            *calendar_route_handlers(),
            MeController,
            ReadinessController,
        ],
        dependencies={
            "db": Provide(provide_db, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "principal": Provide(provide_principal),
            "caller": Provide(provide_required_principal),
        },
        exception_handlers=exception_handlers,
        state=State({"db": db, "settings": settings}),
        on_shutdown=[dispose_db],
        plugins=[
            realtime.channels,
            realtime,
            SchedulerPlugin(db, realtime.hub, settings),
            WebPlugin(settings),
        ],
        request_max_body_size=settings.max_body_bytes,
        debug=settings.debug,
        openapi_config=OpenAPIConfig(title="takeamoment", version=__version__),
    )
