"""Limits that hold: a rate cap on a real clock, pacing no header can break, Retry-After of 0, and more.

Also the retry budget under 429s, and a user's own httpx client keeping its settings.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from conftest import KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bulk import Clock
from test_cli import versive, write_participants

from versive_client import APITimeoutError, Attempt, RateLimitError, RetryPolicy, VersiveClient
from versive_client._retry import parse_retry_after
from versive_client._transport import Options
from versive_client.bulk import MAX_PAUSE, MAX_RATE, MIN_RATE, Pacer, rate_limits
from versive_client.testing import FakeVersive, faults
from versive_client.testing._fake import Reply

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence
    from pathlib import Path

BASE_URL = "https://api.versive.test"


class Arrivals(FakeVersive):
    """A fake that notes when each request arrived (real clock)."""

    def __init__(self) -> None:
        super().__init__(api_key=KEY)
        self.arrivals: list[float] = []
        self._arrivals_lock = threading.Lock()

    def handle(self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> Reply:
        with self._arrivals_lock:
            self.arrivals.append(time.monotonic())
        return self.answer(method, target, headers, body)

    def answer(self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> Reply:
        """The fake's own answer."""
        return super().handle(method, target, headers, body)


class FirstAttemptsRefused(Arrivals):
    """A fake that answers every first attempt 503 and notes when each request arrived (real clock)."""

    def answer(self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> Reply:
        """503 for a first attempt, else the fake's own answer."""
        if {name.lower(): value for name, value in headers}.get("x-versive-retry-count") == "0":
            return Reply(503, (("content-type", "application/json"),), b'{"detail":"busy"}')
        return super().answer(method, target, headers, body)


def busiest_second(times: list[float]) -> int:
    """The most requests any one-second window holds."""
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
@pytest.mark.asyncio
async def test_max_rate_caps_every_attempt_on_a_real_clock(backend: str) -> None:
    """max_rate=10 with every first attempt refused (503): no second at the server holds more than 11 requests.

    Retries take their turn before they are sent, as first attempts do.
    """
    fake = FirstAttemptsRefused()
    rows = [{"study_id": "study_1", "title": f"row {i}"} for i in range(12)]
    policy = RetryPolicy(backoff_initial=0.01, backoff_max=0.02)
    async with fake.serve() as base_url:
        client = VersiveClient(KEY, base_url=base_url, http_backend=backend, retry_policy=policy, telemetry=False)
        async with client, client.create_interviews(rows, concurrency=16, max_rate=10) as results:
            outcomes = [result async for result in results]
    assert all(result.ok for result in outcomes)
    assert len(fake.arrivals) == 24, "each row: a refused first attempt and its retry"
    assert busiest_second(fake.arrivals) <= 11
    took = max(fake.arrivals) - min(fake.arrivals)
    assert took >= 2.2, f"24 requests at 10 a second take 2.3 s, not {took:.2f} s"


def test_the_commands_rate_caps_every_attempt_on_a_real_clock(tmp_path: Path) -> None:
    """`create-batch --rate 10`, every first attempt refused: at most 11 requests in any second at the server."""
    fake = FirstAttemptsRefused()
    participants = write_participants(tmp_path / "participants.csv", 12)
    with fake.serve_in_thread() as base_url:
        env = {name: value for name, value in os.environ.items() if not name.startswith("VERSIVE_")}
        env.update(VERSIVE_API_KEY=KEY, VERSIVE_BASE_URL=base_url)
        out = tmp_path / "results.csv"
        result = versive("interviews", "create-batch", participants, "--study-id", "st", "--out", out, "--rate", "10",
                         env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "created 12, failed 0" in result.stdout
    assert len(fake.arrivals) == 24
    assert busiest_second(fake.arrivals) <= 11


def test_the_busiest_second_counts_a_window_not_a_calendar_second() -> None:
    """The measure the cap test relies on: ten requests in 0.2 s around a second's boundary are one busy window."""
    assert busiest_second([0.9 + 0.02 * i for i in range(10)] + [5.0]) == 10
    assert busiest_second([0.0, 1.0, 2.0]) == 1


def attempt(status: int | None, headers: dict[str, str] | None, retry_after: float | None = None) -> Attempt:
    """A first attempt's report, as the pacer is told it."""
    return Attempt("POST", f"{BASE_URL}/api/v1/interviews", 1, status, None, None, retry_after, "k", 0.01, headers)


HEADER_NAMES = [
    "ratelimit-policy",
    "ratelimit",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
]
NUMBERS = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-0", "1e308", "1e-308", "nan", "inf", "-inf", "", " ", "1,5", "2.5e9", "9" * 40]),
)
VALUES = st.one_of(
    NUMBERS,
    st.text(max_size=30),
    st.builds(lambda q, w: f'"default";q={q};w={w}', NUMBERS, NUMBERS),
    st.builds(lambda q, w: f"{q};w={w}", NUMBERS, NUMBERS),
    st.builds(lambda limit, r, t: f"limit={limit}, remaining={r}, reset={t}", NUMBERS, NUMBERS, NUMBERS),
    st.builds(lambda r, t: f'"default";r={r};t={t}', NUMBERS, NUMBERS),
)
HEADERS = st.dictionaries(st.sampled_from(HEADER_NAMES), VALUES, max_size=len(HEADER_NAMES))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers=st.lists(st.tuples(st.sampled_from([200, 429, 503, None]), HEADERS, NUMBERS), max_size=8))
@pytest.mark.asyncio
async def test_no_header_values_break_the_pace(answers: list[tuple[int | None, dict[str, str], str]]) -> None:
    """Zero, negative, huge, garbage, several dialects at once: a positive, bounded pace; no pause is long."""
    clock = Clock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    for status, headers, retry_after in answers:
        pacer.observe(attempt(status, headers if status is not None else None, parse_retry_after(retry_after)))
        rate = pacer.rate
        assert rate is None or MIN_RATE <= rate <= MAX_RATE * (1 + 1e-9)
        before = clock.now
        await pacer.wait_turn()
        assert 0 <= clock.now - before <= MAX_PAUSE + 1 / MIN_RATE
        limits = rate_limits(headers)
        assert limits.per_second is None or MIN_RATE <= limits.per_second <= MAX_RATE
        assert limits.reset is None or math.isfinite(limits.reset)


@pytest.mark.asyncio
async def test_a_quota_of_zero_slows_the_batch_without_dividing_by_zero() -> None:
    """RateLimit-Limit: 0 with a policy window: the slowest pace, not a ZeroDivisionError."""
    clock = Clock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    pacer.observe(attempt(200, {"ratelimit-limit": "0", "ratelimit-policy": "0;w=1"}))
    assert pacer.rate == MIN_RATE
    await pacer.wait_turn()
    await pacer.wait_turn()
    assert clock.slept == [1 / MIN_RATE]


@pytest.mark.asyncio
async def test_a_stated_limit_lasts_as_long_as_the_server_states_it() -> None:
    """A policy caps the pace while answers state it; the first answer that states none lifts the cap."""
    clock = Clock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    pacer.observe(attempt(200, {"ratelimit-policy": "5;w=1"}))
    pacer.observe(attempt(200, {"ratelimit-policy": "5;w=1", "content-type": "application/json"}))
    assert pacer.rate == 5.0
    pacer.observe(attempt(503, None))  # no answer: says nothing either way
    assert pacer.rate == 5.0
    pacer.observe(attempt(200, {"content-type": "application/json"}))
    assert pacer.rate is None


@pytest.mark.asyncio
async def test_a_reset_or_retry_after_of_a_year_pauses_the_batch_a_minute_at_most() -> None:
    """The server's word is bounded: a batch is never parked for a year by one header."""
    clock = Clock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    pacer.observe(attempt(429, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "31536000"}, 31536000.0))
    await pacer.wait_turn()
    assert clock.slept == [MAX_PAUSE]


@settings(max_examples=500)
@given(st.one_of(st.none(), st.text(max_size=40), NUMBERS, st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y"))))
def test_retry_after_reads_as_none_or_seconds(value: str | None) -> None:
    """Whatever the header holds: None, or a number of seconds, never negative nor NaN, never an exception."""
    seconds = parse_retry_after(value, now=1_700_000_000.0)
    assert seconds is None or ((math.isfinite(seconds) or seconds == math.inf) and seconds >= 0)


@settings(max_examples=300)
@given(retry=st.integers(1, 50), retry_after=st.one_of(st.none(), st.floats(allow_nan=False, max_value=60.0)))
def test_the_wait_before_a_retry_is_never_zero_nor_unbounded(retry: int, retry_after: float | None) -> None:
    """A Retry-After over 0 is waited as asked; 0, negative or none gets the jittered backoff (0.375 s to 8 s)."""
    import random  # noqa: PLC0415

    wait = RetryPolicy().delay(retry, retry_after, random.Random(retry))
    if retry_after is not None and retry_after > 0:
        assert wait == retry_after
    else:
        assert 0.375 <= wait <= 8.0


OPTION_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.builds(httpx.Timeout, st.floats(0.01, 100)),
)


@settings(max_examples=300)
@given(timeout=OPTION_VALUES, max_retries=OPTION_VALUES, deadline=OPTION_VALUES)
def test_options_are_either_taken_or_refused_by_name(timeout: Any, max_retries: Any, deadline: Any) -> None:
    """Any value for any option: a valid Options, or a TypeError/ValueError that names the option."""
    try:
        options = Options(timeout=timeout, max_retries=max_retries, deadline=deadline, retry_policy=None)
    except (TypeError, ValueError) as exc:
        named: str | None = str(exc).split(" ", 1)[0]
    else:
        named = None
        assert options.max_retries >= 0
        assert options.deadline is None or options.deadline > 0
    assert named in {None, "timeout", "max_retries", "deadline"}


class RecordingSleep:
    """A sleep that notes each wait and does not wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.mark.asyncio
async def test_retry_after_zero_spreads_the_retries() -> None:
    """Twenty calls refused at once with Retry-After: 0 do not all come back at the same instant."""
    fake = FakeVersive(api_key=KEY)
    fake.faults.queue(*[faults.Status(429, retry_after=0), None] * 20)
    sleep = RecordingSleep()
    async with VersiveClient(KEY, base_url=BASE_URL, transport=fake.transport(), sleep=sleep) as client:
        for i in range(20):
            await client.create_interview(study_id="study_1", title=f"call {i}")
    assert len(sleep.waits) == 20
    assert all(0.375 <= wait <= 0.5 for wait in sleep.waits), "the first retry's jittered backoff"
    assert len(set(sleep.waits)) == 20


@pytest.mark.asyncio
async def test_a_429_retry_costs_the_retry_budget_nothing() -> None:
    """The budget is for failures: rate limiting is paced, not budgeted; a 503's retry costs as before."""
    fake = FakeVersive(api_key=KEY)
    async with VersiveClient(
        KEY, base_url=BASE_URL, transport=fake.transport(), retry_policy=RetryPolicy.no_wait(), max_retries=3
    ) as client:
        fake.faults.queue(*[faults.Status(429, retry_after=1)] * 3)
        await client.create_interview(study_id="study_1")
        assert client.retry_budget.tokens == 500
        fake.faults.queue(*[faults.Status(429)] * 4)
        with pytest.raises(RateLimitError):
            await client.create_interview(study_id="study_1")
        assert client.retry_budget.tokens == 500
        fake.faults.queue(faults.Status(503))
        await client.create_interview(study_id="study_1")
        assert client.retry_budget.tokens == 496  # 5 for the retry, 1 back for its success


@pytest.mark.asyncio
async def test_a_rate_limited_batch_leaves_the_budget_to_the_clients_other_calls() -> None:
    """A batch whose every row is refused twice with 429 before it goes through: the budget is untouched.

    (120 retries: at 5 tokens each they would have cost the 500-token budget all it holds.)
    """
    fake = FakeVersive(api_key=KEY)
    fake.faults.queue(*[faults.Status(429, retry_after=0), faults.Status(429), None] * 60)
    rows = [{"study_id": "study_1", "title": f"row {i}"} for i in range(60)]
    async with VersiveClient(
        KEY, base_url=BASE_URL, transport=fake.transport(), retry_policy=RetryPolicy.no_wait(), max_retries=5
    ) as client:
        pacer = Pacer(sleep=RecordingSleep())  # paced as usual, without the waits
        async with client.create_interviews(rows, concurrency=1, pacer=pacer) as results:
            outcomes = [result async for result in results]
        assert all(result.ok for result in outcomes)
        assert (pacer.requests, pacer.refusals) == (180, 120)
        assert client.retry_budget.tokens == 500


@pytest.mark.asyncio
async def test_your_http_client_keeps_its_headers_params_timeout_auth_and_hooks() -> None:
    """http_client=: what the AsyncClient was made with applies to every call, beside the SDK's own."""
    fake = FakeVersive(api_key=KEY)
    hooked: list[httpx.Request] = []

    class Signing(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
            request.headers["x-signed"] = "yes"
            yield request

    async def hook(request: httpx.Request) -> None:
        hooked.append(request)

    async with (
        httpx.AsyncClient(
            transport=fake.transport(),
            headers={"x-team": "research"},
            params={"tenant": "acme"},
            timeout=httpx.Timeout(7.0),
            auth=Signing(),
            event_hooks={"request": [hook]},
        ) as http,
        VersiveClient(KEY, base_url=BASE_URL, http_client=http) as client,
    ):
        await client.create_interview(study_id="study_1", title="kept")
        await client.with_options(timeout=3.0).studies.list()
    first, second = fake.requests
    for sent in (first, second):
        assert sent.headers["x-team"] == "research"
        assert sent.headers["x-signed"] == "yes"
        assert sent.query["tenant"] == ["acme"]
        assert sent.headers["authorization"] == "[redacted]"  # the SDK's key went too (the fake checked it)
        assert sent.headers["user-agent"].startswith("versive-client/")
    assert first.body == {"study_id": "study_1", "title": "kept"}
    assert [request.extensions["timeout"]["read"] for request in hooked] == [7.0, 3.0]
    assert json.loads(hooked[0].content) == first.body


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
async def test_max_rate_holds_when_calls_queue_for_a_connection(backend: str) -> None:
    """More workers than connections, the first answers slow: the calls queued for a connection do not burst.

    Each takes its turn once it holds a connection, not before it waits for one.
    """
    fake = Arrivals()
    fake.faults.queue(faults.Delay(1.5), faults.Delay(1.5))
    rows = [{"study_id": "study_1", "title": f"row {i}"} for i in range(30)]
    async with fake.serve() as base_url:
        client = VersiveClient(KEY, base_url=base_url, http_backend=backend, max_connections=2, telemetry=False)
        async with client, client.create_interviews(rows, concurrency=32, max_rate=10) as results:
            outcomes = [result async for result in results]
    assert all(result.ok for result in outcomes)
    assert busiest_second(fake.arrivals) <= 11


@pytest.mark.asyncio
async def test_a_calls_deadline_bounds_its_wait_for_a_turn() -> None:
    """A paced call whose turn comes after its deadline fails at the deadline, without being sent."""
    fake = FakeVersive(api_key=KEY)
    pacer = Pacer(max_rate=1)
    async with VersiveClient(
        KEY, base_url=BASE_URL, transport=fake.transport(), on_call=[pacer], deadline=1.5, telemetry=False
    ) as client:
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(client.create_interview(study_id="study_1") for _ in range(4)), return_exceptions=True
        )
        took = time.monotonic() - started
    failed = [outcome for outcome in outcomes if isinstance(outcome, APITimeoutError)]
    assert len(failed) == 2, outcomes
    assert all("ran out of its deadline" in str(error) and error.attempts == 1 for error in failed)
    assert len(fake.requests) == 2
    assert took < 2.9, "the calls past their deadline gave up at it (the last turn would come at 3 s)"
