"""``takeamoment token list`` and ``token revoke``, each in a process of its own as a user runs
them (forked from the fork server of ``tests/launch.py``; ``tests/e2e/test_cli.py`` runs the
installed console script itself)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path

import pytest
from alembic import command
from litestar.testing import AsyncTestClient
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from takeamoment.app import create_app
from takeamoment.db.migrate import alembic_config
from takeamoment.services.tokens import hash_token
from takeamoment.settings import Settings
from tests import launch, plain_http
from tests.e2e.conftest import server_env, start_server, stop_server


def takeamoment(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return launch.run(args, env, cwd)


def issue(env: dict[str, str], cwd: Path) -> str:
    """A host token from ``takeamoment token issue``: its last line of output."""
    result = takeamoment(env, cwd, "token", "issue", "--role", "host", "--name", "E2E Host")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def listed(env: dict[str, str], cwd: Path) -> dict[str, str]:
    """Token id -> the rest of its row in ``token list``."""
    result = takeamoment(env, cwd, "token", "list")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["ID", "CREATED", "(UTC)", "STATUS", "HOST"]
    return {row.split()[0]: row for row in rows}


async def test_tokens_are_listed_without_secrets_and_revoked_by_id_or_value(
    db_url: str, tmp_path: Path
) -> None:
    env = server_env(db_url)
    first, second = issue(env, tmp_path), issue(env, tmp_path)
    rows = listed(env, tmp_path)
    assert len(rows) == 2 and all("active" in row and "E2E Host" in row for row in rows.values())
    first_id, second_id = rows

    revoked = takeamoment(env, tmp_path, "token", "revoke", first_id)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.startswith(f"revoked host token {first_id} of E2E Host at ")
    again = takeamoment(env, tmp_path, "token", "revoke", first_id)
    assert again.returncode == 0 and "already revoked" in again.stdout
    by_value = takeamoment(env, tmp_path, "token", "revoke", "--token", second)
    assert by_value.returncode == 0 and second_id in by_value.stdout

    listing = takeamoment(env, tmp_path, "token", "list")
    assert all("revoked 20" in row for row in listed(env, tmp_path).values())
    everything = listing.stdout + listing.stderr + revoked.stdout + by_value.stdout
    for token in (first, second):
        assert token not in everything and hash_token(token) not in everything

    settings = Settings(database_url=db_url, secret_key="e2e-secret", public_url="http://t")
    async with AsyncTestClient(app=create_app(settings)) as client:
        for token in (first, second):
            response = await client.get(
                "/api/people/x", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401, response.text


def test_revoking_an_unknown_token_fails_with_a_clear_message(db_url: str, tmp_path: Path) -> None:
    env = server_env(db_url)
    unknown = takeamoment(env, tmp_path, "token", "revoke", "no-such-id")
    assert unknown.returncode == 1
    assert "no token has the id 'no-such-id'" in unknown.stderr
    by_value = takeamoment(env, tmp_path, "token", "revoke", "--token", "tam_never-issued")
    assert by_value.returncode == 1 and "no token matches" in by_value.stderr
    neither = takeamoment(env, tmp_path, "token", "revoke")
    assert neither.returncode == 2 and "TOKEN_ID or --token" in neither.stderr
    empty = takeamoment(env, tmp_path, "token", "list")
    assert empty.returncode == 0 and empty.stdout == "" and "no host tokens yet" in empty.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_revoking_a_token_closes_the_stream_it_already_has_open(
    db_url: str, tmp_path: Path
) -> None:
    env = server_env(db_url, TAKEAMOMENT_WS_REAUTH_SECONDS="0.5")
    host = {"Authorization": f"Bearer {issue(env, tmp_path)}"}
    process, url = start_server(env, tmp_path)
    try:
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            body = {"name": "Ana", "handle": "ana", "role": "creator"}
            creator = (await client.post("/api/people", json=body, headers=host)).json()
        stream = url.replace("http://", "ws://") + "/ws/me"
        async with connect(
            stream, additional_headers={"Authorization": f"Bearer {creator['token']}"}
        ) as ws:
            revoked = takeamoment(env, tmp_path, "token", "revoke", "--token", creator["token"])
            assert revoked.returncode == 0, revoked.stderr
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
    finally:
        stop_server(process)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "the token was revoked")


def test_token_commands_never_migrate_a_database_behind_head(tmp_path: Path) -> None:
    behind = tmp_path / "behind.db"
    command.upgrade(alembic_config(f"sqlite+aiosqlite:///{behind}"), "0003")
    for db_file in (behind, tmp_path / "missing.db"):
        env = server_env(f"sqlite+aiosqlite:///{db_file}")
        for args in (
            ("token", "list"),
            ("token", "issue", "--role", "host", "--name", "Nobody"),
            ("token", "revoke", "some-id"),
        ):
            refused = takeamoment(env, tmp_path, *args)
            assert refused.returncode == 1, (args, refused.stdout, refused.stderr)
            assert "run `takeamoment db upgrade` first" in refused.stderr
            assert refused.stdout == ""
    with sqlite3.connect(behind) as connection:
        [(revision,)] = connection.execute("SELECT version_num FROM alembic_version")
    assert revision == "0003"
    assert not (tmp_path / "missing.db").exists()
