"""Real receivers for what the delivery worker sends: an SMTP server and a Web Push service.

- ``MailCatcher``: ``aiosmtpd`` on a free port of 127.0.0.1, keeping every mail it accepts,
  parsed. ``hold()`` makes it stop answering at ``RCPT`` until ``release()``: a client cut off
  there has sent no mail.
- ``PushService``: a small HTTP server playing a browser vendor's push service (RFC 8030). For
  each POST it checks the VAPID ``Authorization`` (RFC 8292: the JWT's ES256 signature against
  the key in ``k``, which must be the server's public key when one is expected; ``aud`` = this
  service's origin; ``exp`` in the future and at most 24 h away; a ``sub``), then decrypts the
  ``aes128gcm`` body (RFC 8291) with the subscription's private key and auth secret
  (``http_ece``) and keeps the JSON. A subscription can be made to answer 410, or to hold the
  request before reading its body until ``release()``.

Both run in threads of the test process (or in their own process for ``bench/delivery.py``).
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from aiosmtpd.controller import Controller
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HOLD_LIMIT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- SMTP -------------------------------------------------------------------------------------


class _MailHandler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.catcher.holding.is_set():
            self.catcher.held.set()
            await _wait_released(self.catcher.released)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.catcher.lock:
            self.catcher.mails.append(parsed)
            self.catcher.last_at = time.perf_counter()
        return "250 Message accepted"


async def _wait_released(released: threading.Event) -> None:
    await asyncio.to_thread(released.wait, HOLD_LIMIT_S)


class MailCatcher:
    def __init__(self, port: int = 0) -> None:
        self.mails: list[EmailMessage] = []
        # When the latest mail was accepted (``time.perf_counter``: the system's monotonic
        # clock, the same in every process of the machine), for a benchmark.
        self.last_at = 0.0
        self.lock = threading.Lock()
        self.holding, self.held, self.released = (threading.Event() for _ in range(3))
        self.controller = Controller(
            _MailHandler(self), hostname="127.0.0.1", port=port or free_port()
        )

    def start(self) -> MailCatcher:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.release()
        self.controller.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def hold(self) -> None:
        self.released.clear()
        self.holding.set()

    def release(self) -> None:
        self.holding.clear()
        self.released.set()

    def received(self) -> list[EmailMessage]:
        with self.lock:
            return list(self.mails)


# --- Web Push ---------------------------------------------------------------------------------


@dataclass
class Subscription:
    """A browser's push subscription, private keys included (the browser's side of RFC 8291)."""

    id: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    mode: str = "ok"  # ok, gone (410), hold (wait for release before reading the body)
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def json(self, base_url: str) -> dict[str, Any]:
        return {
            "endpoint": f"{base_url}/push/{self.id}",
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }


def new_subscription(mode: str = "ok") -> Subscription:
    """A browser's key pair and auth secret, as ``PushManager.subscribe`` makes them."""
    return Subscription(
        os.urandom(8).hex(), ec.generate_private_key(ec.SECP256R1()), os.urandom(16), mode
    )


class VapidError(AssertionError):
    pass


def check_vapid(header: str, audience: str, expected_key: str | None) -> dict[str, Any]:
    """The JWT's claims if ``header`` is a valid RFC 8292 ``vapid t=…,k=…``; else VapidError."""
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "vapid":
        raise VapidError(f"scheme {scheme!r} is not vapid")
    parts = dict(part.split("=", 1) for part in params.split(","))
    token, key = parts.get("t", ""), parts.get("k", "")
    if expected_key is not None and key != expected_key:
        raise VapidError("k is not the server's VAPID public key")
    signing_input, _, signature = token.rpartition(".")
    raw = unb64url(signature)
    if len(raw) != 64:
        raise VapidError("the signature is not a raw 64-byte ES256 signature")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as error:
        raise VapidError("the JWT's signature does not verify") from error
    header_part, claims_part = signing_input.split(".")
    if json.loads(unb64url(header_part)).get("alg") != "ES256":
        raise VapidError("alg is not ES256")
    claims: dict[str, Any] = json.loads(unb64url(claims_part))
    now = time.time()
    if claims.get("aud") != audience:
        raise VapidError(f"aud {claims.get('aud')!r} is not {audience!r}")
    if not now < claims.get("exp", 0) <= now + 24 * 3600:
        raise VapidError("exp is not within the next 24 hours")
    if not claims.get("sub"):
        raise VapidError("no sub")
    return claims


class PushService:
    def __init__(self, expected_key: str | None = None, port: int = 0) -> None:
        self.expected_key = expected_key
        self.subscriptions: dict[str, Subscription] = {}
        self.errors: list[str] = []
        self.mail_catcher: MailCatcher | None = None  # counted along, for a benchmark
        self.accepted = 0
        self.last_at = 0.0  # when the latest push was accepted, as ``MailCatcher.last_at``
        self.lock = threading.Lock()
        self.held = threading.Event()
        self.released = threading.Event()
        self.released.set()
        self.server = _Server(("127.0.0.1", port), _handler_for(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> PushService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def subscribe(self, mode: str = "ok") -> Subscription:
        sub = new_subscription(mode)
        with self.lock:
            self.subscriptions[sub.id] = sub
        return sub

    def hold(self) -> None:
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def counts(self) -> dict[str, float]:
        with self.lock:
            pushes, errors, pushed_at = self.accepted, len(self.errors), self.last_at
        mails, mailed_at = 0, 0.0
        if self.mail_catcher is not None:
            with self.mail_catcher.lock:
                mails, mailed_at = len(self.mail_catcher.mails), self.mail_catcher.last_at
        return {
            "pushes": pushes,
            "mails": mails,
            "errors": errors,
            "last_push_at": pushed_at,
            "last_mail_at": mailed_at,
        }

    def reset(self) -> None:
        with self.lock:
            for sub in self.subscriptions.values():
                sub.received.clear()
                sub.headers.clear()
            self.errors.clear()
            self.accepted = 0
            self.last_at = 0.0
        if self.mail_catcher is not None:
            with self.mail_catcher.lock:
                self.mail_catcher.mails.clear()
                self.mail_catcher.last_at = 0.0

    def all_received(self) -> Iterator[dict[str, Any]]:
        with self.lock:
            return iter([m for s in self.subscriptions.values() for m in s.received])

    def accept(self, sub_id: str, headers: dict[str, str], body: bytes) -> int:
        """Check and decrypt one push message; the status to answer."""
        sub = self.subscriptions.get(sub_id)
        if sub is None:
            return 404
        try:
            check_vapid(headers.get("authorization", ""), self.url, self.expected_key)
            if headers.get("content-encoding") != "aes128gcm":
                raise VapidError("Content-Encoding is not aes128gcm")
            if not headers.get("ttl", "").isdigit():
                raise VapidError("no TTL")
        except (VapidError, ValueError) as error:
            with self.lock:
                self.errors.append(str(error))
            return 403
        if sub.mode == "gone":
            return 410
        plain = http_ece.decrypt(
            body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
        )
        with self.lock:
            sub.received.append(json.loads(plain))
            sub.headers.append(headers)
            self.accepted += 1
            self.last_at = time.perf_counter()
        return 201


class _Server(ThreadingHTTPServer):
    # http.server's default backlog of 5 drops the SYNs of a burst of new connections, and
    # the kernel retries them only after 1, 3, 7 s: a push service takes many at once.
    request_queue_size = 1024


class PushHandler(BaseHTTPRequestHandler):
    service: PushService  # set on a subclass per service (``_handler_for``)
    protocol_version = "HTTP/1.1"  # keep-alive, as a real push service

    def log_message(self, *args: Any) -> None:
        pass

    def _sender_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0.05)
        if not readable:
            return False  # a live sender waits quietly for the answer
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _json(self, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - control: counts, for a benchmark's process
        self._json(self.service.counts())

    def _control(self) -> None:
        if self.path.startswith("/_subscriptions"):  # n new subscriptions
            n = int(self.path.rpartition("=")[2])
            self._json([self.service.subscribe().json(self.service.url) for _ in range(n)])
        else:
            self.service.reset()
            self._json(self.service.counts())

    def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
        if self.path.startswith("/_"):
            self._control()
            return
        self._push()

    def _push(self) -> None:
        sub_id = self.path.rsplit("/", 1)[-1]
        sub = self.service.subscriptions.get(sub_id)
        held = sub is not None and (sub.mode == "hold" or not self.service.released.is_set())
        if held:
            self.service.held.set()
            self.service.released.wait(HOLD_LIMIT_S)
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        if len(body) < length or (held and self._sender_gone()):
            # Held before accepting it, and the sender went away meanwhile: a push service
            # that has not accepted a message drops it with the connection.
            self.close_connection = True
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        status = self.service.accept(sub_id, headers, body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _handler_for(service: PushService) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (PushHandler,), {"service": service})


def main() -> None:
    """Run one receiver until killed, in a process of its own (a benchmark's):

    ``python -m tests.delivery.receivers push PORT`` or ``… smtp PORT CONTROL_PORT``.
    ``GET /_counts`` (on the push port, or the SMTP receiver's control port) answers
    ``{"pushes", "mails", "errors", "last_push_at", "last_mail_at"}`` (the last two when the
    latest one arrived, on ``time.perf_counter``'s clock, which every process shares);
    ``POST /_subscriptions?n=N`` makes N subscriptions; ``POST /_reset`` forgets what arrived.
    Each in its own process: in one, the push service's threads and the SMTP server's event
    loop would take turns holding the GIL.
    """
    import sys

    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "smtp":
        catcher = MailCatcher(port).start()
        service = PushService(port=int(sys.argv[3]))
        service.mail_catcher = catcher
    else:
        service = PushService(port=port)
    print("receiver ready", flush=True)
    service.server.serve_forever()


if __name__ == "__main__":
    main()
