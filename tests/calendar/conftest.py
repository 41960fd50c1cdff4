"""The festival most feed tests read: built through the API once per database and test worker,
and copied into the database of each test that reads it.

Building it is some thirty requests (half a second of CPU); about sixty tests read it, and none
of them can tell a copy from a festival built for it (their apps start on the copy, with nothing
in memory, as they did on the database they built it in).
"""

from __future__ import annotations

import asyncio
import copy
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from takeamoment.app import create_app
from takeamoment.db.engine import Database
from takeamoment.services.auth import issue_host_token
from tests.calendar.builders import Festival, build_festival
from tests.conftest import in_process_settings, new_pg_database, sqlite_copy

SQLITE = "sqlite+aiosqlite:///"


async def built_in(url: str) -> Festival:
    """The festival, built through the API of an app on the database at ``url``."""
    database = Database(url)
    try:
        token = await issue_host_token(database, "Festival Host")
    finally:
        await database.dispose()
    async with AsyncTestClient(app=create_app(in_process_settings(url))) as client:
        return await build_festival(client, token)


@pytest.fixture(scope="session")
def sqlite_festival(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> tuple[Path, Festival]:
    url = sqlite_copy(tmp_path_factory.mktemp("festival"), sqlite_template)
    return Path(url.removeprefix(SQLITE)), asyncio.run(built_in(url))


@pytest.fixture(scope="session")
def pg_festival() -> Iterator[tuple[str, Festival]]:
    with new_pg_database() as url:
        yield url, asyncio.run(built_in(url))


@pytest.fixture
def db_url(db_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The test's database; with the festival in it if the test reads ``festival``."""
    if "festival" not in request.fixturenames:
        yield db_url
    elif db_url.startswith(SQLITE):
        built, _ = request.getfixturevalue("sqlite_festival")
        shutil.copy(built, db_url.removeprefix(SQLITE))
        yield db_url
    else:
        built_url, _ = request.getfixturevalue("pg_festival")
        with new_pg_database(copy_of=built_url) as url:
            yield url


@pytest.fixture
def festival(db_url: str, request: pytest.FixtureRequest) -> Festival:
    """What the festival's building answered (ids, people, their tokens and feed links): a copy
    of its own for each test."""
    name = "sqlite_festival" if db_url.startswith(SQLITE) else "pg_festival"
    _, built = request.getfixturevalue(name)
    festival: Festival = copy.deepcopy(built)
    return festival
