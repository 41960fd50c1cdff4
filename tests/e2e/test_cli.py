"""The ``takeamoment`` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from takeamoment.app import create_app
from takeamoment.settings import Settings
from tests import launch, plain_http
from tests.e2e.conftest import BIN, Server, issue_host_token_with_cli, server_env


def test_token_issue_prints_a_prefixed_token_alone_on_the_last_line(
    db_url: str, tmp_path: Path
) -> None:
    token = issue_host_token_with_cli(server_env(db_url), tmp_path)
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
    async with plain_http.AsyncClient(base_url=server.url) as client:
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


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``takeamoment ARGS`` forked from the fork server (``tests/launch.py``): a dozen commands
    here, each 1.5 s of imports as a new process. The console script itself is run above."""
    return launch.run(args, env, cwd)


@pytest.mark.slow
def test_export_and_import_carry_an_event_to_another_database_and_back(tmp_path: Path) -> None:
    here = server_env(f"sqlite+aiosqlite:///{tmp_path / 'here.db'}")
    there = server_env(f"sqlite+aiosqlite:///{tmp_path / 'there.db'}")
    assert _run(here, tmp_path, "demo").returncode == 0
    exported = _run(here, tmp_path, "export", "take-a-moment")
    assert exported.returncode == 0, exported.stderr
    (tmp_path / "event.json").write_text(exported.stdout)

    dry = _run(there, tmp_path, "import", "event.json", "--slug", "copy", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (
        "would create 3 channel(s), 21 slot(s)" in dry.stdout
        and "nothing was changed" in dry.stdout
    )
    done = _run(there, tmp_path, "import", "event.json", "--slug", "copy")
    assert done.returncode == 0, done.stderr
    assert "@dr.hannah.mercer" in done.stdout  # the people came with the document
    again = _run(there, tmp_path, "export", "copy")
    assert {**json.loads(again.stdout), "slug": "take-a-moment"} == json.loads(exported.stdout)

    twice = _run(there, tmp_path, "import", "event.json", "--slug", "copy")
    assert twice.returncode == 1
    assert "slug: an event with slug 'copy' already exists" in twice.stderr
    assert "nothing was changed" in twice.stderr

    (tmp_path / "plan.csv").write_text(
        "channel,title,starts_at,ends_at,kind,tags,people\n"
        f"calm,Quiet hour,{_day(exported.stdout)} 08:00,{_day(exported.stdout)} 09:00,music,calm,\n"
    )
    early = _run(there, tmp_path, "import", "plan.csv", "--slug", "copy")
    assert early.returncode == 1 and "slots[0].starts_at" in early.stderr  # before the event
    (tmp_path / "plan.csv").write_text(
        (tmp_path / "plan.csv").read_text().replace("08:00", "22:00").replace("09:00", "22:30")
    )
    early = _run(there, tmp_path, "import", "plan.csv", "--slug", "copy")
    assert early.returncode == 1, early.stdout
    (tmp_path / "plan.csv").write_text(
        (tmp_path / "plan.csv").read_text().replace("22:00", "21:30").replace("22:30", "22:00")
    )
    added = _run(there, tmp_path, "import", "plan.csv", "--slug", "copy")
    assert added.returncode == 0, added.stderr
    assert "created 0 channel(s), 1 slot(s)" in added.stdout


def _day(document: str) -> str:
    return str(json.loads(document)["starts_at"])[:10]


def test_the_demo_names_the_address_it_serves_on_unless_a_public_url_is_set(
    tmp_path: Path,
) -> None:
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    env.pop("TAKEAMOMENT_PUBLIC_URL", None)

    printed = _run(env, tmp_path, "demo", "--port", "9123").stdout
    assert "http://127.0.0.1:9123/events/take-a-moment" in printed

    env["TAKEAMOMENT_PUBLIC_URL"] = "https://live.example.org"
    printed = _run(env, tmp_path, "demo", "--port", "9123").stdout
    assert "https://live.example.org/events/take-a-moment" in printed
