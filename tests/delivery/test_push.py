"""Web Push to a push service written in the tests: VAPID checked, payloads decrypted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.builders import event_with_channels, invite
from tests.delivery.conftest import subscribe, until
from tests.delivery.receivers import MailCatcher, PushService
from tests.helpers import Client, at, auth, make_person, make_slot, ok, publish


async def test_a_notice_reaches_every_browser_signed_and_encrypted(
    client: Client, host_token: str, push_service: PushService
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    slot = await make_slot(client, host_token, at(9, 30), at(10), title="Small habits")
    ana = await make_person(client, host_token, "ana", timezone="Europe/London")
    laptop = await subscribe(client, push_service, ana["token"])
    phone = await subscribe(client, push_service, ana["token"])
    await invite(client, host_token, slot["id"], ana)
    await until(lambda: len(laptop.received) == 1 and len(phone.received) == 1)
    assert push_service.errors == []  # every JWT verified against the VAPID key, aud, exp, sub
    (stored,) = await ok(await client.get("/api/me/notifications", headers=auth(ana["token"])))
    for browser in (laptop, phone):
        (message,) = browser.received
        assert message == stored  # the notification JSON, as on the stream
        assert message["title"] == "You're invited: 'Small habits'"
        assert "10:30–11:00 BST" in message["body"] and message["url"] == "http://testserver/me"
        (headers,) = browser.headers
        assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
        assert len(headers["topic"]) == 32  # the delivery's id: a second copy replaces the first


async def test_a_410_forgets_the_subscription_and_the_delivery_gives_up(
    client: Client, host_token: str, push_service: PushService, mail_catcher: MailCatcher
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(9, 30), at(10))
    later = await make_slot(client, host_token, at(11), at(12))
    ana = await make_person(client, host_token, "ana")
    gone = await subscribe(client, push_service, ana["token"], mode="gone")
    await invite(client, host_token, slot["id"], ana)

    async def forgotten() -> bool:
        me = await ok(await client.get("/api/me", headers=auth(ana["token"])))
        return bool(me["preferences"]["push_subscriptions"] == 0)

    await until(forgotten)
    assert gone.received == []
    await invite(client, host_token, later["id"], ana)  # no subscription left: nothing is sent
    notes = await ok(await client.get("/api/me/notifications", headers=auth(ana["token"])))
    assert [n["kind"] for n in notes] == ["booking.invited", "booking.invited"]


async def test_push_turned_off_sends_nothing(
    client: Client, host_token: str, push_service: PushService
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(9, 30), at(10))
    ana = await make_person(client, host_token, "ana")
    browser = await subscribe(client, push_service, ana["token"])
    await ok(
        await client.patch("/api/me/preferences", json={"push": False}, headers=auth(ana["token"]))
    )
    await invite(client, host_token, slot["id"], ana)
    second = await make_person(client, host_token, "bob")
    bobs = await subscribe(client, push_service, second["token"])
    await invite(client, host_token, slot["id"], second)
    await until(lambda: len(bobs.received) == 1)  # the worker has run past Ana's notice
    assert browser.received == []


async def soon_event(client: Client, host_token: str, starts_in: float) -> Any:
    """A published event reminding 1 minute ahead, with a slot starting in ``starts_in`` s."""
    now = datetime.now(UTC)
    body = {
        "slug": "soon",
        "title": "Soon",
        "timezone": "Europe/London",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "reminder_minutes": [1],
        "changeover_minutes": 0,
    }
    await ok(await client.post("/api/events", json=body, headers=auth(host_token)), 201)
    channel = {"slug": "main", "name": "Main Stage"}
    await ok(
        await client.post("/api/events/soon/channels", json=channel, headers=auth(host_token)),
        201,
    )
    await ok(await client.post("/api/events/soon/publish", headers=auth(host_token)))
    start = now + timedelta(seconds=starts_in)
    slot = {
        "channel": "main",
        "title": "On air",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=30)).isoformat(),
    }
    return await ok(
        await client.post("/api/events/soon/slots", json=slot, headers=auth(host_token)), 201
    )


async def test_the_host_sees_each_persons_channels_and_each_notices_deliveries(
    client: Client, host_token: str, push_service: PushService, mail_catcher: MailCatcher
) -> None:
    slot = await soon_event(client, host_token, starts_in=3600)
    ana = await make_person(client, host_token, "ana", email="ana@example.com")
    browser = await subscribe(client, push_service, ana["token"])
    booking = await ok(
        await client.post(
            f"/api/slots/{slot['id']}/bookings",
            json={"person_id": ana["id"], "role": "creator"},
            headers=auth(host_token),
        ),
        201,
    )
    await ok(await client.post(f"/api/bookings/{booking['id']}/accept", headers=auth(ana["token"])))
    # Moved once confirmed, so the reminder is owed however long the steps above took.
    start = datetime.now(UTC) + timedelta(seconds=62)  # the reminder is due in ~2 s
    moved = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=30)).isoformat()}
    await ok(await client.patch(f"/api/slots/{slot['id']}", json=moved, headers=auth(host_token)))

    async def reminder_delivered() -> Any:
        rows = await ok(await client.get("/api/events/soon/readiness", headers=auth(host_token)))
        person = rows[0]["people"][0]
        reminder = person["notices"][0]
        states = {d["channel"]: d["state"] for d in reminder["deliveries"]}
        return person if states == {"email": "sent", "push": "sent"} else None

    await until(reminder_delivered)
    person = await reminder_delivered()
    assert person["channels"] == {
        "push": True,
        "push_subscriptions": 1,
        "email": True,
        "email_enabled": True,
    }
    reminder = person["notices"][0]
    assert reminder["kind"] == "reminder" and reminder["state"] == "sent"
    labels = sorted(d["label"] for d in reminder["deliveries"])
    assert labels[0].startswith("email sent ") and labels[1].startswith("push sent ")
    kinds = [m["kind"] for m in browser.received]
    assert kinds == ["booking.invited", "schedule.changed", "reminder"]
    assert browser.received[-1]["body"].startswith("You're on in 1 minute: 'On air', Main Stage")
    assert sorted(str(m["Subject"]) for m in mail_catcher.received()) == [
        "Moved: 'On air'",
        "You're invited: 'On air'",
        "You're on in 1 minute",
    ]
