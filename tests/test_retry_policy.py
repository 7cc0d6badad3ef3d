"""RetryPolicy, Retry-After parsing and the retry budget, as values."""

from __future__ import annotations

import email.utils
import random
import time

import pytest

from versive_client import RetryBudget, RetryPolicy
from versive_client._retry import parse_retry_after

NOW = 1_900_000_000.0  # a fixed "now" for HTTP-date arithmetic


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("0", 0.0),
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("soon", None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: no wait
    ],
)
def test_retry_after_forms(header: str | None, seconds: float | None) -> None:
    """Delta-seconds, HTTP-dates in the past, and unreadable values."""
    assert parse_retry_after(header, now=NOW) == seconds


def test_retry_after_http_date_in_the_future() -> None:
    """An HTTP-date gives the seconds from now until then."""
    header = email.utils.formatdate(NOW + 42, usegmt=True)
    assert parse_retry_after(header, now=NOW) == pytest.approx(42.0)


def test_retry_after_http_date_without_zone_is_gmt(monkeypatch: pytest.MonkeyPatch) -> None:
    """An asctime-style date (no zone) is read as GMT, as HTTP says, whatever the machine's time zone."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        header = email.utils.formatdate(NOW + 10, usegmt=True).replace(" GMT", "")
        assert parse_retry_after(header, now=NOW) == pytest.approx(10.0)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    """Delays: initial * 2^(n-1), capped, minus up to `jitter` of it."""
    policy = RetryPolicy(backoff_initial=1.0, backoff_max=5.0, jitter=0.5)
    rng = random.Random(1)
    for retry, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (10, 5.0)]:
        for _ in range(50):
            assert cap * 0.5 <= policy.delay(retry, None, rng) <= cap


def test_retry_after_wins_over_backoff() -> None:
    """A server's Retry-After is the delay, whatever the backoff would be."""
    assert RetryPolicy().delay(1, 12.0, random.Random()) == 12.0


def test_no_wait_never_waits() -> None:
    """RetryPolicy.no_wait(): zero, even for Retry-After."""
    policy = RetryPolicy.no_wait()
    assert policy == RetryPolicy(wait=False)
    assert policy.delay(3, None, random.Random()) == 0.0
    assert policy.delay(1, 30.0, random.Random()) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backoff_initial": -1}, "backoff_initial must be >= 0"),
        ({"backoff_max": -0.1}, "backoff_max must be >= 0"),
        ({"jitter": 1.5}, "jitter must be between 0 and 1"),
        ({"retry_after_max": -5}, "retry_after_max must be >= 0"),
    ],
)
def test_bad_policy_values_are_refused(kwargs: dict[str, float], message: str) -> None:
    """Each bad value names its field."""
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_zero_is_a_valid_wait_everywhere() -> None:
    """No backoff at all, and a Retry-After cap of zero, are settings, not errors."""
    policy = RetryPolicy(backoff_initial=0, backoff_max=0, jitter=0, retry_after_max=0)
    assert policy.delay(3, None, random.Random()) == 0.0


def test_the_budget_defaults() -> None:
    """500 tokens; a retry costs 5, a retry after a timeout 10; a success returns 1."""
    budget = RetryBudget()
    assert (budget.capacity, budget.retry_cost, budget.timeout_retry_cost, budget.success_refund) == (500, 5, 10, 1)
    assert budget.tokens == 500
    spent = 0
    while budget.try_spend(after_timeout=False):
        spent += 1
    assert spent == 100
