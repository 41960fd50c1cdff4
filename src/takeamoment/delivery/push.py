"""Web Push: encrypt (RFC 8291, ``aes128gcm``), sign (RFC 8292, VAPID), POST (RFC 8030).

Encryption is ``http_ece`` and signing ``py_vapid``, the libraries ``pywebpush`` is built on; the
POST is ours, on one shared ``aiohttp`` session (``delivery/outbound_http.py``), so nothing
blocks the event loop (pywebpush's own ``webpush()`` sends with ``requests``). Every POST goes
through the outbound guard (``services/outbound.py``): the endpoint is resolved and checked at
send time and the connection made to the address that was checked, with TLS still verified
against the endpoint's host name; no redirects; a 10 s timeout.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from takeamoment.delivery.outbound_http import OUTBOUND_ERRORS, OutboundClient, error_name
from takeamoment.services.outbound import OutboundRefused, resolve
from takeamoment.services.push_subscriptions import b64url_decode

# RFC 8291: one record of at most 4096 bytes; the header (86), the padding delimiter (1) and
# the tag (16) leave 3993 bytes for the notice itself. We stay a little below.
MAX_PLAINTEXT = 3900
JWT_LIFETIME_S = 12 * 3600  # RFC 8292 allows up to 24 h
JWT_RENEW_BEFORE_S = 3600
TTL_S = 3600  # how long a push service keeps a notice for a browser that is offline

URGENT_KINDS = frozenset({"reminder", "go_live", "standby", "slot.cancelled"})


@dataclass(frozen=True, slots=True)
class PushResult:
    """What one POST came to: ``sent``, ``gone`` (404/410: forget it), ``refused`` (never
    worth retrying) or ``retry``; ``error`` says what happened, e.g. ``"410"``."""

    outcome: str
    error: str | None = None


def push_payload(message: dict[str, Any]) -> bytes:
    """The notification JSON, trimmed to fit one push message when its slot text is long."""
    body = json.dumps(message, separators=(",", ":")).encode()
    if len(body) <= MAX_PLAINTEXT:
        return body
    slot = message.get("slot") or {}
    keep = ("id", "event", "channel", "channel_name", "title", "starts_at", "ends_at", "status")
    trimmed = {**message, "slot": {key: slot.get(key) for key in keep}}
    body = json.dumps(trimmed, separators=(",", ":")).encode()
    if len(body) <= MAX_PLAINTEXT:
        return body
    essentials = ("type", "id", "seq", "kind", "title", "url", "at", "booking_id")
    short = {key: message.get(key) for key in essentials}
    short["body"] = str(message.get("body", ""))[:1000]
    return json.dumps(short, separators=(",", ":")).encode()[:MAX_PLAINTEXT]


def encrypt(payload: bytes, p256dh: str, auth: str) -> bytes:
    """The ``aes128gcm`` body for a subscription's keys, with a new ephemeral key each time."""
    encrypted: bytes = http_ece.encrypt(
        payload,
        salt=os.urandom(16),
        private_key=ec.generate_private_key(ec.SECP256R1()),
        dh=b64url_decode(p256dh),
        auth_secret=b64url_decode(auth),
        version="aes128gcm",
    )
    return encrypted


class PushSender:
    """Signs and sends push messages for the deployment's VAPID key."""

    def __init__(
        self, private_raw: str, subject: str, *, allow_private: bool, connections: int = 16
    ) -> None:
        # "no-strict": py_vapid would insist on a mailto: or https subject, which a development
        # deployment on http://127.0.0.1 does not have.
        self.vapid = Vapid02.from_raw(private_raw.encode())
        self.vapid.conf = {"no-strict": True}
        self.subject = subject
        self.allow_private = allow_private
        self.client = OutboundClient(connections)
        self._tokens: dict[str, tuple[float, str]] = {}

    async def close(self) -> None:
        await self.client.close()

    def authorization(self, audience: str) -> str:
        """``vapid t=<JWT>,k=<public key>`` for an origin, signed once and reused for hours."""
        now = time.time()
        cached = self._tokens.get(audience)
        if cached is not None and cached[0] - now > JWT_RENEW_BEFORE_S:
            return cached[1]
        expires = int(now) + JWT_LIFETIME_S
        claims = {"aud": audience, "exp": expires, "sub": self.subject}
        header: str = self.vapid.sign(claims)["Authorization"]
        self._tokens[audience] = (expires, header)
        return header

    async def send(
        self, endpoint: str, p256dh: str, auth: str, payload: bytes, *, topic: str, urgent: bool
    ) -> PushResult:
        try:
            target = await resolve(endpoint, allow_private=self.allow_private)
        except OutboundRefused as error:
            return PushResult("refused", str(error))
        headers = {
            "Authorization": self.authorization(f"{target.url.scheme}://{target.url.netloc}"),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(TTL_S),
            "Urgency": "high" if urgent else "normal",
            # The same notice sent again (after a crash) replaces the first if still queued.
            "Topic": topic,
        }
        try:
            status = await self.client.post(target, encrypt(payload, p256dh, auth), headers)
        except OUTBOUND_ERRORS as error:
            return PushResult("retry", error_name(error))
        return _result(status)


def _result(status: int) -> PushResult:
    if 200 <= status < 300:
        return PushResult("sent")
    if status in (404, 410):
        return PushResult("gone", str(status))
    if status == 429 or status >= 500:
        return PushResult("retry", str(status))
    return PushResult("refused", str(status))  # 400, 401, 403, 413: sending again will not help
