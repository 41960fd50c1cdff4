"""Signed links in emails: one-click answers to an invitation, and one-click unsubscribe.

Signed with the deployment's secret (``itsdangerous``), so they need no table and no login. An
answer link expires after ``ANSWER_LINK_MAX_AGE``; an unsubscribe link keeps working (RFC 8058
asks that it does). Following a link (GET) only shows a page with a button: mail scanners that
fetch every link must not accept on the person's behalf; the button's POST does it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from takeamoment.urls import absolute, mail_answer, mail_unsubscribe

ANSWER_LINK_MAX_AGE = timedelta(days=14)
Answer = Literal["accept", "decline"]


class MailLinkRefused(Exception):
    """A link that was tampered with, or has expired; ``expired`` says which."""

    def __init__(self, expired: bool) -> None:
        self.expired = expired
        super().__init__("this link has expired" if expired else "this link is not valid")


class MailLinks:
    def __init__(self, secret: str, public_url: str) -> None:
        self._answers = URLSafeTimedSerializer(secret, salt="takeamoment.mail.answer")
        self._unsubscribes = URLSafeTimedSerializer(secret, salt="takeamoment.mail.unsubscribe")
        self.public_url = public_url

    def answer_url(self, booking_id: str, answer: Answer) -> str:
        token = self._answers.dumps({"b": booking_id, "a": answer})
        return absolute(self.public_url, mail_answer(token))

    def unsubscribe_url(self, person_id: str) -> str:
        token = self._unsubscribes.dumps({"p": person_id})
        return absolute(self.public_url, mail_unsubscribe(token))

    def read_answer(self, token: str) -> tuple[str, Answer]:
        """(booking id, answer) of a link; MailLinkRefused if it is forged or expired."""
        data = _load(self._answers, token, ANSWER_LINK_MAX_AGE)
        answer: Answer = "accept" if data.get("a") == "accept" else "decline"
        return str(data["b"]), answer

    def read_unsubscribe(self, token: str) -> str:
        """The person id of an unsubscribe link; MailLinkRefused if it is forged."""
        return str(_load(self._unsubscribes, token, None)["p"])


def _load(
    serializer: URLSafeTimedSerializer, token: str, max_age: timedelta | None
) -> dict[str, str]:
    try:
        data = serializer.loads(token, max_age=int(max_age.total_seconds()) if max_age else None)
    except SignatureExpired as error:
        raise MailLinkRefused(expired=True) from error
    except BadSignature as error:
        raise MailLinkRefused(expired=False) from error
    if not isinstance(data, dict):
        raise MailLinkRefused(expired=False)
    return data
