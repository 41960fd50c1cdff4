"""The deployment's shape on one machine: Debian's nginx, with the config the project ships
(``deploy/nginx/takeamoment.conf``), in front of two ``takeamoment serve`` processes that share
PostgreSQL and Redis.

nginx runs as this user's subprocess with every path in a temporary directory; the shipped file
is used as it is, with only its ``listen`` port and its two upstream servers replaced. Clients bind
their own loopback addresses (127.0.0.0/8 is all this machine's), so each is a different real
address to nginx, which connects to the app from 127.0.0.1: the one address the app believes
``X-Forwarded-For`` from.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests import plain_http
from tests.conftest import skip_or_fail
from tests.e2e.conftest import (
    Server,
    bus_env,
    free_port,
    issue_host_token,
    server_env,
    start_server,
    stop_server,
    unique,
    wait_ready,
)
from tests.e2e.test_forwarded_for import BAD_TOKEN, client_from, statuses
from tests.e2e.test_realtime import Host, recv, ws_url
from tests.launch import Process

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = ROOT / "deploy" / "nginx" / "takeamoment.conf"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/bin/nginx")

# Tight, so a few requests show which address was counted; loopback (127.0.0.1: the host's own
# client here) stays exempt, as by default.
LIMITS = {"TAKEAMOMENT_RATE_LIMIT_PER_MINUTE": "4", "TAKEAMOMENT_AUTH_FAILURE_LIMIT": "2"}


@dataclass(frozen=True)
class Deployment:
    proxy: Server
    backends: tuple[Server, Server]


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (path for path in NGINX_CANDIDATES if os.access(path, os.X_OK)), None
    )
    if found is None:
        skip_or_fail("nginx is not installed (bin/setup installs Debian's nginx-light)")
    assert found is not None
    return found


def render_site(listen_port: int, upstreams: tuple[str, str]) -> str:
    """The shipped config, listening on ``listen_port`` and proxying to ``upstreams``."""
    text = SHIPPED_CONFIG.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{listen_port};",
        "server app-1:8000;": f"server {upstreams[0]};",
        "server app-2:8000;": f"server {upstreams[1]};",
    }
    for shipped, local in replacements.items():
        # Exactly once each, so a changed config fails here rather than running half-replaced.
        assert text.count(shipped) == 1, f"{SHIPPED_CONFIG} must hold {shipped!r} exactly once"
        text = text.replace(shipped, local)
    return text


def main_config(directory: Path, site: Path) -> str:
    """An nginx.conf that needs nothing outside ``directory``, including the site."""
    # As root, nginx would run its worker as nobody, who cannot use this user's temp directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp_paths = "".join(
        f"    {kind}_temp_path {directory / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        f"{temp_paths}"
        f"    access_log {directory / 'access.log'};\n"
        f"    include {site};\n"
        "}\n"
    )


def start_nginx(
    directory: Path, listen_port: int, upstreams: tuple[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    site, config = directory / "site.conf", directory / "nginx.conf"
    error_log = directory / "error.log"
    site.write_text(render_site(listen_port, upstreams))
    config.write_text(main_config(directory, site))
    globals_ = f"daemon off; pid {directory / 'nginx.pid'}; error_log {error_log} warn;"
    command = [nginx_binary(), "-p", str(directory), "-e", str(error_log), "-c", str(config)]
    checked = subprocess.run([*command, "-t", "-g", globals_], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([*command, "-g", globals_])
    url = f"http://127.0.0.1:{listen_port}"
    try:
        wait_ready(url, process)
    except BaseException as error:
        stop_server(process)
        log = error_log.read_text() if error_log.exists() else "(no error log)"
        raise RuntimeError(f"nginx did not proxy to the servers:\n{log}") from error
    return process, url


@pytest.fixture(scope="module")
def deployment(
    pg_database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("proxy")
    env = server_env(
        pg_database,
        **bus_env(redis_url),
        **LIMITS,
        TAKEAMOMENT_FORWARDED_ALLOW_IPS='["127.0.0.1"]',
    )
    token = issue_host_token(env, directory)
    processes: list[Process] = []
    try:
        first, first_url = start_server(env, directory)
        processes.append(first)
        second, second_url = start_server(env, directory)
        processes.append(second)
        upstreams = (first_url.removeprefix("http://"), second_url.removeprefix("http://"))
        nginx, proxy_url = start_nginx(directory, free_port(), upstreams)
        processes.append(nginx)
        yield Deployment(
            proxy=Server(proxy_url, token, env),
            backends=(Server(first_url, token, env), Server(second_url, token, env)),
        )
    finally:
        for process in reversed(processes):
            stop_server(process)


async def event_streams_open(backend: Server) -> int:
    """How many /ws/events viewers ``backend`` holds, from its own metrics."""
    async with plain_http.AsyncClient(timeout=30) as client:
        text = (await client.get(f"{backend.url}/metrics")).text
    found = re.search(r'^takeamoment_websockets_open\{kind="events"\} (\S+)$', text, re.M)
    return int(float(found[1])) if found else 0


async def until(condition: Callable[[], Awaitable[bool]], attempts: int = 200) -> None:
    for _ in range(attempts):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


async def test_viewers_through_the_proxy_see_every_change_written_through_either_server(
    deployment: Deployment,
) -> None:
    slug = unique("proxied-")
    proxy, (one, two) = deployment.proxy, deployment.backends
    async with (
        plain_http.AsyncClient(base_url=proxy.url, timeout=30) as to_proxy,
        plain_http.AsyncClient(base_url=one.url, timeout=30) as to_one,
        plain_http.AsyncClient(base_url=two.url, timeout=30) as to_two,
    ):
        via_proxy, via_one, via_two = Host(to_proxy, proxy), Host(to_one, one), Host(to_two, two)
        await via_proxy.published_event(slug)
        path = ws_url(proxy, f"/ws/events/{slug}")
        async with connect(path) as first, connect(path) as second:
            starts = [(await recv(first))["seq"], (await recv(second))["seq"]]

            # nginx gave the two viewers to different servers (fewest connections first).
            async def one_viewer_each() -> bool:
                return [await event_streams_open(one), await event_streams_open(two)] == [1, 1]

            await until(one_viewer_each)

            writers = [via_one, via_two, via_proxy] * 4
            for hour, writer in enumerate(writers):
                await writer.slot(hour, slug)
            seen = [[await recv(ws) for _ in writers] for ws in (first, second)]

    assert starts[0] == starts[1]
    for received in seen:
        assert [m["seq"] for m in received] == list(range(starts[0] + 1, starts[0] + 13))
        assert [m["slot"]["title"] for m in received] == [f"At {h}" for h in range(12)]


async def test_per_address_limits_count_the_real_client_behind_the_proxy(
    deployment: Deployment,
) -> None:
    proxy = deployment.proxy.url
    async with client_from(proxy, "127.0.0.2") as dodger:
        # A new forged address per request would never reach the limit, if nginx passed it on.
        spread = await statuses(dodger, [f"10.0.0.{n}" for n in range(6)])
    # Counted as 127.0.0.2 by both servers alike: their counts are shared in Redis.
    assert spread == [200] * 4 + [429] * 2

    async with client_from(proxy, "127.0.0.3") as neighbour:
        other = await statuses(neighbour, ["10.0.0.1"])
    assert other == [200]  # another client behind the same proxy has its own count

    # A client on the proxy's own address, which the servers trust, blames failed tokens on
    # 127.0.0.4. Appended to (rather than overwritten by) nginx, its header would pin them there.
    async with client_from(proxy, "127.0.0.1") as framer:
        blamed = await statuses(framer, ["127.0.0.4"] * 3, "/api/audit", **BAD_TOKEN)
    assert blamed == [401] * 3  # counted as 127.0.0.1, exempt from limits like all of loopback
    async with client_from(proxy, "127.0.0.4") as victim:
        response = await victim.get("/api/events", headers=deployment.proxy.headers())
    assert response.status_code == 200, response.text


async def test_the_http_api_and_feeds_work_through_the_proxy(deployment: Deployment) -> None:
    slug = unique("feed-")
    proxy = deployment.proxy
    async with plain_http.AsyncClient(base_url=proxy.url, timeout=30) as client:
        host = Host(client, proxy)
        await host.published_event(slug)
        await host.slot(3, slug)
        chosen = {"X-Request-ID": "chosen-by-the-client"}
        schedule = await client.get(f"/api/events/{slug}/schedule", headers=chosen)
        feed = await client.get(f"/events/{slug}/calendar.ics")
        again = await client.get(
            f"/events/{slug}/calendar.ics", headers={"If-None-Match": feed.headers["etag"]}
        )

    assert schedule.status_code == 200, schedule.text
    assert [s["title"] for s in schedule.json()["slots"]] == ["At 3"]
    # nginx names each request itself ($request_id), and the app answers with that id.
    assert re.fullmatch(r"[0-9a-f]{32}", schedule.headers["x-request-id"])
    assert feed.status_code == 200 and b"SUMMARY:At 3" in feed.content
    assert again.status_code == 304 and again.content == b""
    # Whichever server a client's next request lands on, the tag it holds is still current.
    for backend in deployment.backends:
        async with plain_http.AsyncClient(base_url=backend.url, timeout=30) as direct:
            conditional = await direct.get(
                f"/events/{slug}/calendar.ics", headers={"If-None-Match": feed.headers["etag"]}
            )
        assert conditional.status_code == 304
