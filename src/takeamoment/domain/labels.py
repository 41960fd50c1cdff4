"""How messages a person reads name things: slots by title and time, never by id.

Ids stay in the machine-readable parts of an answer (``extra``); the words say what a host would
say: “Morning tips” (Thu 10 Oct 09:00–09:30 BST).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo


def slot_label(title: str, starts_at: datetime, ends_at: datetime, zone: str | tzinfo) -> str:
    """The slot's title in quotes and its times in ``zone`` (an IANA name or a tzinfo)."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %d %b %H:%M}"
    if end.tzname() != start.tzname():  # across a clock change each end says its own offset
        return f"“{title}” ({start:%a %d %b %H:%M} {start.tzname()}–{end_text} {end.tzname()})"
    return f"“{title}” ({start:%a %d %b %H:%M}–{end_text} {start.tzname()})"


def moment_label(moment: datetime, zone: str | tzinfo) -> str:
    """One instant in ``zone``, as a host reads it: Thu 10 Oct 09:00 BST."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    local = moment.astimezone(tz)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"
