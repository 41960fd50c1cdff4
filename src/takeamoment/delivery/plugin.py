"""Wires delivery into the app: the workers run in every process, woken by committed notices
(push, email) and changes (webhooks)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from takeamoment.db.engine import Database
from takeamoment.delivery.email import SmtpPool, parse_smtp_url
from takeamoment.delivery.push import PushSender
from takeamoment.delivery.webhook_worker import WebhookWorker
from takeamoment.delivery.webhooks import WebhookSender
from takeamoment.delivery.worker import DeliveryWorker, Mailer
from takeamoment.services.follows import UnfollowLinks
from takeamoment.services.mail_links import MailLinks
from takeamoment.services.outbox import configure
from takeamoment.services.push_subscriptions import vapid_keys
from takeamoment.services.webhook_secrets import SecretBox
from takeamoment.settings import Settings


def mail_from(settings: Settings) -> str:
    host = urlsplit(settings.public_url).hostname or "localhost"
    return settings.mail_from or f"takeamoment <noreply@{host}>"


class DeliveryPlugin(InitPluginProtocol):
    """Push, email and webhooks; list it after the real-time plugin, and let the hub's messages
    reach ``worker.on_message`` and ``webhooks.on_message`` (``create_app`` does)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        configure(db, public_url=settings.public_url, email=bool(settings.smtp_url))
        self.worker = DeliveryWorker(
            db,
            concurrency=settings.delivery_concurrency,
            poll_seconds=settings.delivery_poll_seconds,
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            max_attempts=settings.delivery_max_attempts,
        )
        self.worker.prepare = self._prepare
        if settings.smtp_url:  # a malformed URL stops the start, saying why
            pool = SmtpPool(parse_smtp_url(settings.smtp_url), settings.smtp_connections)
            links = MailLinks(settings.resolved_secret_key(), settings.public_url)
            domain = urlsplit(settings.public_url).hostname or "localhost"
            self.worker.mailer = Mailer(pool, mail_from(settings), links, domain)
        self.worker.unfollow_links = UnfollowLinks(
            settings.resolved_secret_key(), settings.public_url
        )
        sender = WebhookSender(
            SecretBox(settings.resolved_secret_key()),
            allow_private=settings.outbound_allow_private,
            connections=settings.delivery_concurrency,
        )
        self.webhooks = WebhookWorker(
            db,
            sender,
            concurrency=settings.delivery_concurrency,
            poll_seconds=settings.delivery_poll_seconds,
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            max_attempts=settings.webhook_max_attempts,
            first_retry_seconds=settings.webhook_first_retry_seconds,
        )

    async def _prepare(self) -> None:
        """Load (or make, the first time) the VAPID key: on first use, when the database is up."""
        keys = await vapid_keys(self.db)
        subject = f"mailto:{self.settings.mail_from}" if self.settings.mail_from else None
        self.worker.push = PushSender(
            keys.private_raw,
            subject or self.settings.public_url,
            allow_private=self.settings.outbound_allow_private,
            connections=self.settings.delivery_concurrency,
        )

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.state["delivery"] = self.worker
        app_config.state["webhooks"] = self.webhooks
        app_config.on_startup.extend([self.worker.start, self.webhooks.start])
        app_config.on_shutdown[:0] = [self.worker.stop, self.webhooks.stop]
        return app_config
