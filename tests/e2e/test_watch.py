"""``takeamoment watch``: the board's state and text, then the command against real servers."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from takeamoment.watch import Board, MissedChanges, WatchError, render, stream_url
from tests import plain_http
from tests.conftest import ONE_BACKEND
from tests.e2e.conftest import BIN, Server, free_port, server_env, start_server, stop_server
from tests.e2e.test_realtime import Host
from tests.launch import Launched

pytestmark = ONE_BACKEND  # the terminal board reads the API and the stream, not the database


NOW = datetime(2030, 10, 10, 12, 0, tzinfo=UTC)
BOARD_HEADER = re.compile(r"· seq (\d+) ·")
CHANGE_LINE = re.compile(r"^\s+#(\d+) (\S+)\s+\S+\s+(.*)$")


# --- the state model and its text -------------------------------------------------------------


def slot(
    slot_id: str, hour: float, *, status: str = "scheduled", channel: str = "main", **extra: Any
) -> dict[str, Any]:
    starts = NOW.replace(hour=0) + timedelta(hours=hour)
    return {
        "id": slot_id,
        "event": "live",
        "channel": channel,
        "channel_name": channel.title(),
        "title": f"Slot {slot_id}",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "status": status,
        "sequence": 0,
        "people": [],
        "tags": [],
        **extra,
    }


def snapshot(seq: int, *slots: dict[str, Any]) -> dict[str, Any]:
    return {"type": "snapshot", "seq": seq, "event": "live", "slots": list(slots)}


def change(seq: int, kind: str, **body: Any) -> dict[str, Any]:
    return {"type": kind, "seq": seq, "event": "live", "at": NOW.isoformat(), **body}


def test_a_snapshot_replaces_every_slot_and_sets_the_seq() -> None:
    board = Board("live")
    board.apply(snapshot(3, slot("a", 9)))
    assert board.apply(snapshot(7, slot("b", 10))) == "snapshot"
    assert (board.seq, list(board.slots)) == (7, ["b"])


def test_a_change_replaces_its_slot_and_joins_the_last_changes() -> None:
    board = Board("live")
    board.apply(snapshot(5, slot("a", 9)))
    applied = board.apply(change(6, "slot.updated", slot=slot("a", 9, title="Renamed")))
    assert applied == "change" and board.seq == 6
    assert board.slots["a"].title == "Renamed"
    assert [(c.seq, c.type, c.what) for c in board.changes] == [(6, "slot.updated", "Renamed")]


def test_a_repeated_or_older_seq_changes_nothing() -> None:
    board = Board("live")
    board.apply(snapshot(5, slot("a", 9)))
    board.apply(change(6, "slot.live", slot=slot("a", 9, status="live")))
    assert board.apply(change(6, "slot.live", slot=slot("a", 9, status="live"))) is None
    assert board.apply(change(4, "slot.updated", slot=slot("a", 9, title="Old"))) is None
    assert board.slots["a"].status == "live" and board.slots["a"].title == "Slot a"
    assert [c.seq for c in board.changes] == [6]


def test_a_change_that_skips_a_seq_or_comes_before_a_snapshot_asks_to_resume() -> None:
    with pytest.raises(MissedChanges):
        Board("live").apply(change(1, "slot.created", slot=slot("a", 9)))
    board = Board("live")
    board.apply(snapshot(5))
    with pytest.raises(MissedChanges):
        board.apply(change(7, "slot.created", slot=slot("a", 9)))
    assert board.seq == 5 and not board.slots


def test_live_is_the_slot_on_air_and_next_the_first_scheduled_one_not_over() -> None:
    board = Board("live")
    board.apply(
        snapshot(
            1,
            slot("ended", 9, status="ended"),
            slot("missed", 10),  # scheduled, but over by now
            slot("on-air", 12, status="live"),
            slot("cancelled", 13, status="cancelled"),
            slot("later", 15),
            slot("next", 14),
            slot("late", 11.5, channel="side"),  # started, not yet over: still to come
        )
    )
    main, side = board.channels(NOW)
    assert (main.channel, [s.id for s in main.live], main.up_next and main.up_next.id) == (
        "main",
        ["on-air"],
        "next",
    )
    assert (side.live, side.up_next and side.up_next.id) == ((), "late")
    evening = {c.channel: c.up_next for c in board.channels(NOW.replace(hour=20))}
    assert evening == {"main": None, "side": None}


def test_the_last_changes_keep_only_the_newest_ten() -> None:
    board = Board("live")
    board.apply(snapshot(0))
    for seq in range(1, 13):
        board.apply(change(seq, "slot.created", slot=slot(f"s{seq}", 9)))
    assert [c.seq for c in board.changes] == list(range(3, 13))


def test_event_and_booking_changes_name_the_event_and_the_person() -> None:
    board = Board("live")
    board.apply(snapshot(0, slot("a", 9)))
    board.apply(change(1, "event.updated", details={"slug": "live", "title": "Live Day"}))
    person = {"id": "p", "name": "Ana", "handle": "ana", "role": "creator"}
    booked = slot("a", 9, people=[person])
    board.apply(change(2, "booking.confirmed", booking={"person": person}, slot=booked))
    assert board.title == "Live Day"
    assert [c.what for c in board.changes] == ["Live Day", "Slot a · Ana"]
    assert board.slots["a"].people == ("Ana",)


def test_the_text_shows_live_next_and_changes_in_the_zone_it_names() -> None:
    cest = timezone(timedelta(hours=2), "CEST")
    board = Board("live")
    board.apply(snapshot(5, slot("a", 12, status="live"), slot("b", 13)))
    board.apply(change(6, "slot.created", slot=slot("b", 13, title="Up next")))
    text = render(board, NOW, cest)
    assert "live · seq 6 · 14:00:00 · times in CEST" in text
    assert "  LIVE  14:00-15:00  Slot a" in text
    assert "  NEXT  15:00-16:00  Up next" in text
    assert "  #6 slot.created       14:00:00  Up next" in text


def test_the_stream_url_follows_the_base_url_and_resumes_after_since() -> None:
    assert stream_url("http://127.0.0.1:8000", "live", None) == "ws://127.0.0.1:8000/ws/events/live"
    assert (
        stream_url("https://tam.example/app/", "a b", 41)
        == "wss://tam.example/app/ws/events/a%20b?since=41"
    )
    with pytest.raises(WatchError, match="--url"):
        stream_url("127.0.0.1:8000", "live", None)


# --- the command against real servers ---------------------------------------------------------


class Watcher:
    """A running ``takeamoment watch``; its stdout is read as it prints boards."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stdout = ""

    def board_seqs(self) -> list[int]:
        return [int(seq) for seq in BOARD_HEADER.findall(self.stdout)]

    def last_board(self) -> str:
        header = self.stdout.rfind("· seq ")
        return self.stdout[self.stdout.rfind("\n", 0, header) + 1 :]

    def _board_done(self, seq: int | None) -> bool:
        # A board ends with its "Last changes" and a blank line.
        board = self.last_board()
        seqs = self.board_seqs()
        return bool(seqs) and seq in (None, seqs[-1]) and board.endswith("\n\n")

    def last_changes(self) -> list[tuple[int, str, str]]:
        found = (CHANGE_LINE.match(line) for line in self.last_board().splitlines())
        return [(int(m[1]), m[2], m[3]) for m in found if m]

    async def wait_for_board(self, seq: int | None = None, wait: float = 30) -> int:
        """Read stdout until a whole board (with ``seq``, when given) is printed; its seq."""
        assert self.process.stdout is not None
        async with asyncio.timeout(wait):
            while not self._board_done(seq):
                line = await self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"watch ended early: {await self.finish()}")
                self.stdout += line.decode()
        return self.board_seqs()[-1]

    async def finish(self, wait: float = 60) -> tuple[int | None, str]:
        """Wait for the command to end; its exit code and stderr."""
        async with asyncio.timeout(wait):
            rest, stderr = await self.process.communicate()
        self.stdout += rest.decode()
        return self.process.returncode, stderr.decode()


StartWatch = Callable[..., Awaitable[Watcher]]


def as_from_a_terminal() -> None:
    """Ctrl-C reaches the command as it does from a shell, whatever the test worker inherited.

    A process started with SIGINT ignored (a pytest-xdist worker may be) passes that on, and
    Python then installs no KeyboardInterrupt for it: the watch would never see the Ctrl-C.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.fixture
async def start_watch(tmp_path: Path) -> AsyncIterator[StartWatch]:
    """Start ``takeamoment watch ARGS``; whatever is still running at the end is killed."""
    started: list[Watcher] = []

    async def start(*args: str) -> Watcher:
        process = await asyncio.create_subprocess_exec(
            str(BIN),
            "watch",
            *args,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=as_from_a_terminal,
        )
        started.append(Watcher(process))
        return started[-1]

    yield start
    for watcher in started:
        if watcher.process.returncode is None:
            watcher.process.kill()
            await watcher.process.wait()


@pytest.fixture
async def host(server: Server) -> AsyncIterator[Host]:
    async with plain_http.AsyncClient(base_url=server.url, timeout=30) as client:
        yield Host(client, server)


def serve_on(port: int, env: dict[str, str], cwd: Path) -> Launched:
    """``takeamoment serve`` on a given port (to restart a server where its clients expect it)."""
    process, _ = start_server(env, cwd, port=port)
    return process


@pytest.mark.slow
async def test_watch_prints_the_board_then_each_change_as_it_happens(
    server: Server, host: Host, start_watch: StartWatch
) -> None:
    await host.published_event()
    await host.slot(9)
    watcher = await start_watch("live", "--url", server.url, "--max-updates", "2")
    first = await watcher.wait_for_board()
    assert re.search(r"^  NEXT  .*At 9$", watcher.last_board(), re.MULTILINE)
    created = await host.slot(10)
    await host.post(f"/api/slots/{created['id']}/live", {"early": True})
    code, stderr = await watcher.finish()
    assert code == 0, stderr
    assert watcher.board_seqs() == [first, first + 1, first + 2]
    assert watcher.last_changes() == [
        (first + 2, "slot.live", "At 10"),
        (first + 1, "slot.created", "At 10"),
    ]
    assert re.search(r"^  LIVE  .*At 10$", watcher.last_board(), re.MULTILINE)


@pytest.mark.slow
async def test_watch_resumes_with_since_after_a_server_restart_missing_nothing(
    server: Server, db_url: str, tmp_path: Path, start_watch: StartWatch
) -> None:
    # Ours restarts on its port; `server` shares the database and takes changes meanwhile.
    port, env = free_port(), server_env(db_url)
    ours_url = f"http://127.0.0.1:{port}"
    ours = await asyncio.to_thread(serve_on, port, env, tmp_path)
    try:
        async with (
            plain_http.AsyncClient(base_url=ours_url, timeout=30) as ours_client,
            plain_http.AsyncClient(base_url=server.url, timeout=30) as other_client,
        ):
            here = Host(ours_client, Server(ours_url, server.host_token, env))
            elsewhere = Host(other_client, server)
            await here.published_event()
            watcher = await start_watch("live", "--url", ours_url, "--max-updates", "3")
            first = await watcher.wait_for_board()
            await here.slot(9)
            await watcher.wait_for_board(first + 1)
            await asyncio.to_thread(stop_server, ours)
            await elsewhere.slot(10)  # while the watcher is cut off
            await elsewhere.slot(11)
            ours = await asyncio.to_thread(serve_on, port, env, tmp_path)
            code, stderr = await watcher.finish()
    finally:
        await asyncio.to_thread(stop_server, ours)
    assert code == 0, stderr
    assert f"resuming after seq {first + 1}" in stderr
    assert watcher.board_seqs() == [first, first + 1, first + 2, first + 3]
    assert [(seq, kind) for seq, kind, _ in watcher.last_changes()] == [
        (first + 3, "slot.created"),
        (first + 2, "slot.created"),
        (first + 1, "slot.created"),
    ]


@pytest.mark.slow
def test_watch_of_an_unknown_event_exits_1_and_says_so(server: Server, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN), "watch", "nope", "--url", server.url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"no published event 'nope' at {server.url}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
async def test_once_prints_one_board_and_exits(
    server: Server, host: Host, start_watch: StartWatch
) -> None:
    await host.published_event()
    await host.slot(9)
    watcher = await start_watch("live", "--url", server.url, "--once")
    code, stderr = await watcher.finish()
    assert code == 0, stderr
    assert len(watcher.board_seqs()) == 1
    assert re.search(r"^  NEXT  .*At 9$", watcher.last_board(), re.MULTILINE)


@pytest.mark.slow
async def test_ctrl_c_ends_the_watch_cleanly(
    server: Server, host: Host, start_watch: StartWatch
) -> None:
    await host.published_event()
    watcher = await start_watch("live", "--url", server.url)
    await watcher.wait_for_board()
    watcher.process.send_signal(signal.SIGINT)
    code, stderr = await watcher.finish()
    assert code == 0, stderr
    assert "Traceback" not in stderr
