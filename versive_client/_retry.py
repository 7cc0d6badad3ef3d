"""When to retry and how long to wait: the retry policy, Retry-After, and the client's retry budget.

Defaults (all on :class:`RetryPolicy`):

- retried: connection errors, timeouts, and statuses 408, 429, 500, 502, 503, 504;
  never any other status (a 409 on a create is a conflict to report, not to repeat);
- backoff: 0.5 s, doubling each retry, capped at 8 s, each delay shortened by up to 25%
  at random (jitter), so clients that failed together do not retry together;
- ``Retry-After`` (seconds or an HTTP-date) replaces the backoff when the server sends
  it and asks for more than 0 s (as openai-python honours only ``0 < Retry-After <= 60``:
  ``Retry-After: 0``, or a date in the past, gets the jittered backoff, so that every
  client refused at once does not retry at the same instant); if it asks for more than
  60 s, or for longer than the call's deadline leaves, the call fails at once with the
  status's error, carrying ``retry_after``;
- the retry budget (a token bucket shared by a client and the clients derived from it,
  as in the AWS SDKs' standard retry mode): 500 tokens; a retry costs 5, a retry after a
  timeout 10; each successful response returns 1. When most calls fail the bucket
  empties and calls fail on their first error instead of multiplying load by retrying.
  The budget is for failures (errors, 5xx, timeouts): a 429 is a server that is up and
  asks to slow down, so its retry costs nothing; its wait (``Retry-After`` or the
  backoff) and, in a batch, the `versive_client.bulk.Pacer` (which every attempt of the
  batch waits for, retries too) slow it down instead. A rate-limited batch therefore
  never drains the budget the client's other calls share.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import time
from typing import TYPE_CHECKING

from attrs import Factory, define, field, frozen

if TYPE_CHECKING:
    import random

    from attrs import Attribute

__all__ = ["RetryBudget", "RetryPolicy"]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _non_negative(_instance: object, attribute: Attribute[float], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _fraction(_instance: object, attribute: Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


@frozen
class RetryPolicy:
    """How long to wait between attempts. Immutable; pass one to ``VersiveClient(retry_policy=...)``.

    For your own tests, ``RetryPolicy.no_wait()`` keeps the retries but skips the sleeps.
    """

    backoff_initial: float = field(default=0.5, validator=_non_negative)
    backoff_max: float = field(default=8.0, validator=_non_negative)
    jitter: float = field(default=0.25, validator=_fraction)
    retry_after_max: float = field(default=60.0, validator=_non_negative)
    wait: bool = True

    @classmethod
    def no_wait(cls) -> RetryPolicy:
        """Retry as usual but never sleep, not even for ``Retry-After``: for tests."""
        return cls(wait=False)

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1 for the first): Retry-After, else backoff."""
        if not self.wait:
            return 0.0
        if retry_after is not None and retry_after > 0:
            return retry_after
        base = min(self.backoff_max, self.backoff_initial * 2.0 ** (retry - 1))
        return base * (1.0 - self.jitter * rng.random())


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date; `None` if absent or unreadable."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP-date is GMT by definition
            when = when.replace(tzinfo=dt.UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return None if math.isnan(seconds) else max(0.0, seconds)


@define
class RetryBudget:
    """A token bucket shared by a client and its derived clients: retries spend, successes refill."""

    capacity: int = 500
    retry_cost: int = 5
    timeout_retry_cost: int = 10
    success_refund: int = 1
    # Starts full.
    _tokens: float = field(init=False, default=Factory(lambda self: float(self.capacity), takes_self=True))

    @property
    def tokens(self) -> float:
        """Tokens left."""
        return self._tokens

    def try_spend(self, *, after_timeout: bool) -> bool:
        """Take the cost of one retry; False (and nothing taken) when the bucket cannot pay."""
        cost = self.timeout_retry_cost if after_timeout else self.retry_cost
        affordable = self._tokens >= cost
        self._tokens -= cost if affordable else 0
        return affordable

    def refund(self) -> None:
        """A successful response puts a token back."""
        self._tokens = min(float(self.capacity), self._tokens + self.success_refund)
