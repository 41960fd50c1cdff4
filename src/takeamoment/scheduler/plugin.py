"""Wires the scheduler into the app: it starts after the real-time bus, so it hears changes."""

from __future__ import annotations

from datetime import timedelta

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from takeamoment.connection.injection import provide_value
from takeamoment.db.engine import Database
from takeamoment.scheduler.leader import Leadership
from takeamoment.scheduler.runner import ReminderScheduler
from takeamoment.settings import Settings


class SchedulerPlugin(InitPluginProtocol):
    """Runs reminders here while this process leads; list it after the real-time plugin, and
    let the hub's messages reach ``reminders.on_message`` (``create_app`` does)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        grace = timedelta(seconds=settings.reminder_grace_seconds)
        self.reminders = ReminderScheduler(db, grace, settings.notice_batch_size)
        self.leadership = Leadership(self.reminders, settings.database_url)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.state["leadership"] = self.leadership
        app_config.dependencies["leadership"] = provide_value(self.leadership)
        app_config.on_startup.append(self.leadership.start)
        app_config.on_shutdown.insert(0, self.leadership.stop)
        return app_config
