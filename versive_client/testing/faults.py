"""Faults the fake Versive can inject, one per request: scripted in a queue or drawn by seeded rules.

Each fault says what the client sees and whether the request still reached the API
(so whether an interview, or whatever the operation makes, was created). That difference
is what idempotency is for. Faults apply to every operation alike.

========================  ========================================  ==================
fault                     what the client sees                      reached the API?
========================  ========================================  ==================
``Status(503, 2)``        that status, JSON ``detail``, optional    no
                          ``Retry-After`` (seconds or HTTP-date)
``Reset()``               the connection reset before any response  no
``HtmlBadGateway()``      a 502 with an HTML body (a proxy's page)  no
``Delay(5.0)``            headers only after the delay              yes, at once
``CloseMidBody()``        the answer's body stops half-way          yes
``TruncatedChunked()``    a chunked answer whose connection closes  yes
                          before the last chunk
``WrongContentLength()``  a Content-Length that promises more than  yes
                          the (whole) body, then a close
``BadContentEncoding()``  ``Content-Encoding: gzip`` on a body      yes; with a
                          that is not gzip (a proxy's mistake)      `status`, no
``NotJson()``             a 2xx whose body is not JSON              yes
``MissingField("id")``    a 2xx without that field (in an object,   yes
                          or in each item of a list)
========================  ========================================  ==================

"Yes" faults act on the response the fake would have sent: a request that is
refused (401, 404, 422) is refused as usual, with the fault's transport effect
(delay, cut body) still applied where it has one. An answer without a body (a 204)
has nothing for ``NotJson`` or ``MissingField`` to change.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
import random
from collections import deque

from attrs import define, field, frozen

__all__ = [
    "BadContentEncoding",
    "CloseMidBody",
    "Delay",
    "Fault",
    "FaultPlan",
    "HtmlBadGateway",
    "MissingField",
    "NotJson",
    "Reset",
    "Status",
    "TruncatedChunked",
    "WrongContentLength",
]


@frozen
class Status:
    """Answer with `status` instead of reaching the API.

    `retry_after` becomes a ``Retry-After`` header: a number of seconds, or an aware
    datetime sent as an HTTP-date.
    """

    status: int = field()
    retry_after: int | dt.datetime | None = field(default=None)

    @status.validator
    def _check_status(self, _attribute: object, value: int) -> None:
        if not 100 <= value <= 599:  # noqa: PLR2004 - the range of HTTP status codes
            raise ValueError(f"status must be an HTTP status code (100-599), got {value}")

    @retry_after.validator
    def _check_retry_after(self, _attribute: object, value: int | dt.datetime | None) -> None:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            raise ValueError("retry_after must be timezone-aware: an HTTP-date is in GMT")
        if isinstance(value, int) and value < 0:
            raise ValueError(f"retry_after must be >= 0 seconds, got {value}")


@frozen
class Reset:
    """Reset the connection (TCP RST) after reading the request, before any response."""


@frozen
class HtmlBadGateway:
    """Answer 502 with an HTML page, as a proxy in front of the API would."""


@frozen
class Delay:
    """Handle the request at once, but send the response headers only after `seconds`."""

    seconds: float = field()

    @seconds.validator
    def _check_seconds(self, _attribute: object, value: float) -> None:
        if not value >= 0:
            raise ValueError(f"seconds must be >= 0, got {value}")


@frozen
class CloseMidBody:
    """Handle the request, send the headers and half the body, then close the connection."""


@frozen
class TruncatedChunked:
    """Handle the request, send a chunked answer's first chunk (half the body), then close the connection.

    .. versionadded:: 0.2.0
    """


@frozen
class WrongContentLength:
    """Handle the request, send the whole body under a Content-Length `extra` bytes longer, then close.

    .. versionadded:: 0.2.0
    """

    extra: int = field(default=16)

    @extra.validator
    def _check_extra(self, _attribute: object, value: int) -> None:
        if value < 1:
            raise ValueError(f"extra must be >= 1 byte, got {value}")


@frozen
class BadContentEncoding:
    """Answer with ``Content-Encoding: gzip`` on a body that is not gzip, as a misconfigured proxy might.

    Without `status` the API answers as usual (and creates the interview); with one, the
    fault answers that status instead of reaching the API.

    .. versionadded:: 0.2.0
    """

    status: int | None = field(default=None)

    @status.validator
    def _check_status(self, _attribute: object, value: int | None) -> None:
        if value is not None and not 100 <= value <= 599:  # noqa: PLR2004 - the range of HTTP status codes
            raise ValueError(f"status must be an HTTP status code (100-599), got {value}")


@frozen
class NotJson:
    """Handle the request, then answer its success status with an HTML body instead of the JSON."""


@frozen
class MissingField:
    """Handle the request, then answer without `field_name`: dropped from an object, or from each item of a list."""

    field_name: str = "created_at"


Fault = (
    Status
    | Reset
    | HtmlBadGateway
    | Delay
    | CloseMidBody
    | TruncatedChunked
    | WrongContentLength
    | BadContentEncoding
    | NotJson
    | MissingField
)
"""Any one fault."""

# Faults that stand in for the API: the request never reaches it.
PRE_API_FAULTS = (Status, Reset, HtmlBadGateway)


@frozen
class _Rule:
    fault: Fault
    probability: float


@define
class FaultPlan:
    """Which fault, if any, the next request gets: the queue first, then the rules.

    >>> fake.faults.queue(Status(503, retry_after=1), Reset())   # the next two requests
    >>> fake.faults.add_rule(Delay(0.05), probability=0.1)       # then ~10% of requests

    Rules are tried in the order they were added, each with its own draw from a random
    generator seeded by the fake's `seed`, so a run is reproducible.
    """

    seed: int = 0
    _queue: deque[Fault | None] = field(factory=deque, init=False)
    _rules: list[_Rule] = field(factory=list, init=False)
    _random: random.Random = field(init=False)

    def __attrs_post_init__(self) -> None:
        """Seed the generator the rules draw from."""
        # Not for security: a seeded generator makes fault sequences reproducible.
        self._random = random.Random(self.seed)  # noqa: S311

    def queue(self, *faults: Fault | None) -> None:
        """Give the next ``len(faults)`` requests these faults, in order (`None`: no fault)."""
        for fault in faults:
            _check_fault(fault, allow_none=True)
        self._queue.extend(faults)

    def add_rule(self, fault: Fault, *, probability: float) -> None:
        """After the queue is empty, give each request `fault` with this probability."""
        _check_fault(fault, allow_none=False)
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be between 0 and 1, got {probability}")
        self._rules.append(_Rule(fault, probability))

    def clear(self) -> None:
        """Drop the queue and the rules; requests are answered normally again."""
        self._queue.clear()
        self._rules.clear()

    @property
    def pending(self) -> tuple[Fault | None, ...]:
        """The queued faults not yet used."""
        return tuple(self._queue)

    def next_fault(self) -> Fault | None:
        """Draw the fault for one request (used by the fake; each call consumes)."""
        if self._queue:
            return self._queue.popleft()
        for rule in self._rules:
            if self._random.random() < rule.probability:
                return rule.fault
        return None


def _check_fault(fault: object, *, allow_none: bool) -> None:
    if fault is None and allow_none:
        return
    if not isinstance(fault, Fault):
        raise TypeError(f"not a fault: {fault!r} (use one of versive_client.testing.faults)")
