"""A channel's run of slots in minute numbers, shared by the cascade tests."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from takeamoment.domain.booking_rules import PlacedSlot
from tests.domain.strategies import Grid, Span, lengths


@dataclass(frozen=True)
class Run:
    """A channel's slots in minute numbers: the delayed one, then the later ones in order."""

    delayed: Span
    later: tuple[Span, ...]

    def placed(self, grid: Grid) -> tuple[PlacedSlot, list[PlacedSlot]]:
        delayed = PlacedSlot(slot_id="d", interval=grid.interval(self.delayed))
        later = [
            PlacedSlot(slot_id=f"l{index}", interval=grid.interval(span))
            for index, span in enumerate(self.later)
        ]
        return delayed, later


def _run(start: int, first_length: int, rest: list[tuple[int, int]]) -> Run:
    later: list[Span] = []
    end = start + first_length
    for gap, length in rest:
        later.append(Span(end + gap, end + gap + length))
        end += gap + length
    return Run(Span(start, start + first_length), tuple(later))


# Back to back is the common case on a live channel, so zero gaps come often.
gaps = st.one_of(st.just(0), st.sampled_from([5, 15, 30, 60]), st.integers(0, 180))
runs = st.builds(_run, st.integers(0, 300), lengths, st.lists(st.tuples(gaps, lengths), max_size=6))
delays = st.one_of(st.sampled_from([1, 5, 10, 15, 30, 60]), st.integers(1, 24 * 60))
