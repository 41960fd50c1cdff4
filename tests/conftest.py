"""Fixtures shared by every test: real databases, migrated by Alembic, and a host.

The ``db_url`` fixture runs a test once on SQLite and once on PostgreSQL. PostgreSQL tests skip on
a laptop without the server, but fail under ``CI=true``: CI must never pass by skipping them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from takeamoment.app import create_app
from takeamoment.cli import tune_collector
from takeamoment.db.engine import Database
from takeamoment.db.migrate import upgrade_to_head
from takeamoment.db.tables import metadata
from takeamoment.services.auth import issue_host_token
from takeamoment.settings import Settings

PG_ADMIN_DSN = os.environ.get("TAKEAMOMENT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip on a laptop without the service; under CI a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: tests that need it must run, not skip)")
    pytest.skip(reason)


def _pg_url(dsn: str, database: str) -> str:
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


async def _pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


@contextmanager
def new_pg_database(copy_of: str | None = None) -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards: migrated to head, or a copy of the
    database at ``copy_of`` (which nothing may be connected to meanwhile)."""
    name = f"tam_test_{uuid.uuid4().hex[:10]}"
    template = f' TEMPLATE "{copy_of.rsplit("/", 1)[-1]}"' if copy_of else ""
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"{template}'))
    except (OSError, asyncpg.PostgresError) as error:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {error}")
    url = _pg_url(PG_ADMIN_DSN, name)
    try:
        if copy_of is None:
            upgrade_to_head(url)
        yield url
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated to head, dropped at the end."""
    with new_pg_database() as url:
        yield url


# Children before parents. DELETE, not TRUNCATE: on tables of a few rows it is a third of the
# time (TRUNCATE makes new files for every table), and ~450 tests empty the database first.
EMPTY_EVERY_TABLE = "".join(
    f'DELETE FROM "{t.name}";'  # noqa: S608 (our own table names)
    for t in reversed(metadata.sorted_tables)
)


async def empty_database(url: str) -> None:
    """Delete every row of the PostgreSQL database at ``url`` (its schema stays at head)."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        async with connection.transaction():
            await connection.execute(EMPTY_EVERY_TABLE)
    finally:
        await connection.close()


def sqlite_copy(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty SQLite database of the test's own."""
    path = tmp_path / "test.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database: once SQLite, once PostgreSQL (or SQLite alone: ONE_BACKEND)."""
    if request.param == "sqlite":
        yield sqlite_copy(tmp_path, sqlite_template)
    else:
        url: str = request.getfixturevalue("pg_database")
        asyncio.run(empty_database(url))
        yield url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[str]:
    """A migrated database of one module's own, once SQLite, once PostgreSQL, for tests that share
    one server (``module_workers_server``): each of them makes its own event and people under
    names of its own (``unique``), and no other test empties it or writes to it."""
    if request.param == "sqlite":
        yield sqlite_copy(tmp_path_factory.mktemp("module-db"), sqlite_template)
    else:
        with new_pg_database() as url:
            yield url


# A module whose behaviour lies above the database (HTTP semantics, rendering and what readers
# make of it, roles, limits, the stream's protocol, the terminal board) runs on SQLite alone:
# ``pytestmark = ONE_BACKEND``. The second run would check nothing more at the cost of a second
# app or server per test. The rules the database keeps (overlaps and double bookings under
# concurrency, the change log, claims of due notices and deliveries, stored text, search) stay
# on both, as does everything that reads or writes what those modules read.
ONE_BACKEND = pytest.mark.one_backend


@pytest.hookimpl(tryfirst=True)  # before the fixtures' own hook parametrizes ``db_url``
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``one_backend`` that take ``db_url`` get SQLite alone."""
    marked = metafunc.definition.get_closest_marker("one_backend") is not None
    parametrized = any(
        "db_url" in str(mark.args[0]) for mark in metafunc.definition.iter_markers("parametrize")
    )
    if marked and "db_url" in metafunc.fixturenames and not parametrized:
        sqlite_alone = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
        metafunc.definition.add_marker(sqlite_alone)


def in_process_settings(db_url: str) -> Settings:
    """The settings of the in-process apps."""
    return Settings(
        database_url=db_url,
        public_url="http://testserver",
        secret_key="test-secret-key",
        debug=True,
    )


@pytest.fixture
def settings(db_url: str) -> Settings:
    return in_process_settings(db_url)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
async def host_token(db: Database) -> str:
    return await issue_host_token(db, "Test Host")


def pytest_configure() -> None:
    """The collector tuned as in every server process (``cli.tune_collector``): the apps, the
    ORM and Hypothesis make many short-lived objects, and with the default thresholds a test
    process spent a fifth of its CPU in collections."""
    tune_collector()


# Modules whose tests share one worker under ``pytest -n`` (bin/test), and with it what the worker
# starts once for them: a server per backend for the module, the fault tests' private PostgreSQL,
# the calendar readers' ical.js. pytest-xdist's ``xdist_group`` mark does nothing with pytest 9
# (xdist 3.8 renames ``item._nodeid``, which pytest 9 no longer reads), so the scheduler below
# keeps each of these modules together instead.
ONE_WORKER = (
    "tests/e2e/test_concurrency.py",
    "tests/e2e/test_faults.py",
    "tests/calendar/test_readers.py",
)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``, each module of ``ONE_WORKER`` a unit, every other test its own."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ByModule(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER else nodeid

    return ByModule(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked slow first, the rest in their order: on several workers (``bin/test``) a
    minute-long test picked up last would run on alone while the other workers sit idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
