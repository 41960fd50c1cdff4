"""The built wheel, installed in a fresh virtual environment far from the source tree, migrates,
seeds the demo and serves, as it does in the Docker image."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import plain_http
from tests.conftest import skip_or_fail
from tests.e2e.conftest import free_port, stop_server, wait_ready

ROOT = Path(__file__).resolve().parents[1]
# What a build needs: the package, its migrations, and the files setuptools reads.
SOURCES = ("src", "migrations", "pyproject.toml", "setup.py", "README.md")


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
    return result.stdout


def build_wheel(work: Path) -> Path:
    """``python -m build --wheel`` on a copy of the sources, so the tree itself stays clean."""
    copy = work / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=ignore)
        else:
            shutil.copy(source, copy / name)
    run(sys.executable, "-m", "build", "--wheel", "--outdir", work / "dist", copy, cwd=work)
    [wheel] = (work / "dist").glob("takeamoment-*.whl")
    return wheel


def fresh_venv_with(wheel: Path, work: Path) -> Path:
    """A new virtual environment with the wheel and its dependencies; its ``bin``.

    The pip of the test's own environment installs into it (``--python``), without compiling
    every module: a pip of its own and the byte code of all dependencies cost 15 s of CPU and
    change nothing the test checks (the commands compile what they import).
    """
    venv = work / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    installed = subprocess.run(
        [*pip, "install", "--quiet", "--no-compile", str(wheel)],
        cwd=work,
        capture_output=True,
        text=True,
    )
    if installed.returncode != 0:
        skip_or_fail(f"could not install the wheel's dependencies: {installed.stderr[-1500:]}")
    return venv / "bin"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_installed_wheel_migrates_seeds_the_demo_and_serves(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    bin_dir = fresh_venv_with(wheel, tmp_path)
    home = tmp_path / "run"  # far from the source tree: nothing there to lean on
    home.mkdir()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(home),
        "TAKEAMOMENT_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'prod.db'}",
        "TAKEAMOMENT_SECRET_KEY": "wheel-test-secret",
        "TAKEAMOMENT_LOG_LEVEL": "warning",
    }
    takeamoment = bin_dir / "takeamoment"
    where = run(
        bin_dir / "python", "-c", "import takeamoment; print(takeamoment.__file__)", cwd=home
    )
    assert where.startswith(str(tmp_path / "venv")), where

    # A token command never creates or migrates a database; it says what to run instead.
    refused = subprocess.run(
        [str(takeamoment), "token", "list"], cwd=home, env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1 and "takeamoment db upgrade" in refused.stderr
    assert not (home / "prod.db").exists()

    assert "database is at head" in run(takeamoment, "db", "upgrade", cwd=home, env=env)
    demo = run(takeamoment, "demo", cwd=home, env=env)
    host_token = demo.strip().splitlines()[-1]
    assert host_token.startswith("tam_")
    assert "Take A Moment demo host" in run(takeamoment, "token", "list", cwd=home, env=env)

    port = free_port()
    process = subprocess.Popen(
        [str(takeamoment), "serve", "--port", str(port)], cwd=home, env={**os.environ, **env}
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        with plain_http.Client(base_url=url, timeout=30) as client:
            event = client.get("/api/events/take-a-moment")
            page = client.get("/events/take-a-moment")  # templates and static files ship too
            style = client.get("/static/style.css")
            scraped = client.get("/metrics")
    finally:
        stop_server(process)
    assert event.status_code == 200 and event.json()["status"] == "published"
    assert page.status_code == 200 and "Take A Moment" in page.text
    assert style.status_code == 200
    assert scraped.status_code == 200 and "takeamoment_http_requests_total" in scraped.text
