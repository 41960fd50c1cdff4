"""Wires the pages into the app: routes, Jinja templates, static files, sessions and CSRF."""

from __future__ import annotations

from pathlib import Path

from litestar.config.app import AppConfig
from litestar.datastructures import CacheControlHeader
from litestar.middleware import DefineMiddleware
from litestar.plugins import InitPluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from takeamoment import urls
from takeamoment.connection.session import SessionCookies, install
from takeamoment.settings import Settings
from takeamoment.web import views
from takeamoment.web.csrf import SessionCsrfMiddleware
from takeamoment.web.editor import EditorPages
from takeamoment.web.follow_pages import UnfollowPages
from takeamoment.web.host import HostPages
from takeamoment.web.mail_links import MailPages
from takeamoment.web.me import MePages
from takeamoment.web.pages import PublicPages
from takeamoment.web.session_page import SessionPages

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def _add_template_helpers(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(
        iso=views.iso,
        utc_label=views.utc_label,
        utc_clock=views.utc_clock,
        hashtag=views.hashtag,
        shown_times=views.shown_times,
        status_label=views.status_label,
    )
    engine.engine.globals["status_labels"] = views.STATUS_LABELS
    engine.engine.globals["urls"] = urls


class WebPlugin(InitPluginProtocol):
    """The viewer page, the host console and a person's own page, server-rendered, with their
    scripts under /static."""

    def __init__(self, settings: Settings) -> None:
        self.cookies = SessionCookies(settings)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend(
            [
                PublicPages,
                HostPages,
                EditorPages,
                MailPages,
                MePages,
                UnfollowPages,
                SessionPages,
                create_static_files_router(
                    path="/static",
                    directories=[STATIC],
                    include_in_schema=False,
                    # Small files without a build step to fingerprint them: always revalidate,
                    # so a deploy never leaves a browser on yesterday's script.
                    cache_control=CacheControlHeader(no_cache=True),
                ),
            ]
        )
        app_config.template_config = TemplateConfig(
            directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=_add_template_helpers
        )
        app_config.middleware.append(DefineMiddleware(SessionCsrfMiddleware, cookies=self.cookies))
        install(app_config.state, self.cookies)
        return app_config
