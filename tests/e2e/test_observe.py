"""Seeing a real server run: /metrics (allowed addresses, across workers) and JSON log lines."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from tests import plain_http
from tests.e2e.conftest import (
    BIN,
    Server,
    bus_env,
    free_port,
    issue_host_token,
    server_env,
    start_server,
    stop_server,
    wait_ready,
)
from tests.e2e.test_realtime import Host, recv, ws_url

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def requests_of(samples: Samples, method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return value(samples, "takeamoment_http_requests_total", **labels)


async def test_metrics_count_requests_sockets_fan_out_and_feeds(server: Server) -> None:
    async with plain_http.AsyncClient(base_url=server.url, timeout=30) as client:
        host = Host(client, server)
        await host.published_event()
        async with connect(ws_url(server, "/ws/events/live")) as viewer:
            assert (await recv(viewer))["type"] == "snapshot"
            await host.slot(9)
            assert (await recv(viewer))["type"] == "slot.created"
            for _ in range(2):  # the second fetch finds the first one's rendering
                assert (await client.get("/events/live/calendar.ics")).status_code == 200
            assert (await client.get("/no/such/page")).status_code == 404
            seen = await scrape(client)
        assert requests_of(seen, "POST", "/api/events/{slug}/slots", 201) == 1
        assert requests_of(seen, "GET", "/events/{slug}/calendar.ics", 200) == 2
        assert requests_of(seen, "GET", "<unmatched>", 404) == 1
        duration = "takeamoment_http_request_duration_seconds_count"
        slot_labels = {"method": "POST", "route": "/api/events/{slug}/slots", "status": "201"}
        assert value(seen, duration, **slot_labels) == 1
        assert value(seen, "takeamoment_websockets_open", kind="events") == 1
        assert value(seen, "takeamoment_messages_fanned_out_total", kind="events") >= 1
        assert value(seen, "takeamoment_change_to_send_seconds_count", kind="events") >= 1
        assert value(seen, "takeamoment_feed_renders_total") >= 1
        assert value(seen, "takeamoment_feed_cache_hits_total") >= 1
        assert value(seen, "takeamoment_scheduler_leader") == 1  # SQLite: the one process leads
        for name in ("viewers_dropped", "bus_reconnects"):  # declared, nothing happened yet
            assert any(key[0].startswith(f"takeamoment_{name}") for key in seen) or name

        # The viewer has gone: the gauge follows.
        for _ in range(100):
            if value(await scrape(client), "takeamoment_websockets_open", kind="events") == 0:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("takeamoment_websockets_open never went back to 0")


async def test_metrics_are_refused_to_an_address_not_allowed(db_url: str, tmp_path: Path) -> None:
    process, url = start_server(server_env(db_url, TAKEAMOMENT_METRICS_ALLOW="[]"), tmp_path)
    try:
        async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
            refused = await client.get("/metrics", headers={"X-Request-ID": "scrape-1"})
    finally:
        stop_server(process)
    assert refused.status_code == 403
    assert "TAKEAMOMENT_METRICS_ALLOW" in refused.json()["detail"]
    assert refused.headers["x-request-id"] == "scrape-1"
    assert "takeamoment_" not in refused.text


# --- several workers: one answer adds up every worker's counts ---------------------------------


def healthz_counts_by_worker(directory: Path, scratch: Path) -> dict[str, float]:
    """Each worker's own count of GET /healthz, read from its files with prometheus-client."""
    counts: dict[str, float] = {}
    for file in directory.glob("counter_*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        alone = scratch / pid
        alone.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, alone / file.name)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        labels = {"method": "GET", "route": "/healthz", "status": "200"}
        counts[pid] = registry.get_sample_value("takeamoment_http_requests_total", labels) or 0.0
    return counts


@pytest.mark.redis
async def test_with_two_workers_any_answer_counts_every_workers_requests(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = server_env(db_url, TMPDIR=str(temp), **bus_env(redis_url))
    process, url = start_server(env, tmp_path, workers=2)
    try:
        [directory] = list(temp.glob("takeamoment-metrics-*"))
        sent = 0
        while sent < 400:  # new connections until both workers have answered some
            async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
                assert (await client.get("/healthz")).status_code == 200
            sent += 1
            by_worker = healthz_counts_by_worker(directory, tmp_path / f"scratch-{sent}")
            if sum(count > 0 for count in by_worker.values()) >= 2:
                break
        assert sum(by_worker.values()) == sent and len(by_worker) >= 2, by_worker
        for _ in range(6):  # whichever worker answers, it reports both workers' requests
            async with plain_http.AsyncClient(base_url=url, timeout=30) as client:
                assert requests_of(await scrape(client), "GET", "/healthz", 200) == sent
    finally:
        stop_server(process)
    assert not directory.exists(), "serve removes its metrics directory when it stops"


# --- JSON log lines ---------------------------------------------------------------------------


@pytest.fixture
def json_server(db_url: str, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """A server writing JSON log lines (INFO) to a file of its own: (server, the log file)."""
    env = server_env(db_url, TAKEAMOMENT_LOG_FORMAT="json", TAKEAMOMENT_LOG_LEVEL="info")
    token = issue_host_token(env, tmp_path)
    log = tmp_path / "server.log"
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN), "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield Server(url, token, env), log
    finally:
        stop_server(process)


def lines_of(log: Path) -> list[dict[str, Any]]:
    """Every line of the log as JSON; a line that is not one fails the test."""
    lines = []
    for text in log.read_text().splitlines():
        if text.strip():
            line = json.loads(text)
            assert isinstance(line, dict) and {"time", "level", "logger", "message"} <= set(line)
            lines.append(line)
    return lines


async def line_logged(log: Path, wanted: Callable[[dict[str, Any]], bool]) -> None:
    """Until a line ``wanted`` is in the log (the server writes it just after answering)."""
    for _ in range(100):
        if any(wanted(line) for line in lines_of(log)):
            return
        await asyncio.sleep(0.1)
    pytest.fail("the expected log line never came")


async def break_the_database(db_url: str) -> None:
    """Take a table away under the running server, as a botched manual change would."""
    path = db_url.split(":///", 1)[1]
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE event")


async def test_json_logs_carry_the_request_id_route_status_and_duration_and_no_token(
    json_server: tuple[Server, Path], db_url: str
) -> None:
    server, log = json_server
    async with plain_http.AsyncClient(base_url=server.url, timeout=30) as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "e2e-given-1"})
        made = await client.get("/healthz")
        person = await Host(client, server).post(
            "/api/people", {"name": "Ana", "handle": "ana", "role": "creator"}
        )
        feed_path = "/feeds/" + person["feed_url"].rsplit("/feeds/", 1)[1]
        assert (await client.get(feed_path)).status_code == 200
        assert (await client.get(f"/api/events?token={person['token']}")).status_code == 200
        async with connect(ws_url(server, f"/ws/me?token={person['token']}")) as ws:
            await ws.send("hello")
        await break_the_database(db_url)
        failed = await client.get("/api/events", headers={"X-Request-ID": "e2e-5xx"})
    assert given.headers["x-request-id"] == "e2e-given-1"
    assert failed.status_code >= 500, failed.text
    assert failed.json()["extra"] == {"request_id": "e2e-5xx"}
    assert "Traceback" not in failed.text
    await line_logged(log, lambda line: line.get("request_id") == "e2e-5xx" and "status" in line)

    lines = lines_of(log)
    access = {line["request_id"]: line for line in lines if line["logger"] == "takeamoment.access"}
    first = access["e2e-given-1"]
    assert (first["route"], first["status"], first["method"]) == ("/healthz", 200, "GET")
    assert isinstance(first["duration_ms"], int | float) and first["duration_ms"] >= 0
    assert access[made.headers["x-request-id"]]["route"] == "/healthz"
    assert access["e2e-5xx"]["status"] == failed.status_code
    failure = [line for line in lines if line.get("request_id") == "e2e-5xx"]
    assert any(line["level"] != "INFO" for line in failure), "the failure is logged with its id"
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's lines too

    text = log.read_text()
    feed_token = feed_path.removeprefix("/feeds/").removesuffix(".ics")
    for secret in (person["token"], feed_token, server.host_token):
        assert secret not in text
