"""Every table, imported in one place so the metadata is complete (for Alembic and tests)."""

from __future__ import annotations

from sqlmodel import SQLModel

from takeamoment.db.app_settings import AppSetting
from takeamoment.db.audit import AuditEntry
from takeamoment.db.delivery import AccessLink, Delivery, PushSubscription
from takeamoment.db.events import Change, Channel, Event
from takeamoment.db.follows import Follow, FollowDelivery, FollowNotice
from takeamoment.db.notifications import Notification
from takeamoment.db.people import (
    ApiToken,
    AuthSession,
    AvailabilityWindow,
    Host,
    Person,
    RetiredFeedToken,
)
from takeamoment.db.slots import Booking, Slot
from takeamoment.db.webhooks import Webhook, WebhookAttempt, WebhookMessage

metadata = SQLModel.metadata

__all__ = [
    "AccessLink",
    "ApiToken",
    "AppSetting",
    "AuditEntry",
    "AuthSession",
    "AvailabilityWindow",
    "Booking",
    "Change",
    "Channel",
    "Delivery",
    "Event",
    "Follow",
    "FollowDelivery",
    "FollowNotice",
    "Host",
    "Notification",
    "Person",
    "PushSubscription",
    "RetiredFeedToken",
    "Slot",
    "Webhook",
    "WebhookAttempt",
    "WebhookMessage",
    "metadata",
]
