"""The ``takeamoment`` command: serve, migrate, seed the demo, issue tokens."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
import uvicorn

from takeamoment import metrics
from takeamoment.db.engine import Database
from takeamoment.db.migrate import SchemaNotAtHead, ensure_at_head, upgrade_to_head
from takeamoment.delivery.catcher import MailCatcher
from takeamoment.domain.errors import NotFound
from takeamoment.logs import uvicorn_log_config
from takeamoment.realtime.protocol import MAX_INCOMING_BYTES
from takeamoment.services.auth import issue_host_token
from takeamoment.services.host_tokens import TokenInfo, list_host_tokens, revoke_token, token_id_of
from takeamoment.services.outbox import configure
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


def _require_schema(settings: Settings) -> None:
    """Commands that only read or write rows never change a database's schema: a production
    database is migrated on purpose (``db upgrade``, ``serve``), not by a token command."""
    try:
        ensure_at_head(settings.database_url)
    except SchemaNotAtHead as error:
        raise click.ClickException(
            f"{error}; run `takeamoment db upgrade` first (this command does not migrate)"
        ) from error


async def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    db = Database(settings.database_url)
    # Notices written here (the demo's invitations) get their words, links and email rows too.
    configure(db, public_url=settings.public_url, email=bool(settings.smtp_url))
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
    with metrics.across_workers(workers):
        if server == "granian":
            _run_granian(host, port, workers, settings)
        else:
            _run_uvicorn(host, port, workers, settings, fast=server == "uvicorn")


def tune_collector() -> None:
    """Fan-out to thousands of viewers makes many short-lived objects; with the default
    thresholds the collector ran ~250 times over 20 changes to 5,000 viewers (bench/fanout.py)."""
    gc.set_threshold(50_000, 50, 100)


def _run_uvicorn(host: str, port: int, workers: int, settings: Settings, fast: bool) -> None:
    json_lines = settings.log_format == "json"
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
        # Access lines carry URLs: redact their tokens. With JSON logs the app writes its own
        # access lines, with the request id, route and duration (api/observe.py).
        log_config=uvicorn_log_config(json_lines=json_lines),
        access_log=not json_lines,
        # uvicorn believes X-Forwarded-For from loopback unless told otherwise, which would let
        # any local client choose its address for every per-address limit: trust only the
        # proxies the settings list, and with none, no header at all.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
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
    _require_schema(settings)
    issued = asyncio.run(_with_db(settings, lambda db: issue_host_token(db, name)))
    click.echo(f"issued a {role} token for {name!r}; it is shown only once:", err=True)
    click.echo(str(issued))


@token.command("list")
def token_list() -> None:
    """List host tokens: id, host, created, active or revoked (never a token or its hash)."""
    settings = _settings()
    _require_schema(settings)
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
    _require_schema(settings)

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

    if "TAKEAMOMENT_PUBLIC_URL" not in os.environ:
        # The printed links, the mails' links and the pages' same-origin checks all name the
        # public URL: without one set, it is where the demo serves (--host, --port).
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a comparison
        shown = f"[{shown}]" if ":" in shown else shown  # an IPv6 address in a URL
        os.environ["TAKEAMOMENT_PUBLIC_URL"] = f"http://{shown}:{port}"
    settings = _settings()
    catcher = _demo_mail_catcher(settings) if then_serve else None
    if catcher is not None:
        settings = _settings()
    _migrate(settings)
    result = asyncio.run(_with_db(settings, lambda db: seed_demo(db, settings)))
    click.echo(str(result))
    if catcher is not None:
        click.echo(
            f"Mails are caught locally ({catcher.url}): each one is written to"
            f" {catcher.folder}/ as an .eml file; set TAKEAMOMENT_SMTP_URL to send them for real.",
            err=True,
        )
    sys.stdout.flush()
    if then_serve:
        _serve(host, port, 1)


@main.command("export")
@click.argument("slug")
def export_command(slug: str) -> None:
    """Print the event as one JSON document (private fields included: keep it safe)."""
    from takeamoment.transfer import export_to_text

    settings = _settings()
    _migrate(settings)
    click.echo(asyncio.run(_with_db(settings, lambda db: export_to_text(db, slug))))


@main.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--slug", help="The new event's slug (a JSON document); the event to add to (CSV).")
@click.option(
    "--dry-run", is_flag=True, help="Check and say what would be created; change nothing."
)
def import_command(file: TextIO, slug: str | None, dry_run: bool) -> None:
    """Create a draft event from an exported JSON document, or add a CSV of slots to an event.

    The CSV's columns are channel,title,starts_at,ends_at,kind,tags,people (see the README).
    """
    from takeamoment.transfer import import_from_text

    settings = _settings()
    _migrate(settings)
    name = getattr(file, "name", "") or ""
    text = file.read()
    ok, report = asyncio.run(
        _with_db(
            settings,
            lambda db: import_from_text(db, text, name, slug, dry_run, settings.public_url),
        )
    )
    click.echo(report, err=not ok)
    if not ok:
        sys.exit(1)


def _demo_mail_catcher(settings: Settings) -> MailCatcher | None:
    """Without an SMTP server configured, the demo catches its own mails (see catcher.py)."""
    if settings.smtp_url:
        return None
    catcher = MailCatcher(Path("demo-mail").resolve()).start()
    os.environ["TAKEAMOMENT_SMTP_URL"] = catcher.url
    os.environ.setdefault("TAKEAMOMENT_MAIL_FROM", "Take A Moment <demo@takeamoment.test>")
    get_settings.cache_clear()
    return catcher


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
