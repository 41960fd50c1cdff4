"""Who could be booked: the candidates' assessment is exactly the booking rules, asked at once."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.booking_rules import (
    Licence,
    find_availability_conflicts,
    find_person_conflicts,
    licence_problem,
)
from takeamoment.domain.candidates import CandidateFacts, assess_candidate, assess_candidates
from tests.domain.strategies import Grid, GridSlot, Span, fast, grid_slots, grids, spans

DAY = date(2030, 10, 10)
licences = st.none() | st.builds(
    Licence,
    number=st.just("L"),
    issuer=st.just("I"),
    jurisdiction=st.just("UK"),
    expires_on=st.sampled_from([date(2030, 1, 1), date(2031, 1, 1)]),
    verified=st.booleans(),
)


@fast
@given(
    grid=grids,
    slot=grid_slots,
    booked=st.lists(grid_slots, max_size=4),
    windows=st.lists(spans, max_size=2),
    role=st.sampled_from(["creator", "therapist"]),
    licence=licences,
    here=st.none() | st.sampled_from(["invited", "confirmed"]),
)
def test_a_candidate_is_bookable_exactly_when_no_rule_objects(
    grid: Grid,
    slot: GridSlot,
    booked: list[GridSlot],
    windows: list[Span],
    role: str,
    licence: Licence | None,
    here: str | None,
) -> None:
    candidate = grid.slot(slot)
    others = tuple(grid.slot(b) for b in booked)
    facts = CandidateFacts(
        person_id="p",
        role=role,
        licence=licence,
        booked=others,
        windows=tuple(grid.interval(w) for w in windows),
        booked_here=here,
    )
    assessed = assess_candidate(facts, candidate, role, DAY)

    conflicts = find_person_conflicts("p", candidate, others) + find_availability_conflicts(
        "p", candidate, facts.windows
    )
    refusal = licence_problem(licence, DAY) if role == "therapist" else None
    assert assessed.conflicts == conflicts
    assert assessed.refusal == refusal
    assert assessed.bookable == (not conflicts and refusal is None and here is None)


@fast
@given(grid=grids, slot=grid_slots)
def test_the_wrong_role_is_refused_and_free_people_come_first(grid: Grid, slot: GridSlot) -> None:
    candidate = grid.slot(slot)
    creator = CandidateFacts(person_id="c", role="creator")
    assert assess_candidate(creator, candidate, "therapist", DAY).refusal == (
        "is a creator, not a therapist"
    )
    busy = CandidateFacts(person_id="busy", role="creator", booked=(grid.slot(
        GridSlot("other", slot.span, 0)),))  # fmt: skip
    free = CandidateFacts(person_id="free", role="creator")
    order = [a.person_id for a in assess_candidates([busy, free], candidate, DAY)]
    assert order == ["free", "busy"]
