"""Many interviews at once: bounded concurrency, an optional rate cap, and a pace set by what the API says.

::

    rows = ({"study_id": "study_123", "metadata": {"participant_id": p}} for p in participants)
    async with versive.create_interviews(
        rows, concurrency=16, idempotency_key=lambda row: f"wave-3:{row['metadata']['participant_id']}"
    ) as results:
        async for result in results:  # as each finishes
            if result.ok:
                save(result.input, result.interview.link)
            else:
                report(result.input, result.error)

Built on the client's public surface, as an application could build it: each item is one
`create_interview` call, on a client derived with the `Pacer` as an ``on_call`` observer:
every attempt, retries included, waits for its turn before it is sent, and the pacer reads
every answer.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self, TypedDict

from attrs import frozen

from versive_client._generated.resources import InterviewsResource
from versive_client._transport import CallObserver

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
    from types import TracebackType

    import anyio.abc
    from anyio.streams.memory import MemoryObjectSendStream

    from versive_client import Attempt, Call, VersiveClient
    from versive_client.models import Interview

__all__ = ["BulkOptions", "BulkRun", "InterviewResult", "Items", "Pacer", "content_key"]

Items = Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]]
"""What `VersiveClient.create_interviews` takes: mappings of `create_interview`'s arguments."""

_END: Mapping[str, Any] = MappingProxyType({})  # the end of the items (compared by identity)
# What an item may hold: create_interview's arguments, as generated from the spec.
ARGUMENTS = frozenset(inspect.signature(InterviewsResource.create).parameters) - {"self"}
DEFAULT_CONCURRENCY = 16


class BulkOptions(TypedDict, total=False):
    """The options of `VersiveClient.create_interviews` (see `BulkRun`)."""

    concurrency: int
    max_rate: float | None
    idempotency_key: Callable[[Mapping[str, Any]], str] | None
    pacer: Pacer | None


@frozen
class InterviewResult:
    """One item's outcome: the interview, or the exception its call ended in.

    `index` is the item's place in the input (0 for the first), `input` the item itself.
    """

    index: int
    input: Mapping[str, Any]
    interview: Interview | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """Whether the interview was created."""
        return self.interview is not None


# What an item may give that is not sent as the request's content: how the call is made, not what it asks for.
NOT_CONTENT = frozenset({"idempotency_key", "timeout", "max_retries", "deadline", "extra_headers"})


def content_key(item: Mapping[str, Any]) -> str:
    """An idempotency key derived from everything an item's request sends: the same on every run, for the same content.

    The digest covers each argument the item gives that goes into the request (``study_id``,
    ``title``, ``language``, ``metadata``, and ``extra_body`` / ``extra_query``; a field left
    out differs from one given as None, which is sent as null), not how the call is made
    (timeouts, retries, headers). So an item changed in any way gets a new key, and a server
    that honours keys never sees a used key with another body. For
    ``create_interviews(..., idempotency_key=content_key)`` when two items with the same
    content are the same participant (a row listed twice, or a batch run again): a server
    that honours the key creates one interview for them.

    .. versionchanged:: 0.5.0 everything the request sends, ``extra_body`` included; a field left out is not None.
    """
    fields = {name: value for name, value in item.items() if name not in NOT_CONTENT}
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
    return f"versive-bulk-{digest[:40]}"


class BulkRun:
    """A batch of `create_interview` calls: an async context manager, and inside it an async iterator of results.

    ::

        async with versive.create_interviews(items, concurrency=16, max_rate=50) as results:
            async for result in results:
                ...

    - Items are read lazily, one each time a worker is free: a generator of a million rows
      is never held whole. Each is a mapping of `create_interview`'s arguments
      (``study_id`` and, as wanted, ``title``, ``metadata``, ``language``,
      ``idempotency_key``, ``timeout``, ``max_retries``, ``deadline``).
    - `concurrency` calls run at once (default 16). `max_rate` caps requests per second,
      retries included: every attempt waits for its turn before it is sent, so no second
      holds more than `max_rate` (plus one) requests. Below that cap, the `Pacer` sets the
      pace from the API's answers.
    - `idempotency_key`: a function giving each item's key (for example from its
      participant id, or `content_key`), so that a batch run again after a crash does not
      create twice what a server that honours the key created the first time. Without
      it, an item's own ``idempotency_key`` or a random one is used.
    - Results come as each call ends, in no set order, each with its item and index.
      Whatever one item's call raises (a refused argument, a `VersiveError`) is that
      item's `InterviewResult.error`; the batch goes on. An error from the input itself
      ends the batch.
    - Leaving the ``async with`` block, by the end of the results, a ``break``, an error
      or a cancellation, cancels the calls still running and waits for them: no task is
      left behind. A call cancelled mid-flight may have reached the API already; the
      idempotency key is what makes running the batch again safe.

    `pacer` lets you pass (and watch) the `Pacer`; by default one is made with `max_rate`.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        client: VersiveClient,
        items: Items,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_rate: float | None = None,
        idempotency_key: Callable[[Mapping[str, Any]], str] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        """Check the options; nothing is read or sent before the ``async with``."""
        given: object = concurrency  # checked as given, whatever the annotation says
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ValueError(f"concurrency must be an int >= 1, got {given!r}")
        if idempotency_key is not None and not callable(idempotency_key):
            raise TypeError(f"idempotency_key must be a function of an item, got {type(idempotency_key).__name__}")
        if pacer is not None and max_rate is not None:
            raise ValueError("pass max_rate or pacer (with its own max_rate), not both")
        if pacer is not None and not isinstance(pacer, Pacer):
            raise TypeError(f"pacer must be a Pacer, got {type(pacer).__name__}")
        if isinstance(items, Iterable):
            self._sync: Iterator[Mapping[str, Any]] | None = iter(items)
            self._async: AsyncIterator[Mapping[str, Any]] | None = None
        elif isinstance(items, AsyncIterable):
            self._sync, self._async = None, aiter(items)
        else:
            raise TypeError(f"items must be an iterable or async iterable of mappings, got {type(items).__name__}")
        self.pacer = pacer if pacer is not None else Pacer(max_rate)
        """The pace of this batch; its `Pacer.rate` says how fast it may go now."""
        self._parent = client
        self._concurrency = concurrency
        self._key = idempotency_key
        self._taken = 0
        self._entered = False

    async def __aenter__(self) -> Self:
        """Start the workers; iterate over the run for the results."""
        import anyio  # noqa: PLC0415 - only for bulk calls

        if self._entered:
            raise RuntimeError("a BulkRun runs once; make another with create_interviews(...)")
        self._entered = True
        self._client = self._parent.with_options(on_call=[self.pacer])
        self._lock = anyio.Lock()
        send: MemoryObjectSendStream[InterviewResult]
        send, self._results = anyio.create_memory_object_stream[InterviewResult](self._concurrency)
        self._group: anyio.abc.TaskGroup = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._run, send)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Cancel the calls still running, and wait for them."""
        self._group.cancel_scope.cancel()
        try:
            await self._group.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            # The one way a worker fails: the input itself raised. Say it plainly, not in nested groups.
            inner: BaseException = group
            while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
                inner = inner.exceptions[0]
            if isinstance(inner, BaseExceptionGroup):
                raise
            raise inner from None
        finally:
            self._results.close()
            await self._client.aclose()

    def __aiter__(self) -> BulkRun:
        """The results, as each call ends."""
        return self

    async def __anext__(self) -> InterviewResult:
        """The next result to end."""
        import anyio  # noqa: PLC0415 - only for bulk calls

        try:
            return await self._results.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def _run(self, send: MemoryObjectSendStream[InterviewResult]) -> None:
        import anyio  # noqa: PLC0415 - only for bulk calls

        async with send, anyio.create_task_group() as workers:
            for _ in range(self._concurrency):
                workers.start_soon(self._work, send)

    async def _work(self, send: MemoryObjectSendStream[InterviewResult]) -> None:
        while (taken := await self._take()) is not None:
            index, item = taken
            await send.send(await self._create(index, item))

    async def _take(self) -> tuple[int, Mapping[str, Any]] | None:
        """The next item and its index, or None at the end; one worker at a time."""
        if self._sync is not None:
            # A plain iterator never awaits, so no two workers are ever inside it.
            item = next(self._sync, _END)
        else:
            assert self._async is not None  # noqa: S101 - one of the two is set
            async with self._lock:
                item = await anext(self._async, _END)
        if item is _END:
            return None
        index, self._taken = self._taken, self._taken + 1
        return index, item

    async def _create(self, index: int, item: Mapping[str, Any]) -> InterviewResult:
        try:
            interview = await self._client.create_interview(**self._arguments(item))
        except Exception as exc:  # noqa: BLE001 - one item's failure is its result; the batch goes on
            return InterviewResult(index, item, error=exc)
        return InterviewResult(index, item, interview=interview)

    def _arguments(self, item: object) -> dict[str, Any]:
        if not isinstance(item, Mapping):
            raise TypeError(f"an item must be a mapping of create_interview's arguments, got {type(item).__name__}")
        unknown = sorted(str(name) for name in item if name not in ARGUMENTS)
        if unknown:
            raise TypeError(f"an item has {', '.join(unknown)}, which create_interview does not take")
        arguments = dict(item)
        if self._key is not None and "idempotency_key" not in arguments:
            arguments["idempotency_key"] = self._key(item)
        return arguments


# The pace: see Pacer's docstring for what each number is for.
CONGESTION_SHARE = 0.05
CONGESTION_WINDOW = 200
CONGESTION_MIN_REFUSALS = 5
BACK_OFF = 0.9
RECOVERY_SECONDS = 2.0
PROBE = 0.05
MIN_RATE = 0.5
COARSE_SECONDS = 1.0
EPOCH_TIMES = 1e9  # a reset this large is a point in time, not a number of seconds
# Bounds on what headers can make of the pace: a stated quota of 0 (or a window of a
# nanosecond) must neither stop a batch for good nor divide by zero, and a reset or
# Retry-After of a year must not pause it for a year (a call fails after 60 s of Retry-After).
MAX_RATE = 1e6
MAX_PAUSE = 60.0


class Pacer(CallObserver):
    """The pace of a batch in requests per second, every attempt counted (retries too), set by the API's answers.

    It follows TCP's congestion control as CUBIC shapes it (the curve the AWS SDKs'
    adaptive retry mode uses: back off on congestion, climb back along a concave curve to
    the rate that last held, then probe above it), with changes for an HTTP API:

    - **Unpaced until told otherwise.** Against a server with room, a batch runs at the
      speed of its `concurrency`. A pace starts with a congestion signal, or with a rate
      limit the server states, and ends (unpaced again) once it is twice what the batch
      sends.
    - **Congestion, not each 429.** The pace slows when more than 5% of the last 200
      attempts were refused with a 429 (5 at least), counting only attempts *sent* after
      the last slowdown: a burst of 429s answered to requests already in flight is one
      signal, not many, and a server that refuses a request now and then (a 429 with
      ``Retry-After: 0`` to 2% of requests, at random) seldom slows the batch, and then
      by a tenth for a second or two. Google's SRE book throttles clients by the same
      share of refusals, but tolerates up to half of the requests refused; this aims
      under the limit instead.
    - **Back off to what the server took.** The new pace is 0.9 times the rate the server
      accepted over the last second (its capacity, measured), not half the old pace: one
      step lands under the limit, where halving would take several and overshoot below.
    - **Recover within seconds.** Back to that capacity in 2 s along a concave curve
      (fast at first, gently near the rate that last held), then probing above it, slowly
      at first (+5% after a second, +20% after two): when the limit rises, or refusals
      were a passing burst, the pace climbs back.
    - **Rate-limit headers, when the server sends them.** A policy
      (``RateLimit-Policy: ...;q=200;w=1``, or ``RateLimit-Limit`` with a window) caps the
      pace at quota/window at once, before any refusal, for as long as the server states
      it: an answer that states no limit lifts it. ``remaining`` 0 with a reset longer than
      a second pauses the batch until the reset (``RateLimit``, ``RateLimit-*`` and
      ``X-RateLimit-*`` are read). Whatever the headers say (a quota of 0, a window of a
      nanosecond, a reset in a year, garbage), the pace stays between 0.5 and a million
      requests a second and no pause lasts more than 60 s.
    - **Retry-After.** The refused request waits as asked (the client does that). The
      batch pauses until then only when the server asks for more than a second: a
      whole-second ``Retry-After`` from a server limiting per second overstates the wait
      for everyone else (its next slot frees in milliseconds), and pausing the batch a
      second at each refusal would halve its goodput. Slowing down is enough there.

    `max_rate` caps the pace whatever the server says. `clock` and `sleep` are for tests.

    It is a `CallObserver`: ``VersiveClient(on_call=[pacer])`` (or ``with_options``) paces
    every attempt of that client's calls, as a batch does.

    .. versionadded:: 0.2.0
    .. versionchanged:: 0.5.0 an ``on_call`` observer: every attempt waits for its turn, retries too.
    """

    def __init__(
        self,
        max_rate: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        """A pace capped at `max_rate` requests per second (None: no cap of yours)."""
        if max_rate is not None and (isinstance(max_rate, bool) or not isinstance(max_rate, int | float)):
            raise TypeError(f"max_rate must be a number of requests per second or None, got {type(max_rate).__name__}")
        if max_rate is not None and not max_rate > 0:
            raise ValueError(f"max_rate must be > 0 requests per second, got {max_rate!r}")
        self.max_rate = max_rate
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf  # when the next request may go
        self._paused_until = -math.inf
        self._server_cap: float | None = None
        self._capacity: float | None = None  # what the server accepted when it last refused; None: unpaced
        self._floor = 0.0  # the pace set then
        self._slowed_at = -math.inf
        self._recent: deque[tuple[float, bool]] = deque()  # (ended at, accepted) over the last second
        self._first_seen: float | None = None
        self._since_slowdown: deque[bool] = deque(maxlen=CONGESTION_WINDOW)  # refused?
        self.slowdowns = 0
        """How many times the pace slowed for congestion."""
        self.refusals = 0
        """How many attempts were answered 429."""
        self.requests = 0
        """How many attempts were made (retries included)."""

    @property
    def rate(self) -> float | None:
        """Requests per second allowed now; None when unpaced."""
        limits = [limit for limit in (self._adaptive(), self._server_cap, self.max_rate) if limit is not None]
        return min(limits) if limits else None

    def _adaptive(self) -> float | None:
        if self._capacity is None:
            return None
        since = self._clock() - self._slowed_at
        if since < RECOVERY_SECONDS:  # concave: fast at first, gently towards the capacity
            return self._capacity - (self._capacity - self._floor) * (1.0 - since / RECOVERY_SECONDS) ** 3
        return self._capacity * (1.0 + PROBE * (since - RECOVERY_SECONDS) ** 2)  # convex: probing above it

    def __call__(self, call: Call) -> Pacer:  # noqa: ARG002 - every call is paced alike
        """Watch `call`: an ``on_call`` function."""
        return self

    async def wait_turn(self, number: int = 1) -> None:  # noqa: ARG002 - a retry takes its turn as any attempt
        """Wait until the pace allows one more request (every attempt, `number` 1 or a retry)."""
        now = self._clock()
        start = max(now, self._paused_until)
        rate = self.rate
        if rate is not None:
            start = max(start, self._next)
            self._next = start + 1.0 / rate
        if start > now:
            await self._wait(start - now)

    async def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
            return
        import anyio  # noqa: PLC0415 - only when paced

        await anyio.sleep(seconds)

    def observe(self, attempt: Attempt) -> None:
        """Count the attempt, and read what its answer says of the pace (also usable as an ``on_attempt`` hook)."""
        now = self._clock()
        refused = attempt.status_code == 429  # noqa: PLR2004 - Too Many Requests
        self._count(attempt, now)
        if attempt.headers is not None:
            self._read_limits(attempt.headers, now)
        if refused and attempt.retry_after is not None and attempt.retry_after > COARSE_SECONDS:
            self._paused_until = max(self._paused_until, now + min(attempt.retry_after, MAX_PAUSE))
        if now - attempt.elapsed >= self._slowed_at:  # sent after the last slowdown
            self._since_slowdown.append(refused)
            if refused and self._congested():
                self._slow_down(now)
        if self._capacity is not None and now - self._slowed_at > RECOVERY_SECONDS:
            sent = len(self._recent) / self._seen_for(now)
            if (self._adaptive() or 0.0) > 2.0 * sent:  # the pace no longer binds: unpaced again
                self._capacity = None

    def after_attempt(self, attempt: Attempt) -> None:
        """What a call observer is told after each attempt: `observe`."""
        self.observe(attempt)

    def _count(self, attempt: Attempt, now: float) -> None:
        """Count the attempt in the totals and in the last second."""
        self.requests += 1
        self.refusals += attempt.status_code == 429  # noqa: PLR2004 - Too Many Requests
        if self._first_seen is None:
            self._first_seen = now - attempt.elapsed
        accepted = attempt.status_code is not None and 200 <= attempt.status_code < 300  # noqa: PLR2004
        self._recent.append((now, accepted))
        while self._recent and self._recent[0][0] < now - 1.0:
            self._recent.popleft()

    def _seen_for(self, now: float) -> float:
        """Seconds the last-second counts cover: one, or less early in the batch (never under 0.1)."""
        return min(1.0, max(now - (self._first_seen if self._first_seen is not None else now), 0.1))

    def _congested(self) -> bool:
        refusals = sum(self._since_slowdown)
        return refusals >= CONGESTION_MIN_REFUSALS and refusals > CONGESTION_SHARE * len(self._since_slowdown)

    def _slow_down(self, now: float) -> None:
        seen_for = self._seen_for(now)
        accepted = sum(1 for _, ok in self._recent if ok) / seen_for
        rate = self.rate
        current = rate if rate is not None else len(self._recent) / seen_for
        self._capacity = max(accepted, MIN_RATE)
        self._floor = max(MIN_RATE, min(current, self._capacity) * BACK_OFF)
        self._slowed_at = now
        self._since_slowdown.clear()
        self.slowdowns += 1

    def _read_limits(self, headers: Mapping[str, str], now: float) -> None:
        limits = rate_limits(headers)
        self._server_cap = limits.per_second  # stated on this answer, or no longer stated
        if limits.remaining == 0 and limits.reset is not None and limits.reset > COARSE_SECONDS:
            self._paused_until = max(self._paused_until, now + min(limits.reset, MAX_PAUSE))


@frozen
class RateLimits:
    """What a response's rate-limit headers say: the quota per second, the requests left, seconds to the reset.

    `per_second` is within 0.5 and a million whatever the headers say (a quota of 0 is 0.5).
    """

    per_second: float | None = None
    remaining: int | None = None
    reset: float | None = None


def rate_limits(headers: Mapping[str, str]) -> RateLimits:
    """What `headers` say of the rate limit.

    Read: ``RateLimit-Policy`` and ``RateLimit`` (the IETF httpapi draft's, structured
    fields or not), ``RateLimit-Limit/-Remaining/-Reset`` and ``X-RateLimit-*``. A limit
    without a window (``X-RateLimit-Limit: 5000`` may be per hour) sets no quota per
    second; its remaining and reset still count.
    """
    policy = _parameters(headers.get("ratelimit-policy"))
    current = _parameters(headers.get("ratelimit"))
    quota = policy.get("q", policy.get("")) or current.get("limit") or _number(headers.get("ratelimit-limit"))
    window = policy.get("w") or current.get("w")
    remaining = current.get("r", current.get("remaining"))
    reset = current.get("t", current.get("reset"))
    for prefix in ("ratelimit-", "x-ratelimit-"):
        remaining = remaining if remaining is not None else _number(headers.get(prefix + "remaining"))
        reset = reset if reset is not None else _number(headers.get(prefix + "reset"))
    if reset is not None and reset > EPOCH_TIMES:  # an epoch time (as GitHub sends), not seconds from now
        reset -= time.time()
    per_second = min(max(quota / window, MIN_RATE), MAX_RATE) if quota is not None and window else None
    return RateLimits(per_second, None if remaining is None else int(remaining), reset)


def _parameters(value: str | None) -> dict[str, float]:
    """``"default";q=200;w=1`` or ``limit=200, remaining=5, reset=1`` or ``200;w=1`` as numbers by name ("" unnamed)."""
    found: dict[str, float] = {}
    for part in (value or "").replace(",", ";").split(";"):
        name, _, number = part.strip().rpartition("=")
        parsed = _number(number)
        if parsed is not None:
            found.setdefault(name.strip().lower(), parsed)
    return found


def _number(value: str | None) -> float | None:
    try:
        number = float((value or "").strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
