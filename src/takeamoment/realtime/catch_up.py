"""Catching up after the bus was deaf: what was published meanwhile is not replayed by Redis.

Each local topic is offered its newest message from the database. A subscriber that missed
anything then sees a hole before that seq and fills it from the change log (``stream.py``), at
once rather than only when the next change happens to arrive; one that missed nothing skips it
as already sent.
"""

from __future__ import annotations

import logging

from takeamoment.db.engine import Database
from takeamoment.realtime.hub import Hub
from takeamoment.services.changes import event_topic, latest_change
from takeamoment.services.notifications import latest_notification, person_topic

logger = logging.getLogger(__name__)

_EVENT_PREFIX = event_topic("")
_PERSON_PREFIX = person_topic("")


async def offer_latest(db: Database, hub: Hub) -> None:
    """Dispatch the newest message of every topic that has subscribers in this process."""
    for topic in hub.topics(_EVENT_PREFIX):
        message = await latest_change(db, topic.removeprefix(_EVENT_PREFIX))
        if message is not None:
            hub.dispatch(topic, message)
    for topic in hub.topics(_PERSON_PREFIX):
        message = await latest_notification(db, topic.removeprefix(_PERSON_PREFIX))
        if message is not None:
            hub.dispatch(topic, message)
