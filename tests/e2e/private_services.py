"""A PostgreSQL and a Redis of the test's own, which fault tests may stop and start at will.

The shared services on 5432 and 6379 serve other tests and CI at the same time, so a test that
kills its database or its Redis starts a private one on a free port instead. PostgreSQL runs as
the ``postgres`` user (it refuses root) from a temporary data directory with trust auth.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from takeamoment.db.migrate import upgrade_to_head
from tests.conftest import skip_or_fail
from tests.e2e.conftest import free_port

READY_WAIT_S = 30


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_postgres(*command: str) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as ``postgres`` when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


def _wait_for_port(port: int, up: bool) -> None:
    deadline = time.monotonic() + READY_WAIT_S
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                listening = True
        except OSError:
            listening = False
        if listening == up:
            return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} still {'closed' if up else 'open'} after {READY_WAIT_S}s")


class PrivatePostgres:
    """One PostgreSQL cluster in a temporary directory, on a port of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        pg_ctl = _pg_bin("pg_ctl")
        assert pg_ctl is not None
        self._pg_ctl = pg_ctl

    def init(self) -> None:
        initdb = _pg_bin("initdb")
        assert initdb is not None
        command = [initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"]
        subprocess.run(_as_postgres(*command), check=True, capture_output=True)

    def start(self) -> None:
        # fsync=off: a killed *server process* never loses what the kernel already holds, and
        # these tests only kill processes, never the machine.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        command = [self._pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.root / "log")]
        subprocess.run(_as_postgres(*command, "-w", "start"), check=True, capture_output=True)

    def stop(self, mode: str = "fast") -> None:
        """``fast`` shuts down cleanly; ``immediate`` is as abrupt as a crash (recovery follows)."""
        command = [self._pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"]
        subprocess.run(_as_postgres(*command), check=True, capture_output=True)
        _wait_for_port(self.port, up=False)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh database migrated to head; its SQLAlchemy URL."""
        name = f"tam_fault_{uuid.uuid4().hex[:10]}"

        async def create() -> None:
            connection = await asyncpg.connect(self.dsn(), timeout=5)
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()

        asyncio.run(create())
        url = self.dsn(name).replace("postgresql://", "postgresql+asyncpg://")
        upgrade_to_head(url)
        return url


class PrivateRedis:
    """A ``redis-server`` child process on a fixed port, stoppable and startable again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--daemonize", "no"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _wait_for_port(self.port, up=True)

    def pause(self) -> None:
        """SIGSTOP: it keeps accepting connections (the kernel does) and never answers."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """As abrupt as it gets: SIGKILL, no goodbye to the clients."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        _wait_for_port(self.port, up=False)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL of this test session's own; skipped (failed under CI) without the binaries."""
    if _pg_bin("initdb") is None or _pg_bin("pg_ctl") is None:
        skip_or_fail("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        skip_or_fail("running as root without runuser: cannot start PostgreSQL as postgres")
    root = Path(tempfile.mkdtemp(prefix="tam-private-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    server = PrivatePostgres(root)
    try:
        server.init()
        server.start()
    except (subprocess.CalledProcessError, OSError, TimeoutError) as error:
        shutil.rmtree(root, ignore_errors=True)
        skip_or_fail(f"could not start a private PostgreSQL: {error}")
    try:
        yield server
    finally:
        # It may already be stopped by the test.
        with contextlib.suppress(subprocess.CalledProcessError, TimeoutError):
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def private_pg_url(private_postgres: PrivatePostgres) -> str:
    """A fresh, migrated database on the private PostgreSQL (set up outside the event loop)."""
    return private_postgres.new_database()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis of this test's own; skipped (failed under CI) without ``redis-server``."""
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server is not installed")
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()
