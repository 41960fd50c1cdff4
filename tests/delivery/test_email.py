"""Email through a real SMTP server: both parts, the links, List-Unsubscribe, the answers."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

from tests.api.builders import event_with_channels, invite
from tests.delivery.conftest import until
from tests.delivery.receivers import MailCatcher
from tests.helpers import Client, at, auth, make_person, make_slot, ok, publish

LINK = re.compile(r"https?://[^\s<>\"]+")


def parts(mail: EmailMessage) -> tuple[str, str]:
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


async def invited(client: Client, host_token: str, **person: Any) -> tuple[Any, Any, Any]:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    slot = await make_slot(client, host_token, at(9, 30), at(10), title="Small habits")
    ana = await make_person(client, host_token, "ana", email="ana@example.com", **person)
    booking = await invite(client, host_token, slot["id"], ana)
    return slot, ana, booking


def link_after(text: str, label: str) -> str:
    found = LINK.match(text, text.index(label) + len(label))
    assert found is not None, text
    return found.group(0)


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


async def test_an_invitation_is_mailed_with_both_parts_and_one_click_answers(
    client: Client, host_token: str, mail_catcher: MailCatcher
) -> None:
    _, ana, booking = await invited(client, host_token, timezone="Europe/London")
    await until(lambda: len(mail_catcher.received()) == 1)
    (mail,) = mail_catcher.received()
    assert mail["To"] == "Ana <ana@example.com>"
    assert mail["From"] == "takeamoment <notices@takeamoment.test>"
    assert mail["Subject"] == "You're invited: 'Small habits'"
    assert re.fullmatch(r"<[0-9a-f]{32}@testserver>", mail["Message-ID"])
    text, html = parts(mail)
    assert "You're invited as creator to 'Small habits', Main, Thu 10 Oct, 10:30–11:00 BST" in text
    assert "Small habits" in html and "<a href=" in html
    accept, decline = link_after(text, "Accept: "), link_after(text, "Decline: ")
    assert "/mail/answer/" in accept and "/mail/answer/" in decline and accept != decline
    assert accept in html and decline in html

    # Following the link only asks; a mail scanner fetching it accepts nothing.
    page = await client.get(path_of(accept))
    assert page.status_code == 200 and "Accept your invitation" in page.text
    me = await ok(await client.get("/api/me", headers=auth(ana["token"])))
    assert me["bookings"][0]["status"] == "invited"
    # The page's button does it.
    done = await client.post(path_of(accept))
    assert done.status_code == 200 and "You accepted" in done.text
    me = await ok(await client.get("/api/me", headers=auth(ana["token"])))
    assert me["bookings"][0]["status"] == "confirmed"
    # A forged link does nothing.
    forged = await client.post(path_of(accept)[:-3] + "abc")
    assert forged.status_code == 400
    assert booking["id"] not in text  # ids stay inside the signed token


async def test_decline_link_declines(
    client: Client, host_token: str, mail_catcher: MailCatcher
) -> None:
    _, ana, _ = await invited(client, host_token)
    await until(lambda: len(mail_catcher.received()) == 1)
    text, _ = parts(mail_catcher.received()[0])
    decline = link_after(text, "Decline: ")
    assert (await client.post(path_of(decline))).status_code == 200
    me = await ok(await client.get("/api/me", headers=auth(ana["token"])))
    assert me["bookings"][0]["status"] == "declined"


async def test_list_unsubscribe_one_click_turns_email_off(
    client: Client, host_token: str, mail_catcher: MailCatcher
) -> None:
    slot, ana, _ = await invited(client, host_token)
    await until(lambda: len(mail_catcher.received()) == 1)
    mail = mail_catcher.received()[0]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(https?://\S+)>", mail["List-Unsubscribe"])
    assert unsubscribe is not None
    text, html = parts(mail)
    assert unsubscribe.group(1) in text and unsubscribe.group(1) in html
    page = await client.get(path_of(unsubscribe.group(1)))  # a scanner's fetch changes nothing
    assert page.status_code == 200
    me = await ok(await client.get("/api/me", headers=auth(ana["token"])))
    assert me["preferences"]["email"] is True
    # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the URL.
    done = await client.post(
        path_of(unsubscribe.group(1)),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200
    me = await ok(await client.get("/api/me", headers=auth(ana["token"])))
    assert me["preferences"]["email"] is False
    # The next notice is on the stream, and no mail is written for it.
    cancelled = await client.post(f"/api/slots/{slot['id']}/cancel", headers=auth(host_token))
    assert cancelled.status_code == 200
    notes = await ok(await client.get("/api/me/notifications", headers=auth(ana["token"])))
    assert [n["kind"] for n in notes] == ["booking.invited", "slot.cancelled"]
    readiness_free = await client.get("/api/events/tam/readiness", headers=auth(host_token))
    assert readiness_free.status_code == 200
    assert len(mail_catcher.received()) == 1


async def test_every_notice_carries_title_body_and_url_on_the_stream(
    client: Client, host_token: str, mail_catcher: MailCatcher
) -> None:
    slot, ana, _ = await invited(client, host_token, timezone="America/New_York")
    await client.post(f"/api/slots/{slot['id']}/cancel", headers=auth(host_token))
    notes = await ok(await client.get("/api/me/notifications", headers=auth(ana["token"])))
    invited_note, cancelled_note = notes
    assert invited_note["title"] == "You're invited: 'Small habits'"
    assert "05:30–06:00 EDT" in invited_note["body"]  # her own time zone
    assert invited_note["url"] == "http://testserver/me"
    assert cancelled_note["url"] == f"http://testserver/events/tam#slot-{slot['id']}"
    assert cancelled_note["body"].startswith("Cancelled: 'Small habits', Main")
    await until(lambda: len(mail_catcher.received()) == 2)
    subjects = sorted(str(m["Subject"]) for m in mail_catcher.received())
    assert subjects == ["Cancelled: 'Small habits'", "You're invited: 'Small habits'"]


async def test_a_person_without_an_email_gets_no_mail_and_the_stream_still_works(
    client: Client, host_token: str, mail_catcher: MailCatcher
) -> None:
    await event_with_channels(client, host_token)
    slot = await make_slot(client, host_token, at(9, 30), at(10))
    bob = await make_person(client, host_token, "bob")
    await invite(client, host_token, slot["id"], bob)
    notes = await ok(await client.get("/api/me/notifications", headers=auth(bob["token"])))
    assert [n["kind"] for n in notes] == ["booking.invited"]
    assert mail_catcher.received() == []


async def test_a_mail_button_works_in_a_browser_that_holds_a_host_session(
    client: Client, host_token: str, mail_catcher: MailCatcher
) -> None:
    """The host forwards the invitation to themselves and presses Accept in the browser where
    their console is signed in: the signed link decides, not the session's CSRF check."""
    _, ana, _ = await invited(client, host_token)
    page = await client.get("/host/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"_csrf_token": token.group(1), "token": host_token, "next": "/host"}
    signed_in = await client.post("/host/login", data=form, follow_redirects=False)
    assert signed_in.status_code == 303 and client.cookies
    await until(lambda: len(mail_catcher.received()) == 1)
    text, _ = parts(mail_catcher.received()[0])
    done = await client.post(path_of(link_after(text, "Accept: ")))
    assert done.status_code == 200 and "You accepted" in done.text
    me = await ok(await client.get("/api/me", headers=auth(ana["token"])))
    assert me["bookings"][0]["status"] == "confirmed"
