"""Real server processes (``takeamoment serve``) and real HTTP clients."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from takeamoment.db.engine import Database
from takeamoment.services.auth import issue_host_token as issue_in_process
from tests import plain_http
from tests.conftest import skip_or_fail
from tests.launch import Launched, Process, launch

BIN = Path(sys.executable).parent / "takeamoment"


@dataclass(frozen=True)
class Server:
    url: str
    host_token: str
    env: dict[str, str]

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.host_token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(db_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TAKEAMOMENT_DATABASE_URL": db_url,
        "TAKEAMOMENT_SECRET_KEY": "e2e-secret",
        "TAKEAMOMENT_LOG_LEVEL": "warning",
        # Tests drive many requests and sockets from 127.0.0.1: no per-address limits, unless a
        # test (tests/e2e/test_ws_limits.py) sets them.
        "TAKEAMOMENT_RATE_LIMIT_PER_MINUTE": "0",
        "TAKEAMOMENT_WS_MAX_PER_CLIENT": "0",
        **extra,
    }


def wait_ready(url: str, process: Process, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with plain_http.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early with {process.returncode}")
            try:
                if http.get(f"{url}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise TimeoutError(f"server at {url} not ready after {timeout}s")


def start_server(
    env: dict[str, str], cwd: Path, workers: int = 1, port: int | None = None
) -> tuple[Launched, str]:
    """``takeamoment serve`` (forked from the fork server of ``tests/launch.py``), once ready."""
    port = port or free_port()
    argv = ["serve", "--port", str(port), "--workers", str(workers)]
    process = launch(argv, env, cwd, starts_processes=workers > 1)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
    except BaseException:
        stop_server(process)
        raise
    return process, url


def kill_hard(process: Process) -> None:
    """SIGKILL: no shutdown hook runs, as when a machine dies."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


async def until(predicate: Callable[[], object], limit: float = 60) -> None:
    """Wait until ``predicate()`` holds, checking every 0.1 s; fail after ``limit`` seconds."""
    deadline = asyncio.get_running_loop().time() + limit
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def stop_server(process: Process) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def issue_host_token(env: dict[str, str], cwd: Path) -> str:
    """A host token for the server's database, issued in this process as `token issue` does.

    Starting a Python process per test to issue one cost a second of CPU a test; the command
    itself is tested (``issue_host_token_with_cli`` in ``tests/e2e/test_cli.py``, and
    ``tests/e2e/test_tokens_cli.py``). Run in a thread of its own: tests call this from inside
    their event loop too.
    """

    async def issue() -> str:
        db = Database(env["TAKEAMOMENT_DATABASE_URL"])
        try:
            return await issue_in_process(db, "E2E Host")
        finally:
            await db.dispose()

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, issue()).result()


def issue_host_token_with_cli(env: dict[str, str], cwd: Path) -> str:
    """A host token issued by ``takeamoment token issue``: its last line of output."""
    result = subprocess.run(
        [str(BIN), "token", "issue", "--role", "host", "--name", "E2E Host"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def _serve(env: dict[str, str], cwd: Path, workers: int) -> Iterator[Server]:
    token = issue_host_token(env, cwd)
    process, url = start_server(env, cwd, workers=workers)
    try:
        yield Server(url=url, host_token=token, env=env)
    finally:
        stop_server(process)


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    """``takeamoment serve``: one process, the embedded in-memory bus."""
    yield from _serve(server_env(db_url), tmp_path, workers=1)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis on this machine; skipped on a laptop without it, a failure under CI."""
    url = os.environ.get("TAKEAMOMENT_TEST_REDIS", "redis://127.0.0.1:6379/0")
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as probe:
            probe.sendall(b"PING\r\n")
            if not probe.recv(16).startswith(b"+PONG"):
                raise OSError("no PONG")
    except OSError as error:
        skip_or_fail(f"Redis is not reachable at {url}: {error}")
    return url


def bus_env(redis_url: str) -> dict[str, str]:
    """Redis fan-out on a channel of this test's own, so parallel servers never cross-talk."""
    return {
        "TAKEAMOMENT_REDIS_URL": redis_url,
        "TAKEAMOMENT_BUS_CHANNEL": f"takeamoment-test-{uuid.uuid4().hex[:8]}",
    }


@pytest.fixture
def workers_server(db_url: str, redis_url: str, tmp_path: Path) -> Iterator[Server]:
    """``takeamoment serve --workers 2``: two processes sharing the database and Redis."""
    yield from _serve(server_env(db_url, **bus_env(redis_url)), tmp_path, workers=2)


@pytest.fixture(scope="module")
def module_workers_server(
    module_db_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """``serve --workers 2`` shared by one module's tests, on each backend: its two workers are
    fresh interpreters (uvicorn spawns them), three seconds of CPU a start. For tests that only
    add to the database, each under names of its own (``unique``)."""
    env = server_env(module_db_url, **bus_env(redis_url))
    yield from _serve(env, tmp_path_factory.mktemp("server"), workers=2)


def unique(prefix: str) -> str:
    """A slug or handle no other test sharing the server uses."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"
