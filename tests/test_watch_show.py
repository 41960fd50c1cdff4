"""``takeamoment watch`` shows what happened on air and an overdue slot as "starting soon"."""

from __future__ import annotations

from datetime import UTC, timedelta

from takeamoment.watch import Board, render
from tests.e2e.test_watch import NOW, slot, snapshot


def test_live_and_ended_slots_show_their_real_times() -> None:
    went_live = (NOW.replace(hour=0) + timedelta(hours=11, minutes=58)).isoformat()
    board = Board("live")
    board.apply(snapshot(1, slot("a", 12, status="live", actual_started_at=went_live)))
    text = render(board, NOW, UTC)
    assert "  LIVE  11:58-13:00  Slot a" in text


def test_an_overdue_next_slot_is_starting_soon_not_up_next_at_a_past_time() -> None:
    board = Board("live")
    board.apply(snapshot(1, slot("a", 11.5), slot("b", 14, channel="other")))
    text = render(board, NOW, UTC)
    assert "  SOON  starting soon (was 11:30)  Slot a" in text
    assert "  NEXT  14:00-15:00  Slot b" in text
