"""Typed settings read from ``TAKEAMOMENT_*`` environment variables (and a ``.env`` file)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FILE = Path(".takeamoment-secret")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAKEAMOMENT_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./takeamoment.db"
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    max_body_bytes: int = 1024 * 1024
    # The Channels channel the processes of one deployment share (name it per deployment when
    # several share one Redis).
    bus_channel: str = "takeamoment"
    # A reminder or "you're on" that fires late (a restart, a takeover) is still sent within
    # this many seconds of its due time; later it is recorded as missed and the host is told.
    reminder_grace_seconds: int = 120
    # Origins allowed to open our WebSockets (JSON list); empty means no Origin check.
    ws_allowed_origins: list[str] = []
    # Messages a WebSocket subscriber may fall behind before it is dropped with close code 4008.
    ws_max_backlog: int = 1000
    log_level: str = "info"
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
