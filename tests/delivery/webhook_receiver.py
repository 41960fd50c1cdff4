"""A real webhook receiver: an HTTP server that verifies every message as a receiver should.

Each webhook URL is ``<url>/hooks/<name>``; ``endpoint(name)`` makes one. Every POST is
verified with ``standardwebhooks.Webhook(secret).verify(body, headers)`` (the signature over
``webhook-id.webhook-timestamp.body``, and a timestamp within 5 minutes); a failure is kept in
``errors`` and answered 400. An endpoint can be made to answer 500 to its first ``fail_first``
messages, and the whole receiver to hold requests before reading them until ``release()`` (a
sender cut off meanwhile has delivered nothing).

Runs in a thread of the test process, or alone for ``bench/webhooks.py``:
``python -m tests.delivery.webhook_receiver PORT`` (``POST /_secrets`` with ``{name: secret}``,
``GET /_counts`` → ``{"received", "errors"}``, ``POST /_reset``). Alone, it is an ASGI app under
uvicorn (one event loop, as a production receiver would be): http.server's thread per
connection makes concurrent senders take turns on the GIL and measures that instead.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from tests.delivery.receivers import HOLD_LIMIT_S, PushHandler, _Server


@dataclass
class Endpoint:
    name: str
    url: str
    secret: str | None = None
    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)  # verified bodies, in order
    headers: list[dict[str, str]] = field(default_factory=list)  # of every POST, failed too


class WebhookReceiver:
    def __init__(self, port: int = 0) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.errors: list[str] = []
        self.received = 0
        self.lock = threading.Lock()
        self.held = threading.Event()
        self.released = threading.Event()
        self.released.set()
        handler = type("Handler", (_WebhookHandler,), {"receiver": self})
        self.server = _Server(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def endpoint(self, name: str, fail_first: int = 0) -> Endpoint:
        with self.lock:
            point = Endpoint(name, f"{self.url}/hooks/{name}", fail_first=fail_first)
            self.endpoints[name] = point
        return point

    def hold(self) -> None:
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {"received": self.received, "errors": len(self.errors)}

    def reset(self) -> None:
        with self.lock:
            for point in self.endpoints.values():
                point.received.clear()
                point.headers.clear()
            self.errors.clear()
            self.received = 0

    def accept(self, name: str, headers: dict[str, str], body: bytes) -> int:
        """Verify one message; the status to answer."""
        with self.lock:
            point = self.endpoints.get(name)
            if point is None:
                return 404
            point.headers.append(headers)
            if point.fail_first > 0:
                point.fail_first -= 1
                return 500
            secret = point.secret
        try:
            if secret is None:
                raise WebhookVerificationError(f"no secret for {name}")
            message = Webhook(secret).verify(body, headers)
        except (WebhookVerificationError, ValueError) as error:
            with self.lock:
                self.errors.append(f"{name}: {error}")
            return 400
        with self.lock:
            point.received.append(message)
            self.received += 1
        return 204


class _WebhookHandler(PushHandler):
    receiver: WebhookReceiver

    def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
        self._json(self.receiver.counts())

    def do_POST(self) -> None:  # noqa: N802
        if self.path.startswith("/_"):
            self._control()
            return
        held = not self.receiver.released.is_set()
        if held:
            self.receiver.held.set()
            self.receiver.released.wait(HOLD_LIMIT_S)
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        if len(body) < length or (held and self._sender_gone()):
            self.close_connection = True  # never accepted: the sender must send it again
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        status = self.receiver.accept(self.path.rsplit("/", 1)[-1], headers, body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _control(self) -> None:
        if self.path.startswith("/_secrets"):
            length = int(self.headers.get("content-length", "0"))
            for name, secret in json.loads(self.rfile.read(length)).items():
                point = self.receiver.endpoints.get(name) or self.receiver.endpoint(name)
                point.secret = secret
        else:
            self.receiver.reset()
        self._json(self.receiver.counts())


def asgi_app(receiver: WebhookReceiver) -> Any:
    """The same receiver as an ASGI app (for uvicorn)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            event = await receive()
            chunks.append(event.get("body", b""))
            if not event.get("more_body"):
                break
        body, path = b"".join(chunks), scope["path"]
        answer = b""
        if path.startswith("/_secrets"):
            for name, secret in json.loads(body).items():
                point = receiver.endpoints.get(name) or receiver.endpoint(name)
                point.secret = secret
        elif path.startswith("/_reset"):
            receiver.reset()
        if path.startswith("/_"):
            status, answer = 200, json.dumps(receiver.counts()).encode()
        else:
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            status = receiver.accept(path.rsplit("/", 1)[-1], headers, body)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": answer})

    return app


def main() -> None:
    import uvicorn

    receiver = WebhookReceiver()  # its own server stays unused: uvicorn serves the app
    print("receiver ready", flush=True)
    uvicorn.run(
        asgi_app(receiver),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        http="httptools",
        lifespan="off",
        # As long as nginx keeps connections: with uvicorn's 5 s a sender may pick a pooled
        # connection the moment the receiver closes it (a ReadError, then a retry 30 s later).
        timeout_keep_alive=75,
    )


if __name__ == "__main__":
    main()
