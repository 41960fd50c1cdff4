"""``takeamoment watch``: a terminal live board of one event, fed by its WebSocket.

Three parts, each testable alone: ``Board`` folds stream messages into state (pure),
``render`` turns a board and a ``now`` into text (pure), and ``follow`` keeps a board in step
with the server, resuming with ``?since=<last seq applied>`` after every drop so that no change
is missed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal, TextIO
from urllib.parse import quote, urlsplit, urlunsplit

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_never,
    wait_random_exponential,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import process_exception
from websockets.exceptions import ConnectionClosed, WebSocketException

from takeamoment.domain.intervals import Interval
from takeamoment.domain.now_next import now_and_next
from takeamoment.domain.slot_states import is_overdue, times_on_air
from takeamoment.realtime.protocol import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, SLOT_DELETED, SNAPSHOT

Applied = Literal["snapshot", "change"]

KEEP_CHANGES = 10
# A snapshot of a large event can outgrow websockets' 1 MiB default.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# Full jitter, doubling from 0.5 s up to 30 s: quick after a blip, gentle on a server that is down.
RECONNECT_WAIT = wait_random_exponential(multiplier=0.5, max=30)
# With --once a script is waiting: give up after a few attempts instead of waiting for ever.
ONCE_CONNECT_ATTEMPTS = 5
# A TTY board is redrawn this often even without changes, so "up next" follows the clock.
REDRAW_SECONDS = 30.0
CLEAR_SCREEN = "\x1b[2J\x1b[H"


class WatchError(Exception):
    """The watch cannot go on; the message tells the user why."""


class MissedChanges(Exception):
    """A change skipped seqs: the stream must resume after the last seq applied."""


def _aware(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class SlotOnBoard:
    """What the board shows of one slot."""

    id: str
    channel: str
    channel_name: str
    title: str
    starts_at: datetime
    ends_at: datetime
    status: str
    people: tuple[str, ...] = ()
    actual_started_at: datetime | None = None
    actual_ended_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SlotOnBoard:
        """Parse a slot as the stream sends it (times are UTC ISO strings)."""
        started, ended = data.get("actual_started_at"), data.get("actual_ended_at")
        return cls(
            id=str(data["id"]),
            channel=str(data["channel"]),
            channel_name=str(data.get("channel_name") or data["channel"]),
            title=str(data["title"]),
            starts_at=_aware(data["starts_at"]),
            ends_at=_aware(data["ends_at"]),
            status=str(data["status"]),
            people=tuple(str(person["name"]) for person in data.get("people") or ()),
            actual_started_at=_aware(started) if started else None,
            actual_ended_at=_aware(ended) if ended else None,
        )

    def shown(self) -> Interval:
        """What happened for a live or ended slot, else the schedule (as the pages show it)."""
        return times_on_air(
            self.starts_at, self.ends_at, self.actual_started_at, self.actual_ended_at
        )


@dataclass(frozen=True)
class ChangeSeen:
    """One change message, as the "last changes" list shows it."""

    seq: int
    type: str
    at: datetime | None
    what: str


@dataclass(frozen=True)
class ChannelNow:
    """One channel at a moment: what is on air and what comes next."""

    channel: str
    name: str
    live: tuple[SlotOnBoard, ...]
    up_next: SlotOnBoard | None


class Board:
    """The state of one event as its stream has told it so far."""

    def __init__(self, slug: str, keep_changes: int = KEEP_CHANGES) -> None:
        self.slug = slug
        self.title: str | None = None
        self.seq: int | None = None
        self.slots: dict[str, SlotOnBoard] = {}
        self.changes: deque[ChangeSeen] = deque(maxlen=keep_changes)

    def apply(self, message: Mapping[str, Any]) -> Applied | None:
        """Fold one stream message in and say what it was; None when it changed nothing.

        A snapshot replaces every slot; a change carries its slot whole and replaces it, so a
        repeated or older seq is ignored. Raises MissedChanges when a change skips a seq.
        """
        seq = int(message["seq"])
        if message["type"] == SNAPSHOT:
            self.slots = {s["id"]: SlotOnBoard.from_json(s) for s in message["slots"]}
            self.seq = seq
            return "snapshot"
        if self.seq is not None and seq <= self.seq:
            return None
        if self.seq is None or seq != self.seq + 1:
            raise MissedChanges(f"expected seq {(self.seq or 0) + 1}, got {seq}")
        self.seq = seq
        self.changes.append(self._fold_change(message))
        return "change"

    def _fold_change(self, message: Mapping[str, Any]) -> ChangeSeen:
        what = ""
        if message.get("type") == SLOT_DELETED:
            gone = self.slots.pop(str(message.get("slot_id")), None)
            what = gone.title if gone else ""
        if slot_json := message.get("slot"):
            slot = SlotOnBoard.from_json(slot_json)
            self.slots[slot.id] = slot
            what = slot.title
        if person := (message.get("booking") or {}).get("person"):
            what = f"{what} · {person['name']}"
        if details := message.get("details"):
            self.title = details.get("title") or self.title
            what = self.title or self.slug
        at = _aware(message["at"]) if message.get("at") else None
        return ChangeSeen(seq=int(message["seq"]), type=str(message["type"]), at=at, what=what)

    def channels(self, now: datetime) -> list[ChannelNow]:
        """Per channel, sorted by name: on now and up next (``domain/now_next.py``)."""
        by_channel: dict[str, list[SlotOnBoard]] = {}
        for slot in sorted(self.slots.values(), key=lambda s: (s.starts_at, s.title, s.id)):
            by_channel.setdefault(slot.channel, []).append(slot)
        views = []
        for channel, slots in by_channel.items():
            shown = now_and_next(slots, now)
            views.append(
                ChannelNow(
                    channel=channel,
                    name=slots[0].channel_name,
                    live=shown.live,
                    up_next=shown.next,
                )
            )
        return sorted(views, key=lambda view: (view.name.lower(), view.channel))


def _clock(moment: datetime, tz: tzinfo | None, today: datetime) -> str:
    local = moment.astimezone(tz)
    return local.strftime("%H:%M" if local.date() == today.date() else "%a %d %b %H:%M")


def _slot_line(label: str, slot: SlotOnBoard | None, tz: tzinfo | None, now: datetime) -> str:
    if slot is None:
        return f"  {label:<5} -"
    shown = slot.shown()
    starts = _clock(shown.starts_at, tz, now)
    ends = shown.ends_at.astimezone(tz).strftime("%H:%M")
    people = f"  ({', '.join(slot.people)})" if slot.people else ""
    if is_overdue(slot.status, slot.starts_at, now):  # not "up next at" a time already past
        return f"  {'SOON':<5} starting soon (was {starts})  {slot.title}{people}"
    return f"  {label:<5} {starts}-{ends}  {slot.title}{people}"


def render(board: Board, now: datetime, tz: tzinfo | None = None) -> str:
    """The board as plain text, times in ``tz`` (None: this machine's local zone), newline-ended."""
    local_now = now.astimezone(tz)
    name = f"{board.title} ({board.slug})" if board.title else board.slug
    zone = f"local time, {local_now.tzname()}" if tz is None else local_now.tzname()
    header = f"{name} · seq {board.seq} · {local_now:%H:%M:%S} · times in {zone}"
    lines = [header, "=" * len(header)]
    channels = board.channels(now)
    for channel in channels:
        lines.append(f"{channel.name} [{channel.channel}]")
        lines += [_slot_line("LIVE", slot, tz, local_now) for slot in channel.live]
        if not channel.live:
            lines.append(_slot_line("LIVE", None, tz, local_now))
        lines.append(_slot_line("NEXT", channel.up_next, tz, local_now))
    if not channels:
        lines.append("(no slots yet)")
    lines += ["", "Last changes"]
    for change in reversed(board.changes):
        at = f"{change.at.astimezone(tz):%H:%M:%S}" if change.at else "--:--:--"
        lines.append(f"  #{change.seq} {change.type:<18} {at}  {change.what}")
    if not board.changes:
        lines.append("  (none since connecting)")
    return "\n".join(lines) + "\n"


def stream_url(base_url: str, slug: str, since: int | None) -> str:
    """The event's WebSocket URL under ``base_url`` (http(s) or ws(s)), resuming after ``since``."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise WatchError(f"--url must look like http://host:port, not {base_url!r}")
    path = f"{parts.path.rstrip('/')}/ws/events/{quote(slug, safe='')}"
    query = "" if since is None else f"since={since}"
    return urlunsplit((scheme, parts.netloc, path, query, ""))


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _is_transient(error: BaseException) -> bool:
    """What websockets itself retries when reconnecting: network errors, timeouts, HTTP 5xx."""
    return isinstance(error, Exception) and process_exception(error) is None


def _note_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    delay = state.next_action.sleep if state.next_action else 0.0
    _note(f"cannot connect ({error}); retrying in {delay:.1f}s")


async def open_stream(url: str, attempts: int | None = None) -> ClientConnection:
    """Connect to ``url``, retrying transient failures with exponential backoff and jitter."""
    retrying = AsyncRetrying(
        retry=retry_if_exception(_is_transient),
        wait=RECONNECT_WAIT,
        stop=stop_never if attempts is None else stop_after_attempt(attempts),
        before_sleep=_note_retry,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await connect(url, max_size=MAX_MESSAGE_BYTES)
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def _raise_if_final(closed: ConnectionClosed, slug: str, base_url: str) -> None:
    """Turn the closes that another attempt would only repeat into a WatchError."""
    if closed.rcvd is None:
        return
    if closed.rcvd.code == CLOSE_NOT_FOUND:
        raise WatchError(f"no published event {slug!r} at {base_url}")
    if closed.rcvd.code == CLOSE_FORBIDDEN:
        raise WatchError(f"{base_url} refused the connection: {closed.rcvd.reason}")


async def follow(
    base_url: str,
    board: Board,
    on_applied: Callable[[Applied], bool],
    *,
    connect_attempts: int | None = None,
) -> None:
    """Keep ``board`` in step with its event until ``on_applied`` returns True.

    Each connection after the first asks for ``?since=<board.seq>``, so a drop loses nothing.
    Raises WatchError for an unknown or draft event (4404) or a refused origin (4403).
    """
    while True:  # one turn per connection; open_stream does the backoff
        try:
            url = stream_url(base_url, board.slug, board.seq)
            async with await open_stream(url, connect_attempts) as ws:
                while True:
                    applied = board.apply(json.loads(await ws.recv()))
                    if applied and on_applied(applied):
                        return
        except ConnectionClosed as closed:
            _raise_if_final(closed, board.slug, base_url)
            _note(f"connection lost ({closed}); resuming after seq {board.seq}")
        except MissedChanges as missed:
            _note(f"{missed}; resuming after seq {board.seq}")


async def _every(seconds: float, action: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(seconds)
        action()


async def watch(
    base_url: str,
    slug: str,
    *,
    once: bool = False,
    max_updates: int | None = None,
    out: TextIO = sys.stdout,
) -> None:
    """Print the board after the snapshot and after each change, until done.

    Done means: after the first board with ``once``, after ``max_updates`` changes, else never
    (cancel it). On a TTY each board replaces the last; otherwise boards follow one another.
    """
    board = Board(slug)
    tty = out.isatty()
    changes_seen = 0

    def show() -> None:
        if board.seq is not None:
            text = render(board, datetime.now(UTC))
            out.write(CLEAR_SCREEN + text if tty else text + "\n")
            out.flush()

    def on_applied(applied: Applied) -> bool:
        nonlocal changes_seen
        show()
        changes_seen += applied == "change"
        return once or (max_updates is not None and changes_seen >= max_updates)

    redraw = asyncio.create_task(_every(REDRAW_SECONDS, show)) if tty else None
    try:
        attempts = ONCE_CONNECT_ATTEMPTS if once else None
        await follow(base_url, board, on_applied, connect_attempts=attempts)
    finally:
        if redraw:
            redraw.cancel()


def run_watch(base_url: str, slug: str, *, once: bool, max_updates: int | None) -> None:
    """Run ``watch`` to its end or to Ctrl-C; raises WatchError with a message for the user."""
    try:
        asyncio.run(watch(base_url, slug, once=once, max_updates=max_updates))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a live board normally ends
    except (OSError, WebSocketException) as error:
        raise WatchError(f"cannot watch {slug!r} at {base_url}: {error}") from error
