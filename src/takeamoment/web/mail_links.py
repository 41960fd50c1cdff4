"""The pages behind the links in emails: answer an invitation, stop the emails.

A link (GET) only shows what it would do, with one button: mail scanners and link previews
fetch every link in a mail, and must not accept an invitation or unsubscribe anyone. The
button's POST does it. The signed token in the path is the credential (``mail_links.py``).
RFC 8058's one-click unsubscribe is that same POST, sent by the mail client itself.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.response import Template

from takeamoment.api.deps import AppSettings, Db, PathKey
from takeamoment.db.audit import Actor, bind_actor
from takeamoment.domain.errors import InvalidTransition, NotFound
from takeamoment.services import bookings
from takeamoment.services.auth import Principal
from takeamoment.services.mail_links import Answer, MailLinkRefused, MailLinks
from takeamoment.services.me import AnswerContext, answer_context, turn_email_off
from takeamoment.settings import Settings

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
VERBS: dict[Answer, tuple[str, str]] = {
    "accept": ("Accept", "accepted"),
    "decline": ("Decline", "declined"),
}


def _page(title: str, message: str, *, status: int = 200, **extra: Any) -> Template:
    context = {"title": title, "message": message, "alert": status >= 400, **extra}
    return Template(
        template_name="mail_action.html", context=context, status_code=status, headers=NO_STORE
    )


def _links(settings: Settings) -> MailLinks:
    return MailLinks(settings.resolved_secret_key(), settings.public_url)


def _refused(error: MailLinkRefused) -> Template:
    if error.expired:
        return _page("This link has expired", "Answer from your page instead.", status=410)
    return _page("This link is not valid", "Check that the whole link was copied.", status=400)


def _describe(context: AnswerContext) -> str:
    return f"'{context.slot_title}', {context.channel_name}, {context.when}"


class MailPages(Controller):
    include_in_schema = False

    @get("/mail/answer/{token:str}")
    async def answer_page(self, db: Db, settings: AppSettings, token: PathKey) -> Template:
        try:
            booking_id, answer = _links(settings).read_answer(token)
            context = await answer_context(db, booking_id)
        except MailLinkRefused as error:
            return _refused(error)
        except NotFound:
            return _page("No such invitation", "It may have been withdrawn.", status=404)
        verb = VERBS[answer][0]
        return _page(
            f"{verb} your invitation?",
            f"{verb} your invitation as {context.role} to {_describe(context)}.",
            button=verb,
            button_class="primary" if answer == "accept" else "",
        )

    @post("/mail/answer/{token:str}", status_code=200)
    async def answer(self, db: Db, settings: AppSettings, token: PathKey) -> Template:
        try:
            booking_id, answer = _links(settings).read_answer(token)
            context = await answer_context(db, booking_id)
            principal = Principal(
                role="therapist" if context.role == "therapist" else "creator",
                token_id="mail-link",  # noqa: S106 - names the credential, not a secret
                person_id=context.person_id,
            )
            bind_actor(
                Actor(
                    role=principal.role,
                    action="POST /mail/answer/{token}",
                    id=context.person_id,
                    target=f"booking:{booking_id}",
                )
            )
            act = bookings.accept if answer == "accept" else bookings.decline
            await act(db, booking_id, principal)
        except MailLinkRefused as error:
            return _refused(error)
        except NotFound:
            return _page("No such invitation", "It may have been withdrawn.", status=404)
        except InvalidTransition as error:
            return _page("This invitation cannot be answered", str(error), status=409)
        return _page(f"You {VERBS[answer][1]}", f"You {VERBS[answer][1]} {_describe(context)}.")

    @get("/mail/unsubscribe/{token:str}")
    async def unsubscribe_page(self, settings: AppSettings, token: PathKey) -> Template:
        try:
            _links(settings).read_unsubscribe(token)
        except MailLinkRefused as error:
            return _refused(error)
        return _page(
            "Stop these emails?",
            "You will get no more emails from takeamoment; notices still reach your page.",
            button="Stop emails",
        )

    @post("/mail/unsubscribe/{token:str}", status_code=200)
    async def unsubscribe(self, db: Db, settings: AppSettings, token: PathKey) -> Template:
        try:
            person_id = _links(settings).read_unsubscribe(token)
            await turn_email_off(db, person_id)
        except MailLinkRefused as error:
            return _refused(error)
        except NotFound:
            return _page("No such person", "There is nobody to unsubscribe.", status=404)
        return _page("Emails stopped", "You will get no more emails from takeamoment.")
