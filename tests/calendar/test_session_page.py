"""A session's page (``/events/{slug}/sessions/{id}``) and its one-slot calendar: the same
VEVENT (UID, SEQUENCE) as in the event's feed, the same conditional GET; link previews."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import icalendar

from tests.api.builders import event_with_channels
from tests.calendar.builders import Festival
from tests.conftest import ONE_BACKEND
from tests.helpers import Client, at, auth, make_slot

pytestmark = ONE_BACKEND  # a page and its one-slot calendar, above the database


def vevents(text: str) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(text).walk("VEVENT")}


def meta(page: str, name: str) -> str:
    found = re.search(rf'<meta (?:property|name)="{re.escape(name)}" content="([^"]*)">', page)
    assert found, name
    return html.unescape(found.group(1))


async def test_a_sessions_ics_is_its_vevent_from_the_event_feed(
    client: Client, festival: Festival
) -> None:
    slot = festival.slots["calm"]
    feed = await client.get("/events/tam/calendar.ics")
    whole = vevents(feed.text)
    for path in (
        f"/events/tam/sessions/{slot['id']}.ics",
        f"/events/tam/calendar.ics?slot={slot['id']}",
    ):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/calendar; charset=utf-8"
        ((uid, event),) = vevents(response.text).items()
        assert uid in whole and uid.startswith(slot["id"])
        for field in ("DTSTART", "DTEND", "SUMMARY", "SEQUENCE", "STATUS", "DTSTAMP"):
            assert event[field].to_ical() == whole[uid][field].to_ical()
        etag = response.headers["etag"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        head = await client.head(path)
        assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
    assert (await client.get("/events/tam/sessions/nope.ics")).status_code == 404
    kol_slot = next(s for s in festival.slots.values() if s["event"] == "kol")
    assert (await client.get(f"/events/tam/sessions/{kol_slot['id']}.ics")).status_code == 404


async def test_the_session_page_shows_the_session_with_link_previews(
    client: Client, festival: Festival
) -> None:
    slot = festival.slots["calm"]
    response = await client.get(f"/events/tam/sessions/{slot['id']}")
    assert response.status_code == 200
    assert (await client.head(f"/events/tam/sessions/{slot['id']}")).status_code == 200
    page = response.text
    assert "Breathe; slowly, together" in page
    assert meta(page, "og:title") == "Breathe; slowly, together · Take A Moment"
    assert meta(page, "og:type") == "website"
    assert meta(page, "og:url") == f"http://testserver/events/tam/sessions/{slot['id']}"
    description = meta(page, "og:description")
    assert description == (
        "Sat 26 Oct 2030, 11:00–12:00 BST · Main · Take A Moment — Bring a cushion. And water."
    )
    assert meta(page, "twitter:card") == "summary"
    assert 'datetime="2030-10-26T10:00:00Z"' in page  # shown in the viewer's zone by times.js
    assert "Ana" in page and "@ana" in page and festival.ana.get("email", "") not in ("", page)
    assert f'data-follow-key="{slot["id"]}"' in page
    assert f'href="/events/tam/sessions/{slot["id"]}.ics"' in page
    google = html.unescape(re.search(r'href="(https://calendar.google.com[^"]+)"', page).group(1))
    query = parse_qs(urlsplit(google).query)
    assert query["action"] == ["TEMPLATE"] and query["text"] == ["Breathe; slowly, together"]
    assert query["dates"] == ["20301026T100000Z/20301026T110000Z"]
    assert f"/events/tam/sessions/{slot['id']}" in query["details"][0]


async def test_a_drafts_sessions_are_404_except_to_hosts(
    client: Client, host_token: str, festival: Festival
) -> None:
    await event_with_channels(client, host_token, slug="draft")
    slot = await make_slot(client, host_token, at(9), at(10), event="draft", title="Secret")
    path = f"/events/draft/sessions/{slot['id']}"
    assert (await client.get(path)).status_code == 404
    assert (await client.get(path + ".ics")).status_code == 404
    shown = await client.get(path, headers=auth(host_token))
    assert shown.status_code == 200 and "Secret" in shown.text
    # A slot of another event under this event's slug does not exist.
    assert (
        await client.get(f"/events/kol/sessions/{festival.slots['calm']['id']}")
    ).status_code == 404


async def test_the_viewer_page_links_each_session_and_offers_notify_me(
    client: Client, festival: Festival
) -> None:
    page = await ok_text(client, "/events/tam")
    for nickname in ("calm", "night"):
        slot_id = festival.slots[nickname]["id"]
        assert f'href="/events/tam/sessions/{slot_id}"' in page
        assert f'data-follow="slot" data-follow-key="{slot_id}"' in page
    assert 'data-follow="event"' in page and 'data-follow="channel" data-follow-key="main"' in page
    worker = await client.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert "showNotification" in worker.text


async def ok_text(client: Client, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200
    return str(response.text)
