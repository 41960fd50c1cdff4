"""Webhook POSTs as the Standard Webhooks specification says, through the outbound guard.

Each try carries ``webhook-id`` (the message's, the same on every try), ``webhook-timestamp``
(this try's time, in seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``id.timestamp.body``, made by ``standardwebhooks.Webhook(secret).sign``). The URL is resolved
and checked at every send and the connection made to the address checked; no redirects; a
10 s timeout (``delivery/outbound_http.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks import Webhook

from takeamoment.delivery.outbound_http import OUTBOUND_ERRORS, OutboundClient, error_name
from takeamoment.services.outbound import OutboundRefused, resolve
from takeamoment.services.webhook_secrets import SecretBox, SecretUnreadable

USER_AGENT = "takeamoment-webhooks/1"
_SIGNERS_KEPT = 1000


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one POST came to: ``ok`` for a 2xx; else the status code or why there was none."""

    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookSender:
    """Signs and POSTs webhook messages; keeps each webhook's opened secret for reuse."""

    def __init__(self, box: SecretBox, *, allow_private: bool, connections: int = 16) -> None:
        self.box = box
        self.allow_private = allow_private
        self.client = OutboundClient(connections)
        self._signers: dict[str, Webhook] = {}

    async def close(self) -> None:
        await self.client.close()

    def signer(self, sealed: str) -> Webhook:
        """The signer for a sealed secret (opening one costs an HMAC and an AES decryption)."""
        signer = self._signers.get(sealed)
        if signer is None:
            if len(self._signers) >= _SIGNERS_KEPT:
                self._signers.clear()
            signer = self._signers[sealed] = Webhook(self.box.open(sealed))
        return signer

    def headers(self, signer: Webhook, msg_id: str, body: str) -> dict[str, str]:
        stamp = int(time.time())
        signature = signer.sign(msg_id, datetime.fromtimestamp(stamp, UTC), body)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }

    async def send(self, url: str, sealed: str, msg_id: str, body: str) -> SendResult:
        started = time.perf_counter()

        def result(ok: bool, status: int | None, error: str | None) -> SendResult:
            elapsed = round((time.perf_counter() - started) * 1000)
            return SendResult(ok, status, error, elapsed)

        try:
            target = await resolve(url, allow_private=self.allow_private)
            headers = self.headers(self.signer(sealed), msg_id, body)
            status = await self.client.post(target, body.encode(), headers)
        except OutboundRefused as error:  # resolved to a private address now, or not at all
            return result(False, None, f"refused: {error}")
        except SecretUnreadable as error:
            return result(False, None, str(error))
        except OUTBOUND_ERRORS as error:
            return result(False, None, error_name(error))
        ok = 200 <= status < 300
        return result(ok, status, None if ok else f"HTTP {status}")
