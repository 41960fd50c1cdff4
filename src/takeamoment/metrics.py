"""What the service counts, for ``GET /metrics`` (Prometheus text format, ``prometheus-client``).

Each function here is what one instrumented place calls, in one line, so the code it measures
stays readable. The metrics live in prometheus-client's default registry, as its docs do them.

``serve --workers N`` runs N processes, each with its own counts. With more than one, ``serve``
puts prometheus-client in its multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set before the
workers start): each worker writes its values to files there and ``/metrics``, whichever worker
answers, adds up every worker's (:func:`exposition`). Gauges say how they combine: open
WebSockets are summed over the live workers, the scheduler leader is the largest.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED_ROUTE = "<unmatched>"  # a path no route serves (404): one label, not one per path
# A notice sent more than this after its due time counts as sent late (a restart, a takeover,
# a burst queueing behind the delivery bound); within it is on time.
LATE_AFTER = timedelta(seconds=5)

# Requests take milliseconds; feeds and writes under load, up to seconds.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A change reaches viewers in milliseconds, or after a bus outage, in seconds to minutes.
_SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "takeamoment_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "takeamoment_http_request_duration_seconds",
    "Time from a request's arrival to its last byte sent, by method, route template and status",
    ["method", "route", "status"],
    buckets=_REQUEST_BUCKETS,
)
WEBSOCKETS_OPEN = Gauge(
    "takeamoment_websockets_open",
    "WebSocket streams open (events: /ws/events viewers; me: /ws/me)",
    ["kind"],
    multiprocess_mode="livesum",
)
MESSAGES_FANNED_OUT = Counter(
    "takeamoment_messages_fanned_out",
    "Live messages handed to WebSocket subscribers (one per message per subscriber)",
    ["kind"],
)
VIEWERS_DROPPED = Counter(
    "takeamoment_viewers_dropped",
    "WebSocket subscribers dropped as too slow: their backlog overflowed (close code 4008)",
    ["kind"],
)
CHANGE_TO_SEND = Histogram(
    "takeamoment_change_to_send_seconds",
    "From a change's commit to this process handing it to its subscribers' sockets",
    ["kind"],
    buckets=_SEND_BUCKETS,
)
NOTICES_DUE = Counter(
    "takeamoment_notices_due",
    "Reminders and go-live notices whose time came and were owed (sent or missed), by channel",
    ["channel"],
)
NOTICES_SENT_LATE = Counter(
    "takeamoment_notices_sent_late",
    f"Notices sent more than {LATE_AFTER.total_seconds():.0f} s after their due time",
    ["channel"],
)
NOTICES_MISSED = Counter(
    "takeamoment_notices_missed",
    "Notices recorded missed: their time had passed by more than the grace",
    ["channel"],
)
SCHEDULER_LEADER = Gauge(
    "takeamoment_scheduler_leader",
    "1 while this server runs the deployment's scheduler, else 0",
    multiprocess_mode="livemax",
)
BUS_RECONNECTS = Counter(
    "takeamoment_bus_reconnects",
    "Times the real-time bus lost Redis and began subscribing again",
)
FEED_CACHE_HITS = Counter(
    "takeamoment_feed_cache_hits", "Calendar feeds answered from the rendered-feed cache"
)
FEED_RENDERS = Counter("takeamoment_feed_renders", "Calendar feeds rendered (cache misses)")


def stream_kind(topic: str) -> str:
    """``events`` or ``me``: which WebSocket route a hub topic belongs to."""
    return "me" if topic.startswith("person:") else "events"


def request_answered(method: str, route: str, status: int, seconds: float) -> None:
    labels = (method, route, str(status))
    HTTP_REQUESTS.labels(*labels).inc()
    HTTP_DURATION.labels(*labels).observe(seconds)


def websocket_opened(topic: str) -> None:
    WEBSOCKETS_OPEN.labels(stream_kind(topic)).inc()


def websocket_closed(topic: str) -> None:
    WEBSOCKETS_OPEN.labels(stream_kind(topic)).dec()


def viewer_dropped(topic: str) -> None:
    VIEWERS_DROPPED.labels(stream_kind(topic)).inc()


def fanned_out(topic: str, message: dict[str, Any], subscribers: int) -> None:
    """``message`` was just offered to ``subscribers`` local subscribers of ``topic``."""
    kind = stream_kind(topic)
    MESSAGES_FANNED_OUT.labels(kind).inc(subscribers)
    committed = _timestamp(message.get("at"))
    if committed is not None:
        elapsed = (datetime.now(UTC) - committed).total_seconds()
        CHANGE_TO_SEND.labels(kind).observe(max(0.0, elapsed))


def _timestamp(value: Any) -> datetime | None:
    """An aware RFC 3339 timestamp, or None for anything else."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def notice_outcome(channel: str, outcome: str, late_by: timedelta) -> None:
    """A notice job ran: ``outcome`` is ``sent``, ``missed`` or ``not owed``."""
    if outcome == "not owed":
        return
    NOTICES_DUE.labels(channel).inc()
    if outcome == "missed":
        NOTICES_MISSED.labels(channel).inc()
    elif late_by > LATE_AFTER:
        NOTICES_SENT_LATE.labels(channel).inc()


def scheduler_leader(leading: bool) -> None:
    SCHEDULER_LEADER.set(1 if leading else 0)


def bus_reconnecting() -> None:
    BUS_RECONNECTS.inc()


def feed_cache_hit() -> None:
    FEED_CACHE_HITS.inc()


def feed_rendered() -> None:
    FEED_RENDERS.inc()


@contextlib.contextmanager
def across_workers(workers: int) -> Iterator[None]:
    """With several workers, prometheus-client's multiprocess mode for them: a fresh directory,
    named in the environment they inherit, removed when they are gone. A directory the operator
    set in ``PROMETHEUS_MULTIPROC_DIR`` is used as it is (they wipe it between runs)."""
    if workers == 1 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="takeamoment-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(directory, ignore_errors=True)


def multiprocess_dir() -> Path | None:
    """The multiprocess directory this process writes its values to, if any."""
    path = os.environ.get(MULTIPROC_ENV)
    return Path(path) if path else None


def exposition() -> bytes:
    """Every metric in the text format: this process's, or with multiprocess mode every
    worker's added up (the live gauges of workers that have died are dropped first)."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY)
    _forget_dead_workers(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def _forget_dead_workers(directory: Path) -> None:
    """uvicorn restarts a worker that dies; its live gauges (open sockets, leadership) must
    not count any more, while its counters still do."""
    pids = {path.stem.rsplit("_", 1)[-1] for path in directory.glob("gauge_live*_*.db")}
    for pid in pids:
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
