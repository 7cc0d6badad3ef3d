"""versive_client.bulk: many interviews at once, read lazily, every item answered, paced by what the API says."""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest
from conftest import KEY, PATH, Harness

from versive_client import Attempt, ConflictError, VersiveClient
from versive_client.bulk import BulkRun, Pacer, content_key, rate_limits
from versive_client.testing import FakeVersive, RateLimit, faults

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping

pytestmark = pytest.mark.asyncio


def items(count: int) -> list[dict[str, Any]]:
    """`count` items, each for its own participant."""
    return [{"study_id": "s", "metadata": {"participant_id": f"p-{n}"}} for n in range(count)]


async def test_every_item_ends_in_a_result_tied_to_it(harness: Harness) -> None:
    """Successes, a 409 and refused items alike: one result each, with its index and its item; the batch goes on."""
    harness.fake.faults.queue(faults.Status(409))
    given: list[Any] = [*items(30), {"study_id": " "}, {"studyid": "s"}, "not a mapping"]
    async with harness.client().create_interviews(given, concurrency=4) as results:
        outcomes = [result async for result in results]

    assert sorted(result.index for result in outcomes) == list(range(33))
    assert all(result.input is given[result.index] for result in outcomes)
    errors = {result.index: result.error for result in outcomes if not result.ok}
    assert len([error for error in errors.values() if isinstance(error, ConflictError)]) == 1
    assert str(errors[30]) == "study_id must not be empty"
    assert str(errors[31]) == "an item has studyid, which create_interview does not take"
    assert str(errors[32]) == "an item must be a mapping of create_interview's arguments, got str"
    assert len(harness.fake.interviews) == 29
    assert {result.interview.link for result in outcomes if result.interview} == {
        interview.link for interview in harness.fake.interviews
    }


async def test_items_are_read_only_as_workers_are_free(harness: Harness) -> None:
    """A generator of a million items, 50 results read, then a break: about 50 items were read, not a million."""
    read = 0

    def endless() -> Iterator[Mapping[str, Any]]:
        nonlocal read
        for n in range(1_000_000):
            read += 1
            yield {"study_id": "s", "metadata": {"n": n}}

    async with harness.client().create_interviews(endless(), concurrency=8) as results:
        seen = 0
        async for _ in results:
            seen += 1
            if seen == 50:
                break
    assert 50 <= read <= 50 + 8 + 8 + 1, "what was read: the results taken, in flight, and waiting to be taken"


async def test_an_async_iterable_of_items(harness: Harness) -> None:
    """Items can come from an async generator (a database cursor, say), read by one worker at a time."""

    async def rows() -> AsyncIterator[Mapping[str, Any]]:
        for item in items(20):
            await anyio.lowlevel.checkpoint()
            yield item

    async with harness.client().create_interviews(rows(), concurrency=5) as results:
        outcomes = [result async for result in results]
    assert sorted(result.index for result in outcomes) == list(range(20))
    assert all(result.ok for result in outcomes)
    assert len(harness.fake.interviews) == 20


@pytest.mark.parametrize("leave", ["break", "error", "cancel"])
async def test_leaving_early_cancels_every_call_and_leaves_no_task(leave: str) -> None:
    """A break, an error or a cancellation in the block: the calls in flight end, and no task is left running."""
    fake = FakeVersive(api_key=KEY)
    fake.faults.add_rule(faults.Delay(30.0), probability=1.0)
    before = asyncio.all_tasks()

    async def batch() -> None:
        async with (
            VersiveClient(KEY, base_url="https://x.test", transport=fake.transport()) as client,
            client.create_interviews(items(100), concurrency=8) as results,
        ):
            while len(fake.requests) < 8:  # noqa: ASYNC110 - the calls are in flight
                await anyio.sleep(0.01)
            if leave == "error":
                raise LookupError("the application failed")
            if leave == "break":
                return
            await results.__anext__()  # waits for a result that never comes, until cancelled

    if leave == "error":
        with pytest.raises(LookupError, match="the application failed"):
            await batch()
    elif leave == "break":
        await batch()
    else:
        task = asyncio.create_task(batch())
        while len(fake.requests) < 8:  # noqa: ASYNC110 - the calls are in flight
            await anyio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert asyncio.all_tasks() == before
    assert len(fake.requests) == 8, "no item was started after the block was left"


async def test_keys_from_the_items_make_a_second_run_create_nothing_new(harness: Harness) -> None:
    """idempotency_key=content_key: the same items run again get back the interviews the first run created."""
    client = harness.client()
    async with client.create_interviews(items(10), idempotency_key=content_key) as results:
        first = {result.index: result.interview.id async for result in results if result.interview}
    async with client.create_interviews(items(10), idempotency_key=content_key) as results:
        second = {result.index: result.interview.id async for result in results if result.interview}
    assert first == second
    assert len(harness.fake.interviews) == 10
    assert content_key(items(1)[0]) == content_key(items(1)[0])
    assert content_key(items(2)[0]) != content_key(items(2)[1])


async def test_the_content_key_covers_everything_the_request_sends() -> None:
    """Any change to what is sent is a new key; how the call is made (timeouts, retries, headers) is not."""
    base: dict[str, Any] = {"study_id": "s", "title": "T", "language": "English", "metadata": {"participant_id": "p"}}
    changed = [
        {**base, "title": "Another"},
        {**base, "language": "German"},
        {**base, "metadata": {"participant_id": "p", "cohort": "B"}},
        {**base, "extra_body": {"new_field": 1}},
        {**base, "extra_query": {"q": "1"}},
        {key: value for key, value in base.items() if key != "title"},  # left out: not sent
        {**base, "title": None},  # sent as null
    ]
    keys = {content_key(item) for item in [base, *changed]}
    assert len(keys) == 1 + len(changed)
    options = {"timeout": 5.0, "max_retries": 0, "deadline": 9.0, "idempotency_key": "k", "extra_headers": {"x": "y"}}
    assert content_key({**base, **options}) == content_key(base)


async def test_an_items_own_key_wins_over_the_derived_one(harness: Harness) -> None:
    """An item that names its idempotency_key keeps it; the function gives the others theirs."""
    given: list[dict[str, Any]] = [
        {"study_id": "s", "idempotency_key": "mine"},
        {"study_id": "s", "metadata": {"x": 1}},
    ]
    async with harness.client().create_interviews(given, idempotency_key=lambda _: "derived") as results:
        assert all([result.ok async for result in results])
    assert sorted(request.idempotency_key or "" for request in harness.fake.requests) == ["derived", "mine"]


async def test_an_error_from_the_input_ends_the_batch_with_that_error(harness: Harness) -> None:
    """The input itself failing (a file cut off, say) is not an item's failure: the batch ends with that error."""

    def broken() -> Iterator[Mapping[str, Any]]:
        yield from items(3)
        raise OSError("the export was cut off")

    async def drain() -> None:
        async with harness.client().create_interviews(broken(), concurrency=2) as results:
            async for _ in results:
                pass

    with pytest.raises(OSError, match="the export was cut off"):
        await drain()


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"concurrency": 0}, ValueError, "concurrency must be an int >= 1, got 0"),
        ({"concurrency": True}, ValueError, "concurrency must be an int >= 1, got True"),
        ({"idempotency_key": "k"}, TypeError, "idempotency_key must be a function of an item, got str"),
        ({"max_rate": 0}, ValueError, "max_rate must be > 0 requests per second, got 0"),
        ({"max_rate": "5"}, TypeError, "max_rate must be a number of requests per second or None, got str"),
        ({"pacer": "fast"}, TypeError, "pacer must be a Pacer, got str"),
        ({"pacer": Pacer(), "max_rate": 5}, ValueError, "pass max_rate or pacer (with its own max_rate), not both"),
    ],
)
async def test_bad_options_are_refused_before_anything_is_read(
    harness: Harness, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Each bad option names itself, when the run is made: nothing read, nothing sent."""
    read: list[int] = []

    def watched() -> Iterator[Mapping[str, Any]]:
        read.append(1)
        yield from items(1)

    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        harness.client().create_interviews(watched(), **options)
    assert read == []
    assert harness.fake.requests == []


async def test_items_that_are_not_iterable_are_refused(harness: Harness) -> None:
    """A single mapping (not a list of them) is refused at once."""
    with pytest.raises(TypeError, match="items must be an iterable or async iterable of mappings, got int"):
        BulkRun(harness.client(), 5)  # type: ignore[arg-type]


async def test_a_run_runs_once(harness: Harness) -> None:
    """Entering the same run twice is refused: its items were read the first time."""
    run = harness.client().create_interviews(items(2))
    async with run as results:
        assert len([result async for result in results]) == 2
    with pytest.raises(RuntimeError, match="a BulkRun runs once"):
        async with run:
            pass


async def test_a_rate_limited_server_is_met_at_its_pace() -> None:
    """Against a limit of 100 requests a second that states nothing: all created, few refused, the pace slowed."""
    fake = FakeVersive(api_key=KEY, rate_limit=RateLimit(100, burst=10, headers=False))
    client = VersiveClient(KEY, base_url="https://x.test", transport=fake.transport(), max_retries=6)
    async with client, client.create_interviews(items(300), concurrency=16) as results:
        outcomes = [result async for result in results]
        pacer = results.pacer
    assert all(result.ok for result in outcomes)
    refused = sum(1 for request in fake.requests if request.status == 429)
    assert refused <= 0.1 * len(fake.requests)
    assert pacer.slowdowns >= 1
    assert pacer.requests == len(fake.requests)
    assert pacer.refusals == refused


async def test_a_server_that_states_its_limit_is_never_refused() -> None:
    """With rate-limit headers, the pace is set from the first answer: no request is refused at all."""
    fake = FakeVersive(api_key=KEY, rate_limit=RateLimit(100, burst=20))
    client = VersiveClient(KEY, base_url="https://x.test", transport=fake.transport())
    async with client, client.create_interviews(items(150), concurrency=8) as results:
        assert all([result.ok async for result in results])
        assert results.pacer.rate == 100
    assert [request.status for request in fake.requests] == [200] * 150


class Clock:
    """A clock for the pacer that moves only when told, or when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def attempt(
    status: int | None,
    *,
    number: int = 1,
    elapsed: float = 0.001,
    retry_after: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> Attempt:
    """An attempt as the client's hooks see it."""
    return Attempt("POST", f"https://x.test{PATH}", number, status, None, None, retry_after, "k", elapsed, headers)


def rate_now(pacer: Pacer) -> float | None:
    """The pacer's rate at this moment (a call: it changes as the clock moves)."""
    return pacer.rate


def paced(clock: Clock, max_rate: float | None = None) -> Pacer:
    """A pacer on `clock`."""
    return Pacer(max_rate, clock=clock, sleep=clock.sleep)


def serve(pacer: Pacer, clock: Clock, per_second: int, seconds: float, status: int = 200) -> None:
    """Feed the pacer `per_second` answers a second with `status`, for `seconds`."""
    for _ in range(int(per_second * seconds)):
        clock.now += 1.0 / per_second
        pacer.observe(attempt(status))


async def test_the_pace_is_free_until_the_server_refuses() -> None:
    """Successes never pace a batch; 2% refused at random (Retry-After: 0) slows it once at most, and little."""
    clock = Clock()
    pacer = paced(clock)
    serve(pacer, clock, 2000, 1.0)
    assert pacer.rate is None
    draw = random.Random(7)
    slowest = 2000.0
    for _ in range(5000):
        clock.now += 0.0005
        pacer.observe(attempt(429 if draw.random() < 0.02 else 200, retry_after=0))
        slowest = min(slowest, rate_now(pacer) or slowest)
    assert pacer.slowdowns <= 1, "a stray run of refusals may slow it once, no more"
    assert slowest >= 0.85 * 2000
    assert pacer.requests == 7000
    assert 70 <= pacer.refusals <= 130


async def test_a_burst_of_refusals_is_one_slowdown_to_under_what_the_server_took() -> None:
    """200 accepted a second, then 40 refusals to requests sent before the slowdown: one slowdown, to 0.9 x 200."""
    clock = Clock()
    pacer = paced(clock)
    serve(pacer, clock, 200, 1.0)
    for _ in range(40):  # answers to requests sent 50 ms ago, all before the slowdown they cause
        clock.now += 0.0001
        pacer.observe(attempt(429, elapsed=0.05))
    assert pacer.slowdowns == 1
    assert pacer.rate == pytest.approx(0.9 * 200, rel=0.05)


async def test_the_pace_climbs_back_within_seconds_then_probes_then_lets_go() -> None:
    """After a slowdown: back at what the server took in 2 s, above it after, and unpaced once it no longer binds."""
    clock = Clock()
    pacer = paced(clock)
    serve(pacer, clock, 200, 1.0)
    for _ in range(12):  # 12 of the last 200 refused: more than 5%
        pacer.observe(attempt(429))
    slowed = pacer.rate
    assert slowed is not None
    clock.now += 1.0
    assert slowed < (pacer.rate or 0) < 200
    clock.now += 1.0
    assert pacer.rate == pytest.approx(200, rel=0.05)
    clock.now += 2.0
    assert pacer.rate == pytest.approx(200 * 1.2, rel=0.05)
    serve(pacer, clock, 100, 1.5)  # the batch now sends far under the pace
    assert pacer.rate is None


async def test_a_long_retry_after_pauses_the_batch_a_short_one_does_not() -> None:
    """Retry-After: 5 on a 429 pauses every worker 5 s; Retry-After: 1 (coarse, per second) only slows it."""
    clock = Clock()
    pacer = paced(clock)
    pacer.observe(attempt(429, retry_after=1))
    await pacer.wait_turn()
    assert clock.slept == []
    pacer.observe(attempt(429, retry_after=5))
    await pacer.wait_turn()
    assert clock.slept == [5.0]


async def test_max_rate_spaces_every_attempt_retries_included() -> None:
    """max_rate=10: an attempt each 0.1 s, a retry taking its turn like a first attempt, before it goes."""
    clock = Clock()
    pacer = paced(clock, max_rate=10)
    for number in (1, 1, 2):  # two first attempts, then a retry
        await pacer.wait_turn(number)
    assert clock.slept == [0.1, 0.1]
    pacer.observe(attempt(503, number=2))  # told of the retry after it went: it has had its turn
    await pacer.wait_turn()
    assert clock.slept == [0.1, 0.1, 0.1]


async def test_stated_limits_cap_the_pace_and_an_empty_quota_pauses_it() -> None:
    """A policy caps the pace at once; remaining 0 with a reset over a second pauses the batch until the reset."""
    clock = Clock()
    pacer = paced(clock)
    pacer.observe(attempt(200, headers={"ratelimit-policy": '"default";q=50;w=10'}))
    assert pacer.rate == 5.0
    pacer.observe(attempt(200, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "3"}))
    await pacer.wait_turn()
    assert clock.slept == [3.0]


@pytest.mark.parametrize(
    ("headers", "per_second", "remaining", "reset"),
    [
        ({"ratelimit-policy": '"default";q=200;w=1', "ratelimit": '"default";r=12;t=1'}, 200.0, 12, 1.0),
        ({"ratelimit-policy": "100;w=60", "ratelimit": "limit=100, remaining=0, reset=30"}, 100 / 60, 0, 30.0),
        ({"ratelimit-limit": "10", "ratelimit-remaining": "3", "ratelimit-reset": "2"}, None, 3, 2.0),
        ({"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999", "x-ratelimit-reset": "7"}, None, 4999, 7.0),
        ({"x-ratelimit-remaining": "nonsense", "ratelimit": "r=-1"}, None, None, None),
        ({}, None, None, None),
    ],
)
async def test_rate_limit_headers_in_every_form(
    headers: dict[str, str], per_second: float | None, remaining: int | None, reset: float | None
) -> None:
    """The IETF draft's fields, structured or not, the older RateLimit-* and the common X-RateLimit-*."""
    limits = rate_limits(headers)
    assert limits.per_second == (None if per_second is None else pytest.approx(per_second))
    assert (limits.remaining, limits.reset) == (remaining, reset)


async def test_an_epoch_reset_is_read_as_seconds_from_now() -> None:
    """X-RateLimit-Reset as a point in time (as GitHub sends it) becomes the seconds left until then."""
    reset = rate_limits({"x-ratelimit-reset": str(int(time.time()) + 60)}).reset
    assert reset is not None
    assert 55 <= reset <= 61
