"""Calendar readers that use the file's own VTIMEZONE read the API's instants, in every zone.

ical.js (through node; behind many web calendars) and libical (Evolution and others, through a
small C reader compiled here) know no time zone data of their own: every local time they read is
resolved with the ``VTIMEZONE`` our feed carries. Each event spans two calendar years and has
slots on both clock-change days, across the changes and in both passes of the repeated hour, in
London, New York, Lord Howe (a 30-minute change) and Kolkata (no change at all).

ical.js is installed from ``js/package-lock.json`` into ``js/node_modules`` on first use (``npm
ci``); libical's headers come from Debian's ``libical-dev`` (``bin/setup``). Without node or
libical these tests skip on a laptop and fail under ``CI=true``.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from takeamoment.calendar.vtimezone import transitions
from tests.api.builders import confirmed
from tests.calendar.builders import feed_text, path_of
from tests.conftest import ONE_BACKEND, skip_or_fail
from tests.helpers import Client, make_channel, make_event, make_person, make_slot, publish

# On one worker under ``pytest -n`` (``ONE_WORKER`` in tests/conftest.py); the ical.js fixture
# still installs under a file lock, for runs that spread them.
pytestmark = ONE_BACKEND  # what calendar readers make of our bytes

HERE = Path(__file__).parent
JS_DIR = HERE / "js"
LIBICAL_READER = HERE / "libical" / "read.c"
YEARS = (2030, 2031)
ZONES = {
    "london": "Europe/London",
    "newyork": "America/New_York",
    "lordhowe": "Australia/Lord_Howe",
    "kolkata": "Asia/Kolkata",
}
Reader = Any  # a callable: iCalendar text -> {uid: (start, end, start zone, end zone)}


def _run(command: list[str], text: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        command, input=text.encode(), capture_output=True, check=False, timeout=60, cwd=cwd
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


@pytest.fixture(scope="session")
def icaljs() -> Reader:
    """ical.js through node, installed from the lock file into tests/calendar/js on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        skip_or_fail("node and npm are needed to read feeds with ical.js")
    assert node is not None and npm is not None
    # Workers that reach this at once install one after the other.
    with (JS_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (JS_DIR / "node_modules" / "ical.js" / "dist").is_dir():
            install = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=JS_DIR,
                capture_output=True,
                check=False,
            )
            if install.returncode != 0:
                skip_or_fail(f"npm ci of ical.js failed: {install.stderr.decode()[-500:]}")

    def read(text: str) -> dict[str, tuple[datetime, datetime, str, str]]:
        events = json.loads(_run([node, "read.mjs"], text, cwd=JS_DIR))
        return {
            e["uid"]: (_iso(e["start"]), _iso(e["end"]), e["start_zone"], e["end_zone"])
            for e in events
        }

    return read


@pytest.fixture(scope="session")
def libical(tmp_path_factory: pytest.TempPathFactory) -> Reader:
    """libical 3, through a small C reader compiled against Debian's libical-dev."""
    gcc, pkg_config = shutil.which("gcc"), shutil.which("pkg-config")
    if gcc is None or pkg_config is None:
        skip_or_fail("gcc and pkg-config are needed to build the libical reader")
    assert gcc is not None and pkg_config is not None
    flags = subprocess.run(
        [pkg_config, "--cflags", "--libs", "libical"], capture_output=True, check=False
    )
    if flags.returncode != 0:
        skip_or_fail("libical is not installed (apt-get install libical-dev; bin/setup does)")
    binary = tmp_path_factory.mktemp("libical") / "read"
    command = [gcc, "-O1", "-o", str(binary), str(LIBICAL_READER), *flags.stdout.decode().split()]
    subprocess.run(command, check=True, capture_output=True)

    def read(text: str) -> dict[str, tuple[datetime, datetime, str, str]]:
        events = {}
        for line in _run([str(binary)], text).splitlines():
            uid, start, end, start_zone, end_zone = line.split("\t")
            events[uid] = (_epoch(start), _epoch(end), start_zone, end_zone)
        return events

    return read


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _epoch(value: str) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def slot_times(zone_name: str) -> list[tuple[datetime, datetime]]:
    """Slots that test a reader: summer and winter of each year, and around every clock change.

    Around each change: ending just before it, across it, starting just after it, and (when the
    clocks go back) in the first and the second pass of the repeated time.
    """
    zone = ZoneInfo(zone_name)
    times: list[tuple[datetime, datetime]] = []
    for year in YEARS:
        for month in (1, 7):
            start = datetime(year, month, 15, 9, tzinfo=zone).astimezone(UTC)
            times.append((start, start + timedelta(hours=1)))
    start = datetime(YEARS[0], 1, 1, tzinfo=UTC)
    for change in transitions(zone, start, datetime(YEARS[-1] + 1, 1, 1, tzinfo=UTC)):
        at, step = change.at, abs(change.offset_to - change.offset_from)
        times += [
            (at - timedelta(minutes=90), at - timedelta(minutes=60)),  # well before
            (at - timedelta(minutes=50), at - timedelta(minutes=20)),  # just before
            (at - timedelta(minutes=15), at + timedelta(minutes=45)),  # across
            (at + timedelta(minutes=50), at + timedelta(minutes=80)),  # just after
        ]
        if not change.forward:  # both passes of the repeated local time
            times += [
                (at - step + timedelta(minutes=5), at - step + timedelta(minutes=10)),
                (at + timedelta(minutes=5), at + timedelta(minutes=10)),
            ]
    return sorted(set(times))


async def build_events(client: Client, token: str) -> dict[str, list[Any]]:
    """One published event per zone, over both years; the slots the API returned, by event."""
    made: dict[str, list[Any]] = {}
    for slug, zone in ZONES.items():
        first, last = f"{YEARS[0]}-01-01T00:00:00+00:00", f"{YEARS[-1]}-12-31T00:00:00+00:00"
        await make_event(client, token, slug, timezone=zone, starts_at=first, ends_at=last)
        channels = [await make_channel(client, token, slug, name) for name in ("a", "b", "c")]
        slots = []
        for n, (start, end) in enumerate(slot_times(zone)):
            # Overlapping test slots go to different channels.
            channel = channels[n % len(channels)]["slug"]
            slots.append(
                await make_slot(
                    client,
                    token,
                    start.isoformat(),
                    end.isoformat(),
                    event=slug,
                    channel=channel,
                    title=f"{slug} {n}",
                )
            )
        await publish(client, token, slug)
        made[slug] = slots
    return made


def expected(slots: list[Any], uid_of: Any) -> dict[str, tuple[datetime, datetime]]:
    return {
        uid_of(slot): (
            datetime.fromisoformat(slot["starts_at"]),
            datetime.fromisoformat(slot["ends_at"]),
        )
        for slot in slots
    }


def times_read(events: dict[str, tuple[datetime, datetime, str, str]], zone: str) -> Any:
    """The instants a reader got, checking it resolved each time with our zone (or UTC)."""
    for uid, (_, _, start_zone, end_zone) in events.items():
        assert {start_zone, end_zone} <= {zone, "UTC"}, (uid, start_zone, end_zone)
    return {uid: (start, end) for uid, (start, end, _, _) in events.items()}


@pytest.fixture
async def events(client: Client, host_token: str) -> dict[str, list[Any]]:
    return await build_events(client, host_token)


@pytest.mark.parametrize("reader_name", ["icaljs", "libical"])
async def test_readers_with_only_our_vtimezone_read_the_apis_instants(
    client: Client,
    request: pytest.FixtureRequest,
    events: dict[str, list[Any]],
    reader_name: str,
) -> None:
    reader: Reader = request.getfixturevalue(reader_name)
    for slug, zone in ZONES.items():
        text = await feed_text(client, f"/events/{slug}/calendar.ics")
        want = expected(events[slug], lambda slot: f"{slot['id']}@testserver")
        assert len(want) == 4 if slug == "kolkata" else len(want) == 24  # 4 changes
        assert times_read(reader(text), zone) == want, f"{reader_name} misreads {zone}"


@pytest.mark.parametrize("reader_name", ["icaljs", "libical"])
async def test_readers_read_a_persons_feed_across_zones_and_years(
    client: Client,
    host_token: str,
    request: pytest.FixtureRequest,
    events: dict[str, list[Any]],
    reader_name: str,
) -> None:
    reader: Reader = request.getfixturevalue(reader_name)
    ana = await make_person(client, host_token, "ana", timezone="Europe/London")
    # One slot of each zone and year (mid-year's, around a clock change where there is one):
    # days apart, so no booking rule is in the way.
    picked = []
    for slug in ZONES:
        for year in YEARS:
            of_year = [s for s in events[slug] if s["starts_at"].startswith(str(year))]
            slot = of_year[len(of_year) // 2]
            await confirmed(client, host_token, slot["id"], ana)
            picked.append(slot)
    text = await feed_text(client, path_of(ana["feed_url"]))
    read = reader(text)
    want = expected(picked, lambda slot: f"{slot['id']}.{ana['id']}@testserver")
    assert {uid: times[:2] for uid, times in read.items()} == want
