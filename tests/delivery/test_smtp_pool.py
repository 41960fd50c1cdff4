"""The SMTP connections a server keeps, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from takeamoment.delivery.email import SMTP_TIMEOUT_S, SmtpPool, parse_smtp_url
from tests.delivery.receivers import free_port


class NoGoodbye:
    """Takes every mail, then never answers QUIT (until it is stopped)."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.subjects.append(str(email.message_from_bytes(envelope.content)["Subject"]))
        return "250 Message accepted"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await asyncio.Event().wait()
        return "221 Bye"


def mail(number: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "notices@takeamoment.test"
    message["To"] = "ana@example.com"
    message["Subject"] = f"mail {number}"
    message.set_content("You're on in 5 minutes.")
    return message


async def test_stopping_hangs_up_on_a_server_that_never_answers_quit() -> None:
    """Mails sent at once leave several idle connections; stopping says goodbye on each but does
    not wait the send timeout for an answer that never comes (it once waited 30 s a connection,
    one after another)."""
    server = NoGoodbye()
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        pool = SmtpPool(parse_smtp_url(f"smtp://127.0.0.1:{controller.port}"), size=4)
        await asyncio.gather(*(pool.send(lambda n=n: mail(n)) for n in range(3)))
        assert sorted(server.subjects) == ["mail 0", "mail 1", "mail 2"]
        await asyncio.wait_for(pool.close(), timeout=SMTP_TIMEOUT_S / 2)
    finally:
        controller.stop()
