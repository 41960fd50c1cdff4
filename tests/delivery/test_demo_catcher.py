"""The demo's local mail catcher keeps every mail as an .eml file a newcomer can open."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from takeamoment.delivery.catcher import MailCatcher


async def test_a_mail_sent_to_the_catcher_is_kept_as_a_file(tmp_path: Path) -> None:
    catcher = MailCatcher(tmp_path / "demo-mail").start()
    try:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "a@x.test", "b@x.test", "You're invited: 'X'"
        mail.set_content("hello")
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=catcher.port)
    finally:
        catcher.stop()
    (kept,) = (tmp_path / "demo-mail").iterdir()
    assert kept.name == "0001-You-re-invited-X.eml"
    assert b"hello" in kept.read_bytes()
