"""Which errors say "retry" (503) and which are bugs (500): only a store out of reach is a 503."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import get
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import text

from takeamoment.app import create_app
from takeamoment.db.engine import Database
from takeamoment.settings import Settings
from tests.e2e.conftest import free_port


async def _permission_denied() -> None:
    raise PermissionError(13, "Permission denied", "/etc/shadow")


async def _is_a_directory() -> None:
    with open("/"):  # noqa: ASYNC230 - the point is the OSError it raises
        pass


async def _database_refuses() -> None:
    database = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        await database.ping()
    finally:
        await database.dispose()


async def _asyncpg_refuses() -> None:
    await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing", timeout=2)


async def _database_query_in_a_session() -> None:
    database = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        async with database.read() as session:
            await session.execute(text("SELECT 1"))
    finally:
        await database.dispose()


async def _redis_refuses() -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        await redis.ping()
    finally:
        await redis.aclose()


async def _connection_refused_elsewhere() -> None:
    raise ConnectionRefusedError(111, "a bug of ours, not a store")


RAISERS: dict[str, tuple[Callable[[], Awaitable[None]], int]] = {
    "permission-error": (_permission_denied, 500),
    "is-a-directory": (_is_a_directory, 500),
    "connection-refused-outside-a-store": (_connection_refused_elsewhere, 500),
    "database-refuses": (_database_refuses, 503),
    "asyncpg-refuses": (_asyncpg_refuses, 503),
    "database-session-refuses": (_database_query_in_a_session, 503),
    "redis-refuses": (_redis_refuses, 503),
}


def _route(name: str, raiser: Callable[[], Awaitable[None]]) -> Any:
    @get(f"/_test/{name}")
    async def handler() -> None:
        await raiser()

    return handler


@pytest.fixture
async def raising_client(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    shutil.copy(sqlite_template, tmp_path / "test.db")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'test.db'}",
        public_url="http://testserver",
        secret_key="test-secret-key",
    )
    app = create_app(settings)
    for name, (raiser, _) in RAISERS.items():
        app.register(_route(name, raiser))
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("name", RAISERS)
async def test_only_a_store_out_of_reach_answers_503_retry_and_other_os_errors_are_500(
    raising_client: AsyncTestClient,
    name: str,  # type: ignore[type-arg]
) -> None:
    response = await raising_client.get(f"/_test/{name}")
    expected = RAISERS[name][1]
    assert response.status_code == expected, response.text
    if expected == 503:
        assert response.headers["retry-after"] == "2"
        assert "retry" in response.json()["detail"]
    else:
        assert "retry-after" not in response.headers
        assert response.json()["detail"] == "Internal Server Error"
