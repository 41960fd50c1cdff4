"""The ``takeamoment`` command as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from takeamoment.app import create_app
from takeamoment.settings import Settings
from tests.e2e.conftest import BIN, Server, issue_host_token, server_env


def test_token_issue_prints_a_prefixed_token_alone_on_the_last_line(
    db_url: str, tmp_path: Path
) -> None:
    token = issue_host_token(server_env(db_url), tmp_path)
    assert token.startswith("tam_") and " " not in token and len(token) > 40


def test_db_upgrade_brings_a_new_database_to_head(tmp_path: Path) -> None:
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    result = subprocess.run(
        [str(BIN), "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    tables = subprocess.run(
        ["sqlite3", str(tmp_path / "fresh.db"), ".tables"], capture_output=True, text=True
    )
    if tables.returncode == 0:  # the sqlite3 shell is optional on a laptop
        assert "booking" in tables.stdout and "alembic_version" in tables.stdout


@pytest.mark.slow
async def test_a_served_app_answers_health_readiness_and_openapi(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        paths = (await client.get("/schema/openapi.json")).json()["paths"]
        created = await client.post(
            "/api/events",
            json={
                "slug": "cli",
                "title": "CLI",
                "timezone": "UTC",
                "starts_at": "2030-10-10T09:00:00Z",
                "ends_at": "2030-10-10T17:00:00Z",
            },
            headers=server.headers(),
        )
    assert "/api/events/{slug}/schedule" in paths
    assert created.status_code == 201


async def test_readyz_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", secret_key="x"
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200
