"""The webhook retry schedule: exponential, at least 6 tries over at least an hour by default."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.webhooks import CHANGE_TYPES, gives_up, retry_delay_seconds
from takeamoment.settings import Settings


def test_the_default_schedule_tries_at_least_six_times_over_at_least_an_hour() -> None:
    settings = Settings()
    tries = settings.webhook_max_attempts
    first = settings.webhook_first_retry_seconds
    waits = [retry_delay_seconds(n, first) for n in range(1, tries)]
    assert tries >= 6 and not gives_up(tries - 1, tries) and gives_up(tries, tries)
    assert waits == [30, 120, 480, 1920, 7680, 30720]
    assert sum(waits) >= 3600


@given(st.integers(1, 30), st.floats(0.001, 1000))
def test_each_wait_is_four_times_the_one_before(attempts: int, first: float) -> None:
    assert retry_delay_seconds(attempts + 1, first) == 4 * retry_delay_seconds(attempts, first)


def test_the_known_change_types_are_the_ones_the_change_log_writes() -> None:
    assert {"slot.live", "slot.cancelled", "booking.confirmed", "event.updated"} <= CHANGE_TYPES
