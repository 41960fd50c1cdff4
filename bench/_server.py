"""Real ``takeamoment serve`` processes for a benchmark: fresh database, ready, host token, cleanup.

``running_servers(...)`` is the one entry point: it makes a fresh database (a SQLite file in a
temporary directory, or a ``tam_bench_<random>`` PostgreSQL database created with the admin DSN
and dropped with ``WITH (FORCE)`` afterwards), starts K ``takeamoment serve`` processes on free
ports of 127.0.0.1 (or one process with ``--workers W``), waits until each answers ``/readyz``,
issues a host token with ``takeamoment token issue``, and on the way out (also on an exception or
a cancellation) stops every process and drops the database.

Processes after the first start only once the first is ready: ``serve`` migrates the database
to head before serving, and K processes migrating one fresh database at once would race.
Several processes (or workers) need Redis (``redis_url``) so that a change made through one
reaches the viewers of another; each run gets its own bus channel so that concurrent runs and
tests on the same Redis never cross-talk. The server environment starts from this process's
environment without any ``TAKEAMOMENT_*`` variable, then sets the database, a random secret key,
``TAKEAMOMENT_LOG_LEVEL=warning`` (no access log: measure the app, not log writing), no
per-client rate or WebSocket limits (all the load comes from 127.0.0.1: a limit would measure the
limiter) and ``extra_env``. Every failure here is a ``ServerError``, a kind of ``BenchError``, the
error every benchmark reports as "could not run as intended".
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

HOST = "127.0.0.1"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"

READY_TIMEOUT_S = 60.0
COMMAND_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class BenchError(RuntimeError):
    """The benchmark could not run as intended; the message says why."""


class ServerError(BenchError):
    """A server could not be started, readied or given a token; the message says why."""


@dataclass(frozen=True, slots=True)
class Server:
    """One ``takeamoment serve`` process."""

    process: asyncio.subprocess.Process
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}"


@dataclass(slots=True)
class Cluster:
    """The servers of one run, sharing one database (and Redis when there are several)."""

    servers: list[Server]
    env: dict[str, str]
    workdir: Path
    database_url: str
    host_token: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.host_token}"}

    def log_tails(self, lines: int = 20) -> str:
        return "\n".join(
            f"--- {server.log_path.name} (last lines) ---\n{log_tail(server.log_path, lines)}"
            for server in self.servers
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def takeamoment_command() -> str:
    beside = Path(sys.executable).parent / "takeamoment"
    found = str(beside) if beside.exists() else shutil.which("takeamoment")
    if not found:
        raise ServerError("the takeamoment command is not installed (run bin/setup)")
    return found


def log_tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no server log)"


def server_env(database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEAMOMENT_")}
    env.update(
        TAKEAMOMENT_DATABASE_URL=database_url,
        TAKEAMOMENT_SECRET_KEY=secrets.token_urlsafe(32),
        TAKEAMOMENT_LOG_LEVEL="warning",
        # The load comes from one address (127.0.0.1): no per-address limits.
        TAKEAMOMENT_RATE_LIMIT_PER_MINUTE="0",
        TAKEAMOMENT_WS_MAX_PER_CLIENT="0",
    )
    env.update(extra or {})
    return env


# --- databases --------------------------------------------------------------------------------


async def pg_admin(dsn: str, sql: str) -> Any:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def fresh_database(backend: str, workdir: Path, pg_admin_dsn: str) -> AsyncIterator[str]:
    """A new, empty database for one run; a PostgreSQL one is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    name = f"tam_bench_{secrets.token_hex(5)}"  # hex only: safe to quote into the DDL below
    try:
        await pg_admin(pg_admin_dsn, f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as error:
        raise ServerError(f"PostgreSQL is not reachable at {pg_admin_dsn}: {error}") from error
    try:
        base = pg_admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        yield f"{base}/{name}"
    finally:
        try:
            await pg_admin(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except (OSError, asyncpg.PostgresError) as error:
            print(f"could not drop the scratch database {name}: {error}", file=sys.stderr)


async def postgres_version(pg_admin_dsn: str) -> str:
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        version = str(await pg_admin(pg_admin_dsn, "SHOW server_version"))
        return f"PostgreSQL {version.split()[0]}"
    return "PostgreSQL (unreachable)"


# --- processes --------------------------------------------------------------------------------


# Servers run in process groups of their own (a ``serve --workers N`` is a parent and N worker
# processes): stopping one signals its whole group, so no worker outlives the bench. Being in
# their own session, they no longer get the terminal's Ctrl-C: the groups still running when the
# bench exits are killed on the way out (``_kill_groups_left``), whatever ended it.
_groups: set[int] = set()


def _signal(process: asyncio.subprocess.Process, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if process.pid in _groups:
            os.killpg(process.pid, signum)
        elif process.returncode is None:
            process.send_signal(signum)


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (to its process group, for a server), then SIGKILL after ``STOP_TIMEOUT_S``;
    a server's group gets a SIGKILL in any case, for a worker its parent left behind."""
    if process.returncode is None:
        _signal(process, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            _signal(process, signal.SIGKILL)
            await process.wait()
    if process.pid in _groups:
        _signal(process, signal.SIGKILL)
        _groups.discard(process.pid)


@atexit.register
def _kill_groups_left() -> None:
    for group in list(_groups):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    _groups.clear()


async def wait_ready(server: Server) -> None:
    """Until ``/readyz`` answers 200; a server that exits or takes too long is a ServerError."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(base_url=server.url, timeout=2, trust_env=False) as client:
        while time.monotonic() < deadline:
            if server.process.returncode is not None:
                raise ServerError(
                    f"the server on port {server.port} exited with status"
                    f" {server.process.returncode}\n{log_tail(server.log_path)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise ServerError(
        f"the server on port {server.port} was not ready in {READY_TIMEOUT_S:.0f}s"
        f"\n{log_tail(server.log_path)}"
    )


async def start_server(
    env: dict[str, str], workdir: Path, index: int, workers: int, serve_args: Sequence[str] = ()
) -> Server:
    port = free_port()
    log_path = workdir / f"server-{index}.log"
    with log_path.open("wb") as server_log:  # the child keeps its own descriptor
        process = await asyncio.create_subprocess_exec(
            takeamoment_command(),
            *("serve", "--host", HOST, "--port", str(port), "--workers", str(workers)),
            *serve_args,
            env={**env, "TAKEAMOMENT_PUBLIC_URL": f"http://{HOST}:{port}"},
            cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=server_log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group: see ``stop``
        )
    _groups.add(process.pid)
    return Server(process, port, log_path)


async def issue_host_token(env: dict[str, str], workdir: Path, name: str = "bench") -> str:
    """``takeamoment token issue`` against the run's database; the token is the last line."""
    process = await asyncio.create_subprocess_exec(
        takeamoment_command(),
        *("token", "issue", "--role", "host", "--name", name),
        env=env,
        cwd=workdir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT_S)
    except TimeoutError as error:
        await stop(process)
        raise ServerError("takeamoment token issue did not finish in time") from error
    lines = out.decode().strip().splitlines()
    if process.returncode != 0 or not lines:
        raise ServerError(f"takeamoment token issue failed: {err.decode()[-2000:]}")
    return lines[-1].strip()


@contextlib.asynccontextmanager
async def running_servers(
    *,
    processes: int = 1,
    workers: int = 1,
    backend: str = "postgres",
    redis_url: str | None = None,
    pg_admin_dsn: str = PG_ADMIN_DSN,
    extra_env: Mapping[str, str] | None = None,
    workdir: Path | None = None,
    serve_args: Sequence[str] = (),
) -> AsyncIterator[Cluster]:
    """``processes`` servers (each with ``workers`` workers) on one fresh database, ready, with a
    host token; every process stopped and the database dropped on the way out. The servers run
    in ``workdir`` (their logs and a SQLite database go there), a temporary directory if None.
    ``serve_args`` are added to each ``takeamoment serve`` command (e.g. ``--server granian``)."""
    if (processes > 1 or workers > 1) and not redis_url:
        raise ServerError("more than one server process needs Redis (redis_url)")
    extra = dict(extra_env or {})
    if redis_url:
        extra.setdefault("TAKEAMOMENT_REDIS_URL", redis_url)
        extra.setdefault("TAKEAMOMENT_BUS_CHANNEL", f"takeamoment-bench-{secrets.token_hex(4)}")
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tam-bench-")))
        async with fresh_database(backend, workdir, pg_admin_dsn) as database_url:
            env = server_env(database_url, extra)
            cluster = Cluster([], env, workdir, database_url, extra=extra)
            try:
                for index in range(processes):  # one at a time: the first one migrates
                    server = await start_server(env, workdir, index, workers, serve_args)
                    cluster.servers.append(server)
                    await wait_ready(server)
                cluster.host_token = await issue_host_token(env, workdir)
                yield cluster
            finally:
                await asyncio.gather(*(stop(s.process) for s in cluster.servers))
