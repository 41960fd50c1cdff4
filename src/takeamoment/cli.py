"""The ``takeamoment`` command: serve, migrate, seed the demo, issue tokens."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
import uvicorn

from takeamoment.db.engine import Database
from takeamoment.db.migrate import upgrade_to_head
from takeamoment.domain.errors import NotFound
from takeamoment.logs import uvicorn_log_config
from takeamoment.realtime.stream import MAX_INCOMING_BYTES
from takeamoment.services.auth import issue_host_token
from takeamoment.services.host_tokens import TokenInfo, list_host_tokens, revoke_token, token_id_of
from takeamoment.settings import Settings, get_settings

T = TypeVar("T")

# uvicorn on uvloop and httptools (the default), as it ran before (asyncio, h11 and the stock
# Sans-I/O WebSocket protocol: kept for comparison), or Granian; bench/http_servers.py and
# bench/fanout.py --server measure them.
SERVERS = ("uvicorn", "uvicorn-h11", "granian")
DEFAULT_SERVER = "uvicorn"
LEAN_WS_PROTOCOL = "takeamoment.realtime.wsprotocol:LeanWebSocketsProtocol"


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as error:
        raise click.ClickException(str(error)) from error


def _migrate(settings: Settings) -> None:
    upgrade_to_head(settings.database_url)


async def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    db = Database(settings.database_url)
    try:
        return await work(db)
    finally:
        await db.dispose()


def _serve(host: str, port: int, workers: int, server: str = DEFAULT_SERVER) -> None:
    settings = _settings()
    if workers > 1 and not settings.redis_url:
        raise click.ClickException(
            "--workers above 1 needs TAKEAMOMENT_REDIS_URL: without Redis, live updates would "
            "reach only the viewers of the process that made the change"
        )
    _migrate(settings)
    settings.resolved_secret_key()  # create it before workers race to do so
    tune_collector()
    if server == "granian":
        _run_granian(host, port, workers, settings)
    else:
        _run_uvicorn(host, port, workers, settings, fast=server == "uvicorn")


def tune_collector() -> None:
    """Fan-out to thousands of viewers makes many short-lived objects; with the default
    thresholds the collector ran ~250 times over 20 changes to 5,000 viewers (bench/fanout.py)."""
    gc.set_threshold(50_000, 50, 100)


def _run_uvicorn(host: str, port: int, workers: int, settings: Settings, fast: bool) -> None:
    uvicorn.run(
        "takeamoment.cli:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop" if fast else "asyncio",
        http="httptools" if fast else "h11",
        # uvicorn's websockets-sansio protocol, holding less per idle connection.
        ws=LEAN_WS_PROTOCOL if fast else "websockets-sansio",
        # Deflate costs up to ~300 KiB per connection; our messages are small.
        ws_per_message_deflate=False,
        ws_max_size=MAX_INCOMING_BYTES,
        log_level=settings.log_level,
        log_config=uvicorn_log_config(),  # access lines carry URLs: redact their tokens
    )


def served_app() -> Any:
    """The app as each server process builds it: worker processes are spawned, not forked, so
    the collector is tuned in each of them too."""
    from takeamoment.app import create_app

    tune_collector()
    return create_app()


def _run_granian(host: str, port: int, workers: int, settings: Settings) -> None:
    try:
        from granian.constants import Interfaces, Loops
        from granian.log import LogLevels
        from granian.server import Server
    except ImportError as error:
        raise click.ClickException(
            "--server granian needs the granian package (pip install granian)"
        ) from error

    Server(
        "takeamoment.cli:served_app",
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        factory=True,
        loop=Loops.uvloop,
        websockets=True,
        log_level=LogLevels(settings.log_level.lower()),
    ).serve()


@click.group()
def main() -> None:
    """Run live-streamed events: schedules, bookings, live status and calendar feeds."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--server",
    type=click.Choice(SERVERS),
    default=DEFAULT_SERVER,
    show_default=True,
    help="The HTTP server (bench/http_servers.py compares them).",
)
def serve(host: str, port: int, workers: int, server: str) -> None:
    """Migrate the database to head, then serve the app."""
    _serve(host, port, workers, server)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command()
def upgrade() -> None:
    """Alembic upgrade to head."""
    settings = _settings()
    _migrate(settings)
    click.echo("database is at head")


@main.group()
def token() -> None:
    """Bearer tokens."""


@token.command("issue")
@click.option("--role", type=click.Choice(["host"]), required=True)
@click.option("--name", required=True)
def token_issue(role: str, name: str) -> None:
    """Create a host and print its bearer token alone on the last line."""
    settings = _settings()
    _migrate(settings)
    issued = asyncio.run(_with_db(settings, lambda db: issue_host_token(db, name)))
    click.echo(f"issued a {role} token for {name!r}; it is shown only once:", err=True)
    click.echo(str(issued))


@token.command("list")
def token_list() -> None:
    """List host tokens: id, host, created, active or revoked (never a token or its hash)."""
    settings = _settings()
    _migrate(settings)
    listed = asyncio.run(_with_db(settings, list_host_tokens))
    if not listed:
        click.echo("no host tokens yet: takeamoment token issue --role host --name NAME", err=True)
        return
    click.echo(f"{'ID':<32}  {'CREATED (UTC)':<20}  {'STATUS':<28}  HOST")
    for info in listed:
        status = "active" if info.revoked_at is None else f"revoked {_utc(info.revoked_at)}"
        click.echo(f"{info.id:<32}  {_utc(info.created_at):<20}  {status:<28}  {info.owner}")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@token.command("revoke")
@click.argument("token_id", required=False)
@click.option("--token", "token_value", help="The token itself (tam_...), instead of its id.")
def token_revoke(token_id: str | None, token_value: str | None) -> None:
    """Revoke a token by its id (from `token list`) or by its value; it stops working at once."""
    if (token_id is None) == (token_value is None):
        raise click.UsageError("give one of TOKEN_ID or --token TOKEN")
    settings = _settings()
    _migrate(settings)

    async def revoke(db: Database) -> tuple[TokenInfo, bool]:
        target = token_id or await token_id_of(db, token_value or "")
        if target is None:
            raise NotFound("token", "given with --token")
        return await revoke_token(db, target)

    try:
        info, changed = asyncio.run(_with_db(settings, revoke))
    except NotFound as error:
        message = (
            f"no token has the id {token_id!r}; `takeamoment token list` shows the ids"
            if token_id
            else "no token matches the one given with --token; paste the whole tam_... token"
        )
        raise click.ClickException(message) from error
    when = _utc(info.revoked_at or datetime.now(UTC))
    if changed:
        click.echo(f"revoked {info.role} token {info.id} of {info.owner} at {when} UTC")
    else:
        click.echo(f"{info.role} token {info.id} of {info.owner} was already revoked at {when} UTC")


@main.command()
@click.option("--serve", "then_serve", is_flag=True, help="Serve the app after seeding.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def demo(then_serve: bool, host: str, port: int) -> None:
    """Seed the "Take A Moment" demo event (idempotent) and print a host token and URLs."""
    from takeamoment.demo import seed_demo

    settings = _settings()
    _migrate(settings)
    result = asyncio.run(_with_db(settings, lambda db: seed_demo(db, settings)))
    click.echo(str(result))
    sys.stdout.flush()
    if then_serve:
        _serve(host, port, 1)


@main.command()
@click.argument("slug")
@click.option("--url", help="The server's base URL.  [default: TAKEAMOMENT_PUBLIC_URL]")
@click.option("--once", is_flag=True, help="Print the board after the snapshot and exit.")
@click.option("--max-updates", type=click.IntRange(min=1), help="Exit after N changes.")
def watch(slug: str, url: str | None, once: bool, max_updates: int | None) -> None:
    """Show a live board of an event in the terminal, fed by its WebSocket."""
    from takeamoment.watch import WatchError, run_watch

    try:
        run_watch(url or _settings().public_url, slug, once=once, max_updates=max_updates)
    except WatchError as error:
        raise click.ClickException(str(error)) from error


if __name__ == "__main__":  # pragma: no cover
    main()
