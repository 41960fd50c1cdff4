"""How delivery reads its settings, and how far apart its retries are."""

from __future__ import annotations

import pytest

from takeamoment.delivery.email import parse_smtp_url
from takeamoment.delivery.worker import backoff_seconds


def test_smtp_urls_say_host_port_tls_and_credentials() -> None:
    plain = parse_smtp_url("smtp://mail.example.com:2525")
    assert (plain.host, plain.port, plain.use_tls, plain.start_tls) == (
        "mail.example.com",
        2525,
        False,
        False,
    )
    assert plain.username is None and plain.password is None
    starttls = parse_smtp_url("smtp://us%40er:p%3Ass@mail.example.com:587?starttls=true")
    assert (starttls.port, starttls.start_tls, starttls.use_tls) == (587, True, False)
    assert (starttls.username, starttls.password) == ("us@er", "p:ss")
    tls = parse_smtp_url("smtps://mail.example.com")
    assert (tls.port, tls.use_tls, tls.start_tls) == (465, True, False)
    assert parse_smtp_url("smtp://mail.example.com").port == 25


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "mail.example.com:25"])
def test_a_bad_smtp_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="TAKEAMOMENT_SMTP_URL"):
        parse_smtp_url(url)


def test_retries_back_off_exponentially_with_jitter_up_to_half_an_hour() -> None:
    for attempt, (low, high) in {1: (5, 10), 2: (10, 15), 3: (20, 25), 6: (160, 165)}.items():
        waits = {backoff_seconds(attempt) for _ in range(20)}
        assert all(low <= w <= high for w in waits), (attempt, waits)
        assert len(waits) > 1  # jittered
    assert backoff_seconds(30) == 1800
