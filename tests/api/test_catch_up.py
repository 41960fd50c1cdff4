"""After the bus was deaf, each local topic is offered its newest message from the database."""

from __future__ import annotations

from takeamoment.db.engine import Database
from takeamoment.realtime.catch_up import offer_latest
from takeamoment.realtime.hub import Hub
from tests.api.builders import changes, invite
from tests.helpers import Client, at, make_channel, make_event, make_person, make_slot, publish


async def test_every_local_topic_is_offered_its_newest_message(
    client: Client, host_token: str, db: Database
) -> None:
    await make_event(client, host_token)
    await make_channel(client, host_token)
    morning = await make_slot(client, host_token, at(9), at(10))
    noon = await make_slot(client, host_token, at(12), at(13))
    await publish(client, host_token)
    ana = await make_person(client, host_token, "ana")
    for slot in (morning, noon):
        await invite(client, host_token, slot["id"], ana)  # notifications 1 and 2
    last_change = (await changes(client))[-1]["seq"]
    hub = Hub(max_backlog=10)

    with (
        hub.subscribe("event:tam") as viewer,
        hub.subscribe(f"person:{ana['id']}") as person,
        hub.subscribe("event:no-such-event") as nobody,
    ):
        await offer_latest(db, hub)

        assert [m.seq for m in viewer.take_waiting()] == [last_change]
        assert [m.seq for m in person.take_waiting()] == [2]
        assert not nobody.take_waiting()
