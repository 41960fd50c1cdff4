"""Every public path people are sent to or keep, named once.

Pages, feeds, notices, emails, pushes, webhooks and the calendar build their links here, so a
path cannot drift between the page that serves it and the message that points at it. Paths are
relative to the public URL (``TAKEAMOMENT_PUBLIC_URL``); ``absolute`` makes one absolute. The routes
that serve them are declared where they are handled (``web/``, ``api/``).
"""

from __future__ import annotations

# A person's own page, and the prefix of everything under it.
ME = "/me"
# The host's pages.
HOST = "/host"
# Signed capability links: an email's answer and unsubscribe links, a follow's unfollow link.
MAIL_PREFIX = "/mail/"
FOLLOWS_PREFIX = "/follows/"
# Where an event page lists its helplines.
HELP_ANCHOR = "#help"


def absolute(public_url: str, path: str) -> str:
    """The absolute URL of ``path`` under the public URL."""
    return f"{public_url.rstrip('/')}{path}"


def event_page(slug: str) -> str:
    """The viewer page of an event."""
    return f"/events/{slug}"


def slot_anchor(page_url: str, slot_id: str) -> str:
    """One slot on its event's page (``page_url`` as ``event_page`` gives it, or absolute)."""
    return f"{page_url}#slot-{slot_id}"


def event_calendar(slug: str) -> str:
    """The public iCalendar feed of an event (``?channel=``, ``?tag=`` filter it)."""
    return f"{event_page(slug)}/calendar.ics"


def session_page(slug: str, slot_id: str) -> str:
    """The page of one session: what a follower's push opens."""
    return f"{event_page(slug)}/sessions/{slot_id}"


def host_console(slug: str) -> str:
    """The console a host runs the event from."""
    return f"{HOST}/events/{slug}"


def event_schedule_api(slug: str) -> str:
    return f"/api/events/{slug}/schedule"


def person_feed(feed_token: str) -> str:
    """A person's private feed of their own bookings; the token is the secret."""
    return f"/feeds/{feed_token}.ics"


def access_link(token: str) -> str:
    """A one-time sign-in link to ``/me``."""
    return f"{ME}/access/{token}"


def unfollow_link(token: str) -> str:
    return f"{FOLLOWS_PREFIX}{token}"


def mail_answer(token: str) -> str:
    """Accept or decline an invitation from the email that brought it."""
    return f"{MAIL_PREFIX}answer/{token}"


def mail_unsubscribe(token: str) -> str:
    return f"{MAIL_PREFIX}unsubscribe/{token}"


def webcal(url: str) -> str:
    """The ``webcal://`` form of an HTTP(S) feed URL, which calendar apps subscribe to."""
    return "webcal://" + url.split("://", 1)[1]
