"""A local mail catcher for the demo: an SMTP server (``aiosmtpd``) that keeps mails as files.

``takeamoment demo --serve`` starts it when no ``TAKEAMOMENT_SMTP_URL`` is set, so a newcomer
sees the invitations and reminders the demo people would get, without a mail server: each mail
is written to ``demo-mail/`` as an ``.eml`` file (any mail program opens it) and announced on
the console. It only listens on 127.0.0.1.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import socket
import sys
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _Keep:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        subject = str(message.get("Subject", "no subject")).strip()
        name = re.sub(r"[^A-Za-z0-9]+", "-", subject).strip("-")[:60] or "mail"
        path = self.folder / f"{self.count:04d}-{name}.eml"
        path.write_bytes(envelope.content)
        print(f"mail to {', '.join(envelope.rcpt_tos)}: {subject} ({path})", file=sys.stderr)
        return "250 kept"


class MailCatcher:
    """Start with ``start()``; ``url`` is what ``TAKEAMOMENT_SMTP_URL`` should say."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.controller = Controller(_Keep(folder), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> MailCatcher:
        # aiosmtpd logs every SMTP conversation at INFO; the console says "mail to …" instead.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
