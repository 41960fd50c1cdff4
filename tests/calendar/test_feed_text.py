"""Any Unicode title and description, sent through the API, comes back from the feed as sent."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from takeamoment.app import create_app
from takeamoment.calendar.render import clean_text
from takeamoment.db.engine import Database
from takeamoment.services.auth import issue_host_token
from takeamoment.settings import Settings
from tests.api.builders import event_with_channels
from tests.calendar.builders import feed_text
from tests.calendar.readers import assert_well_formed, property_names, read_with_icalendar
from tests.calendar.samples import VEVENT_PROPERTIES
from tests.helpers import at, make_slot, publish

# What the API takes: no NUL (PostgreSQL text cannot hold it); hypothesis leaves out surrogates.
TITLES = st.text(min_size=1, max_size=200).filter(lambda text: "\x00" not in text)
DESCRIPTIONS = st.text(max_size=600).filter(lambda text: "\x00" not in text)
EVENT_NUMBERS = itertools.count()


async def slot_through_the_feed(settings: Settings, title: str, description: str) -> str:
    """Create a published event with one slot through the API; its public feed."""
    slug = f"ev-{next(EVENT_NUMBERS)}"
    database = Database(settings.database_url)
    try:
        token = await issue_host_token(database, "Host")
    finally:
        await database.dispose()
    async with AsyncTestClient(app=create_app(settings)) as client:
        await event_with_channels(client, token, slug)
        await make_slot(
            client, token, at(10), at(11), event=slug, title=title, description=description
        )
        await publish(client, token, slug)
        return await feed_text(client, f"/events/{slug}/calendar.ics")


# Each example builds a fresh app on the test's database; the database itself may be shared
# across examples because every example makes an event of its own.
@hypothesis_settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=TITLES, description=DESCRIPTIONS)
def test_any_title_and_description_come_back_from_the_feed_unchanged(
    settings: Settings, title: str, description: str
) -> None:
    text = asyncio.run(slot_through_the_feed(settings, title, description))

    assert_well_formed(text.encode())
    assert [sorted(names) for names in property_names(text.encode())] == [
        sorted(VEVENT_PROPERTIES - {"CATEGORIES"})
    ]
    (read,) = read_with_icalendar(text).values()
    assert read.summary == clean_text(title)
    assert read.description.startswith(clean_text(description))
