"""Wires the scheduler into the app: it starts after the real-time bus, so it hears changes."""

from __future__ import annotations

from datetime import timedelta

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from takeamoment.db.engine import Database
from takeamoment.realtime.hub import Hub
from takeamoment.scheduler.leader import Leadership
from takeamoment.scheduler.runner import ReminderScheduler
from takeamoment.settings import Settings


class SchedulerPlugin(InitPluginProtocol):
    """Runs reminders here while this process leads; list it after the real-time plugin."""

    def __init__(self, db: Database, hub: Hub, settings: Settings) -> None:
        grace = timedelta(seconds=settings.reminder_grace_seconds)
        self.reminders = ReminderScheduler(db, grace, settings.notice_batch_size)
        self.leadership = Leadership(self.reminders, settings.database_url)
        hub.listeners.append(self.reminders.on_message)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.state["leadership"] = self.leadership
        app_config.on_startup.append(self.leadership.start)
        app_config.on_shutdown.insert(0, self.leadership.stop)
        return app_config
