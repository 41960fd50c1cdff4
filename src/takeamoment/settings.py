"""Typed settings read from ``TAKEAMOMENT_*`` environment variables (and a ``.env`` file)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FILE = Path(".takeamoment-secret")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAKEAMOMENT_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./takeamoment.db"
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    # The right-hand side of every iCalendar UID. Unset: the public URL's host at the first
    # start, stored in the database, so a later change of the public URL keeps every UID.
    uid_domain: str | None = None
    secret_key: str | None = None
    max_body_bytes: int = 1024 * 1024
    # The Channels channel the processes of one deployment share (name it per deployment when
    # several share one Redis).
    bus_channel: str = "takeamoment"
    # A reminder or "you're on" that fires late (a restart, a takeover) is still sent within
    # this many seconds of its due time; later it is recorded as missed and the host is told.
    reminder_grace_seconds: int = 120
    # Notices due at the same instant are recorded this many to a transaction, one transaction
    # after another (each holds the write lock on SQLite; smaller lets other writes in sooner).
    notice_batch_size: int = Field(default=1000, ge=1, le=5000)
    # Origins allowed to open our WebSockets (JSON list). Empty: /ws/events takes any origin
    # (it is public) and /ws/me only the origin of public_url. A handshake without an Origin
    # header (not a browser: `takeamoment watch`, scripts) is always let through.
    ws_allowed_origins: list[str] = []
    # Concurrent WebSockets one client address may hold, counted per process; 0 = unlimited.
    ws_max_per_client: int = 200
    # HTTP requests one client address may make per minute (health probes and /static aside);
    # 0 disables the limit. Counted per process, or in Redis when redis_url is set.
    rate_limit_per_minute: int = 600
    # Origins whose scripts may call /api and the feeds cross-origin (JSON list); empty = no CORS.
    cors_allowed_origins: list[str] = []
    # How often an open /ws/me stream checks that its token still stands (revoked: close 4401).
    ws_reauth_seconds: float = 30.0
    # Messages a WebSocket subscriber may fall behind before it is dropped with close code 4008.
    ws_max_backlog: int = 1000
    # Failed authentications one client address may make within the window; after that its
    # authentication attempts are answered 429 until the window passes (connection/auth_limits.py).
    auth_failure_limit: int = 10
    auth_failure_window_seconds: int = 60
    # Client addresses no per-address limit applies to (JSON list): by default this machine
    # itself — its probes and its operators' tools. The same default as fail2ban's
    # ``ignoreip``. Set [] to limit loopback clients too.
    limit_exempt_addresses: list[str] = ["127.0.0.1", "::1"]
    # Proxies whose X-Forwarded-For (and X-Forwarded-Proto) is believed (JSON list of addresses
    # or networks, "*" for any). Empty: the header is ignored and the client is the connection's
    # peer. Anyone can send the header, so list only proxies that overwrite it: a reverse proxy
    # on this machine is ["127.0.0.1"] (and then loopback is no longer exempt from limits by
    # virtue of the proxy: each client behind it is counted as itself).
    forwarded_allow_ips: list[str] = []
    # Email: ``smtp://[user:pass@]host:port[?starttls=true]`` or ``smtps://…``; unset, no email.
    smtp_url: str | None = None
    mail_from: str | None = None
    # SMTP connections the delivery worker keeps open and reuses, per process.
    smtp_connections: int = 4
    # True lets push endpoints and webhooks use http and loopback or private addresses:
    # for development and tests only.
    outbound_allow_private: bool = False
    # The delivery worker (push, email): sends at once per process, how often it looks for rows
    # of other processes and retries due, how long a claim holds before a row counts as
    # abandoned, and how many tries before it gives up.
    delivery_concurrency: int = 16
    delivery_poll_seconds: float = 5.0
    delivery_lease_seconds: float = 120.0
    delivery_max_attempts: int = 8
    # Webhooks: tries of one message before it is given up, and the wait after the first failed
    # try (each later wait is 4 times the one before: 30 s, 2 min, 8 min, 32 min, 2 h 8 min,
    # 8 h 32 min). Same concurrency, poll and lease as the delivery worker.
    webhook_max_attempts: int = 7
    webhook_first_retry_seconds: float = 30.0
    log_level: str = "info"
    # "json": every log line (the app's and uvicorn's) is one JSON object, with the request id.
    log_format: Literal["text", "json"] = "text"
    # Client addresses (or networks, "10.0.0.0/8") that may read GET /metrics (JSON list).
    metrics_allow: list[str] = ["127.0.0.1", "::1"]
    # Tracebacks in 500 answers: for tests and local debugging only.
    debug: bool = False

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> Settings:
        if self.environment == "production" and not self.secret_key:
            raise ValueError(
                "TAKEAMOMENT_SECRET_KEY must be set in production; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        self.public_url = self.public_url.rstrip("/")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def public_origin(self) -> str:
        """``scheme://host[:port]`` of ``public_url``, as a browser sends it in ``Origin``."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    def is_limit_exempt(self, address: str) -> bool:
        """Whether per-address limits (requests, WebSockets, failed sign-ins) skip ``address``."""
        return address in self.limit_exempt_addresses

    def resolved_secret_key(self) -> str:
        """The configured secret, or in development one generated once and kept in a file."""
        if self.secret_key:
            return self.secret_key
        if SECRET_FILE.exists():
            return SECRET_FILE.read_text().strip()
        key = secrets.token_urlsafe(48)
        SECRET_FILE.write_text(key)
        SECRET_FILE.chmod(0o600)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
