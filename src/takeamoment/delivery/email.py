"""Email: notices composed as text and HTML, sent over SMTP with ``aiosmtplib``.

``TAKEAMOMENT_SMTP_URL`` is ``smtp://[user:pass@]host:port[?starttls=true]`` or ``smtps://…``
(TLS from the first byte). A small pool of connections is kept open and reused: a new SMTP
session per mail costs a handshake (and a TLS one) each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from takeamoment.services.mail_links import MailLinks

SMTP_TIMEOUT_S = 30.0
QUIT_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    use_tls: bool
    start_tls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpConfig:
    """``TAKEAMOMENT_SMTP_URL`` read; ValueError saying what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("TAKEAMOMENT_SMTP_URL must be smtp://host:port or smtps://host:port")
    query = parse_qs(parts.query)
    start_tls = query.get("starttls", ["false"])[0].lower() in ("true", "1", "yes")
    use_tls = parts.scheme == "smtps"
    return SmtpConfig(
        host=parts.hostname,
        port=parts.port or (465 if use_tls else 25),
        use_tls=use_tls,
        start_tls=start_tls and not use_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class PermanentMailError(Exception):
    """The server refused the mail for good (a 5xx): sending it again will not help."""


class SmtpPool:
    """Up to ``size`` SMTP connections, each used by one mail at a time and then kept.

    The connections live on an event loop of their own, in a thread started on first use: an
    SMTP conversation is four round trips a mail, and on the server's loop each answer waited
    behind every push under way (16 at a time), so the mails, the slower channel, fell behind
    the pushes. ``send`` and ``close`` are called from the server's loop.
    """

    def __init__(self, config: SmtpConfig, size: int) -> None:
        self.config = config
        self.size = max(1, size)
        self._idle: list[aiosmtplib.SMTP] = []
        self._turns = asyncio.Semaphore(self.size)  # used on the pool's loop only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _pool_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="takeamoment-smtp", daemon=True
            )
            self._thread.start()
        return self._loop

    def _new(self) -> aiosmtplib.SMTP:
        c = self.config
        return aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            use_tls=c.use_tls,
            start_tls=c.start_tls,
            username=c.username,
            password=c.password,
            timeout=SMTP_TIMEOUT_S,
        )

    async def send(self, composed: Callable[[], EmailMessage]) -> None:
        """Send the mail ``composed`` makes; PermanentMailError for a 5xx, any other error may
        be retried. Cancelled, the send is cut off (and its connection closed).

        The mail is composed once a connection is free: composing takes milliseconds of CPU,
        and a claimed batch of mails composed all at once, ahead of the connections, held the
        event loop (and every connection's next mail) for the whole batch.
        """
        sending = asyncio.run_coroutine_threadsafe(self._send(composed), self._pool_loop())
        await asyncio.wrap_future(sending)

    async def _send(self, composed: Callable[[], EmailMessage]) -> None:
        async with self._turns:
            message = composed()
            reused = bool(self._idle)
            client = self._idle.pop() if reused else self._new()
            try:
                await self._send_on(client, message)
            except aiosmtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                # The server closed an idle connection: nothing of this mail went out.
                client = self._new()
                await self._send_on(client, message)
            self._idle.append(client)

    async def _send_on(self, client: aiosmtplib.SMTP, message: EmailMessage) -> None:
        try:
            if not client.is_connected:
                await client.connect()
            await client.send_message(message)
        except aiosmtplib.SMTPResponseException as error:
            await _close(client)
            if error.code >= 500:
                raise PermanentMailError(f"{error.code} {error.message}") from error
            raise
        except aiosmtplib.SMTPRecipientsRefused as error:
            await _close(client)
            raise PermanentMailError(str(error)) from error
        except BaseException:
            await _close(client)
            raise

    async def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._quit_idle(), loop))
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join)
        loop.close()
        self._loop = self._thread = None

    async def _quit_idle(self) -> None:
        """Say goodbye on every idle connection at once, waiting at most ``QUIT_TIMEOUT_S``.

        QUIT is a courtesy: one by one, each with the send timeout, a server that stopped
        answering held a stopping process for half a minute a connection."""
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(client) for client in idle))


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit(timeout=QUIT_TIMEOUT_S)
    except Exception:
        await _close(client)  # no goodbye in time (or a refused one): hang up


async def _close(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        client.close()


@dataclass(frozen=True, slots=True)
class Recipient:
    person_id: str
    name: str
    email: str


def compose(
    message: dict[str, Any],
    recipient: Recipient,
    *,
    mail_from: str,
    links: MailLinks,
    message_id: str,
) -> EmailMessage:
    """One notice as an email: its words as text and HTML, its links, and List-Unsubscribe.

    ``message_id`` stays the same when the same delivery is sent again, so a receiving system
    that sees it twice can tell.
    """
    title, body, url = str(message["title"]), str(message["body"]), str(message["url"])
    actions: list[tuple[str, str]] = []
    if message.get("kind") == "booking.invited" and message.get("booking_id"):
        booking_id = str(message["booking_id"])
        actions = [
            ("Accept", links.answer_url(booking_id, "accept")),
            ("Decline", links.answer_url(booking_id, "decline")),
        ]
    unsubscribe = links.unsubscribe_url(recipient.person_id)
    mail = EmailMessage()
    mail["Subject"] = title
    mail["From"] = mail_from
    mail["To"] = formataddr((recipient.name, recipient.email))
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id
    mail["Auto-Submitted"] = "auto-generated"
    mail["List-Unsubscribe"] = f"<{unsubscribe}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    mail.set_content(_text(body, url, actions, unsubscribe))
    mail.add_alternative(_html(title, body, url, actions, unsubscribe), subtype="html")
    return mail


def _text(body: str, url: str, actions: list[tuple[str, str]], unsubscribe: str) -> str:
    lines = [body, ""]
    lines += [f"{label}: {link}" for label, link in actions]
    lines += [f"Open: {url}", "", f"To stop these emails: {unsubscribe}", ""]
    return "\n".join(lines)


def _html(title: str, body: str, url: str, actions: list[tuple[str, str]], unsubscribe: str) -> str:
    e = html.escape
    buttons = " ".join(f'<a href="{e(link)}">{e(label)}</a>' for label, link in actions)
    return (
        "<!doctype html><html><body>"
        f"<h1>{e(title)}</h1><p>{e(body)}</p>"
        + (f"<p>{buttons}</p>" if buttons else "")
        + f'<p><a href="{e(url)}">Open takeamoment</a></p>'
        f'<p><small><a href="{e(unsubscribe)}">Stop these emails</a></small></p>'
        "</body></html>"
    )
