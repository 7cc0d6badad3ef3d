"""The attempt loop: every fault on every backend, both ways in, one idempotency key, a sealed error tree."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from typing import TYPE_CHECKING

import httpx
import pytest
from conftest import KEY, PATH, Harness

from versive_client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    Attempt,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
    VersiveClient,
    VersiveError,
)
from versive_client._transport import Request
from versive_client.testing import FakeVersive, faults

if TYPE_CHECKING:
    from collections.abc import Iterator

    from versive_client.models import Interview
    from versive_client.testing.faults import Fault

pytestmark = pytest.mark.asyncio

# Each fault the fake knows, and what a call meets when the fault answers every attempt:
# the error, and whether the loop retries it (max_retries=2: three attempts) or not (one).
FAULTS: dict[str, tuple[Fault, type[VersiveError], bool]] = {
    "503": (faults.Status(503), InternalServerError, True),
    "429": (faults.Status(429, retry_after=0), RateLimitError, True),
    "400": (faults.Status(400), BadRequestError, False),
    "reset": (faults.Reset(), APIConnectionError, True),
    "html-502": (faults.HtmlBadGateway(), InternalServerError, True),
    "slow": (faults.Delay(1.0), APITimeoutError, True),
    "cut-mid-body": (faults.CloseMidBody(), APIConnectionError, True),
    "truncated-chunked": (faults.TruncatedChunked(), APIConnectionError, True),
    "wrong-content-length": (faults.WrongContentLength(), APIConnectionError, True),
    "broken-gzip-200": (faults.BadContentEncoding(), APIConnectionError, True),
    "broken-gzip-503": (faults.BadContentEncoding(status=503), APIConnectionError, True),
    "not-json": (faults.NotJson(), APIResponseValidationError, False),
    "missing-field": (faults.MissingField("id"), APIResponseValidationError, False),
}
WAYS = ["create_interview", "raw response"]


async def call(client: VersiveClient, way: str) -> Interview:
    """Create an interview through `client`, by create_interview or by its raw response (read apart from sending)."""
    if way == "create_interview":
        return await client.create_interview(study_id="study_1")
    response = await client.with_raw_response.interviews.create(study_id="study_1")
    assert response.status_code == 200
    return response.parse()


def faulty_client(harness: Harness) -> VersiveClient:
    """A client that retries twice without waiting, and gives up reading after 0.2 s."""
    return harness.client(max_retries=2, retry_policy=RetryPolicy.no_wait(), timeout=httpx.Timeout(5.0, read=0.2))


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("kind", list(FAULTS))
async def test_a_fault_on_every_attempt_ends_in_its_error(harness: Harness, kind: str, way: str) -> None:
    """Each fault, on every attempt: its documented error after the documented attempts, under one key."""
    fault, error_class, retried = FAULTS[kind]
    harness.fake.faults.queue(fault, fault, fault)

    with pytest.raises(error_class) as caught:
        await call(faulty_client(harness), way)

    attempts = 3 if retried else 1
    assert caught.value.attempts == attempts
    assert caught.value.url == f"{harness.base_url}{PATH}"
    assert len(harness.fake.requests) == attempts
    keys = {request.idempotency_key for request in harness.fake.requests}
    assert len(keys) == 1
    assert None not in keys
    assert len(harness.fake.interviews) <= 1, "attempts that reached the API made one interview"


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("kind", [kind for kind, (_, _, retried) in FAULTS.items() if retried])
async def test_a_retried_fault_once_then_success(harness: Harness, kind: str, way: str) -> None:
    """A retryable fault on the first attempt: the second succeeds, with the same key, and one interview exists."""
    fault, _, _ = FAULTS[kind]
    harness.fake.faults.queue(fault)

    interview = await call(faulty_client(harness), way)

    assert [i.id for i in harness.fake.interviews] == [interview.id]
    assert [r.headers["x-versive-retry-count"] for r in harness.fake.requests] == ["0", "1"]
    assert len({request.idempotency_key for request in harness.fake.requests}) == 1


@pytest.mark.parametrize("way", WAYS)
async def test_a_final_connection_error_leaks_no_key_in_a_traceback_with_locals(backend: str, way: str) -> None:
    """Nothing listening: the error, its causes, and every frame's locals as error trackers render them hold no key."""
    async with FakeVersive().serve() as base_url:
        pass  # the port is free again once the server stops
    async with VersiveClient(
        KEY, base_url=base_url, http_backend=backend, max_retries=1, retry_policy=RetryPolicy.no_wait()
    ) as client:
        with pytest.raises(APIConnectionError) as caught:
            await call(client, way)
    error = caught.value
    assert error.attempts == 2
    assert error.__cause__ is not None, "the library's exception is kept, for its message"
    rendered = traceback.TracebackException(type(error), error, error.__traceback__, capture_locals=True)
    text = "".join(rendered.format())
    assert "Traceback" in text
    assert "The above exception was the direct cause" in text
    assert KEY not in text
    assert KEY not in repr(vars(error))


@pytest.mark.parametrize("deadline", [None, 30.0])
async def test_cancelling_a_call_is_never_swallowed(harness: Harness, deadline: float | None) -> None:
    """A task cancelled mid-request ends cancelled, with or without a deadline's own scope around the attempt."""
    harness.fake.faults.queue(faults.Delay(5.0))
    client = harness.client(deadline=deadline)
    task = asyncio.create_task(client.create_interview(study_id="study_1"))
    while not harness.fake.requests:  # noqa: ASYNC110 - the fake may run in its own thread
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class _Broken(httpx.AsyncBaseTransport):
    """A transport with a bug: it raises what no HTTP library would."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        raise ZeroDivisionError(f"a bug while sending {request.url.path}")


async def test_any_exception_from_a_transport_becomes_a_connection_error() -> None:
    """The error tree is sealed: a transport's surprise is an APIConnectionError, not retried, its cause kept."""
    broken = _Broken()
    async with VersiveClient("k", base_url="https://x.test", transport=broken, max_retries=3) as client:
        with pytest.raises(APIConnectionError, match=r"failed: ZeroDivisionError: a bug while sending") as caught:
            await client.create_interview(study_id="study_1")
    assert broken.calls == 1
    cause = caught.value.__cause__
    assert isinstance(cause, ZeroDivisionError)
    assert cause.__traceback__ is None, "the cause's frames are dropped: they may hold the request headers"


async def test_a_transport_that_answers_with_a_sync_stream_is_a_connection_error() -> None:
    """A sync stream from an async transport is reported, not hung on."""

    class OnlySync(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"{}"

    class SyncStream(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, stream=OnlySync(), request=request)

    async with VersiveClient("k", base_url="https://x.test", transport=SyncStream()) as client:
        with pytest.raises(APIConnectionError, match="synchronous stream"):
            await client.create_interview(study_id="study_1")


async def test_a_timeout_error_from_a_transport_is_a_timeout() -> None:
    """A transport's own TimeoutError (not httpx's) is an APITimeoutError, retried."""
    calls: list[int] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise TimeoutError

    async with VersiveClient(
        "k", base_url="https://x.test", transport=httpx.MockTransport(handler), retry_policy=RetryPolicy.no_wait()
    ) as client:
        with pytest.raises(APITimeoutError, match="timed out: TimeoutError"):
            await client.create_interview(study_id="study_1")
    assert len(calls) == 3


async def test_an_unsupported_scheme_is_not_retried() -> None:
    """Httpx's local errors (here: a scheme it cannot send) would fail again: one attempt."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.UnsupportedProtocol("no", request=request)

    async with VersiveClient("k", base_url="https://x.test", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(APIConnectionError, match="failed: no"):
            await client.create_interview(study_id="study_1")
    assert calls == [1]


@pytest.mark.parametrize("coding", ["identity", "", "gzip, identity"])
async def test_identity_and_empty_encodings_are_left_alone(coding: str) -> None:
    """Only a real Content-Encoding is decoded; a body httpx cannot decode is a connection error."""
    body = b'{"id":"i","study_id":"s","link":"https://l","status":"open","created_at":"2024-01-01T00:00:00Z"}'

    def handler(_request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json", "content-encoding": coding}
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))

    async with VersiveClient(
        "k", base_url="https://x.test", transport=httpx.MockTransport(handler), max_retries=0
    ) as client:
        if coding.startswith("gzip"):
            with pytest.raises(APIConnectionError, match=r"does not decode as its Content-Encoding \(gzip, identity\)"):
                await client.create_interview(study_id="s")
        else:
            assert (await client.create_interview(study_id="s")).id == "i"


async def test_the_deadline_cuts_an_attempt_short_whatever_its_timeouts(harness: Harness) -> None:
    """A 30 s read timeout, a 0.3 s deadline, a server that answers after 5 s: the deadline ends the attempt."""
    harness.fake.faults.queue(faults.Delay(5.0))
    client = harness.client(timeout=30, deadline=0.3)
    # Had the attempt waited for the answer, the call would have returned the interview.
    with pytest.raises(APITimeoutError, match="ran out of its deadline") as caught:
        await client.create_interview(study_id="study_1")
    assert caught.value.attempts == 1
    assert len(harness.fake.requests) == 1


async def test_derived_clients_share_the_hooks(harness: Harness) -> None:
    """with_options keeps the hooks: a derived client's attempts reach them too."""
    seen: list[int] = []
    client = harness.client(on_attempt=[lambda attempt: seen.append(attempt.number)])
    await client.with_options(max_retries=0).create_interview(study_id="study_1")
    assert seen == [1]


async def test_each_attempt_shows_its_response_headers(harness: Harness) -> None:
    """Attempt.headers: the response's headers, found by any case of name; None when there was no response."""
    seen: list[Attempt] = []
    harness.fake.faults.queue(faults.Status(429, retry_after=0), faults.Reset())
    await harness.client(on_attempt=[seen.append], retry_policy=RetryPolicy.no_wait()).create_interview(
        study_id="study_1"
    )
    refused, reset, created = seen
    assert refused.headers is not None
    assert (refused.status_code, refused.headers["Retry-After"], refused.headers["retry-after"]) == (429, "0", "0")
    assert (reset.status_code, reset.headers) == (None, None)
    assert created.headers is not None
    assert created.headers["CONTENT-TYPE"].startswith("application/json")


async def test_the_pool_timeout_bounds_the_wait_for_a_free_connection(backend: str) -> None:
    """timeout.pool, as documented: with every connection busy, a call gives up after it instead of queueing on."""
    fake = FakeVersive(api_key="k")
    fake.faults.queue(faults.Delay(2.0))
    async with (
        fake.serve() as base_url,
        VersiveClient(
            "k",
            base_url=base_url,
            http_backend=backend,
            max_connections=1,
            timeout=httpx.Timeout(10.0, pool=0.1),
            max_retries=0,
        ) as client,
    ):
        first = asyncio.create_task(client.create_interview(study_id="first"))
        while not fake.requests:  # noqa: ASYNC110 - the fake runs in its own thread
            await asyncio.sleep(0.01)
        with pytest.raises(APITimeoutError, match="timed out"):
            await client.create_interview(study_id="second")
        assert not first.done(), "the second call gave up while the first still held the connection"
        assert (await first).study_id == "first"
    assert len(fake.requests) == 1


async def test_only_posts_and_patches_get_a_key_and_one_given_is_kept(harness: Harness) -> None:
    """A create with its own idempotency_key sends it; a GET sends none (repeating it does no work twice)."""
    client = harness.client(max_retries=0)
    await client.interviews.create(study_id="s", idempotency_key="mine")
    with pytest.raises(APIStatusError):
        await client.interviews.get_by_vid(vid="vid_unknown")
    assert [request.idempotency_key for request in harness.fake.requests] == ["mine", None]


async def test_an_attempts_elapsed_time_is_the_time_that_attempt_took(harness: Harness) -> None:
    """Attempt.elapsed: at least as long as the server kept the attempt waiting, without the wait before a retry."""
    read_timeout, answer_delay, retry_wait = 0.2, 0.05, 0.1
    # The first attempt waits out its read timeout; the retry is answered after a delay.
    harness.fake.faults.queue(faults.Delay(1.0), faults.Delay(answer_delay))
    seen: list[Attempt] = []

    async def sleep(_seconds: float) -> None:  # really wait, so a wait counted into an attempt would show
        await asyncio.sleep(retry_wait)

    client = harness.client(on_attempt=[seen.append], timeout=httpx.Timeout(5.0, read=read_timeout), sleep=sleep)
    started = time.monotonic()
    await client.create_interview(study_id="s")
    took = time.monotonic() - started

    timed_out, answered = seen
    assert isinstance(timed_out.error, APITimeoutError)
    assert answered.status_code == 200
    assert timed_out.elapsed >= read_timeout
    assert answered.elapsed >= answer_delay
    assert timed_out.elapsed + retry_wait + answered.elapsed <= took


async def test_the_deadline_error_says_so_and_keeps_its_cause(harness: Harness) -> None:
    """The message names the deadline; the cause is the scope's TimeoutError."""
    harness.fake.faults.queue(faults.Delay(5.0))
    with pytest.raises(APITimeoutError) as caught:
        await harness.client(deadline=0.2).create_interview(study_id="s")
    assert str(caught.value) == "POST /api/v1/interviews ran out of its deadline"
    assert isinstance(caught.value.__cause__, TimeoutError)


@pytest.mark.parametrize("status", [300, 304])
async def test_a_3xx_is_a_status_error_not_an_answer(status: int) -> None:
    """Only 2xx is success: a 300 (or 304) is an APIStatusError, not retried."""

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"detail": "elsewhere"})

    async with VersiveClient("k", base_url="https://x.test", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.create_interview(study_id="s")
    assert caught.value.status_code == status
    assert caught.value.attempts == 1


INTERVIEW = b'{"id":"i","study_id":"s","link":"https://l","status":"open","created_at":"2024-01-01T00:00:00Z"}'


@pytest.mark.parametrize(
    ("content_type", "error"),
    [
        ("application/json", None),
        ("Application/JSON; charset=utf-8; version=2", None),
        ("application/vnd.versive.interview+json", None),
        ("text/plain", "POST /api/v1/interviews answered 200 with a body that is not JSON (text/plain): {"),
        (None, "POST /api/v1/interviews answered 200 with a body that is not JSON (no content type): {"),
    ],
)
async def test_a_2xx_is_read_only_as_json(content_type: str | None, error: str | None) -> None:
    """JSON media types, with parameters or a +json suffix, are read; anything else is refused, saying what it was."""

    def handler(_request: httpx.Request) -> httpx.Response:
        headers = {} if content_type is None else {"content-type": content_type}
        return httpx.Response(200, headers=headers, content=INTERVIEW)

    async with VersiveClient("k", base_url="https://x.test", transport=httpx.MockTransport(handler)) as client:
        if error is None:
            assert (await client.create_interview(study_id="s")).id == "i"
        else:
            with pytest.raises(APIResponseValidationError) as caught:
                await client.create_interview(study_id="s")
            assert str(caught.value).startswith(error)


async def test_a_retry_after_at_the_cap_is_waited(harness: Harness) -> None:
    """Retry-After equal to retry_after_max is honoured; only longer ones fail at once."""
    harness.fake.faults.queue(faults.Status(429, retry_after=7))
    await harness.client(retry_policy=RetryPolicy(retry_after_max=7)).create_interview(study_id="s")
    assert harness.sleeps == [7.0]


async def test_a_retry_after_a_timeout_costs_more_of_the_budget(harness: Harness) -> None:
    """A retry after a timeout costs 10 tokens, after another failure 5; a success returns 1."""
    harness.fake.faults.queue(faults.Delay(1.0), faults.Status(503))
    client = harness.client(timeout=httpx.Timeout(5.0, read=0.1))
    await client.create_interview(study_id="s")
    assert client.retry_budget.tokens == 500 - 10 - 5 + 1


async def test_an_exhausted_budget_is_logged(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """When the budget cannot pay for a retry, a DEBUG line says so, with the tokens left."""
    caplog.set_level(logging.DEBUG, logger="versive_client")
    client = harness.client()
    client.retry_budget.__init__(capacity=3)  # type: ignore[misc]
    harness.fake.faults.queue(faults.Status(503))
    with pytest.raises(InternalServerError):
        await client.create_interview(study_id="s")
    assert "retry budget exhausted (3 tokens left): not retrying" in [r.getMessage() for r in caplog.records]


async def test_log_lines_name_the_outcome_of_each_attempt(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """One DEBUG line per attempt: the status, or the error's type when there was no response; retrying or not."""
    caplog.set_level(logging.DEBUG, logger="versive_client")
    harness.fake.faults.queue(faults.Reset(), faults.NotJson())
    with pytest.raises(APIResponseValidationError):
        await harness.client(retry_policy=RetryPolicy.no_wait()).create_interview(study_id="s")
    assert [r.getMessage() for r in caplog.records if r.name == "versive_client"] == [
        "POST /api/v1/interviews -> APIConnectionError (attempt 1, retrying in 0.00s)",
        "POST /api/v1/interviews -> APIResponseValidationError (attempt 2, not retried)",
    ]


async def test_a_connection_error_names_the_request() -> None:
    """The message starts with the method and path, as every error's does."""
    broken = _Broken()
    async with VersiveClient("k", base_url="https://x.test", transport=broken, max_retries=0) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.create_interview(study_id="study_1")
    assert (
        str(caught.value) == "POST /api/v1/interviews failed: ZeroDivisionError: a bug while sending /api/v1/interviews"
    )


async def test_every_exception_chained_to_a_cause_loses_its_frames() -> None:
    """A cause whose __cause__ and __context__ differ, and a chain that loops: no frame is kept, and nothing hangs."""

    def fail(message: str) -> Exception:
        try:
            raise ValueError(message)  # noqa: TRY301 - an exception with a traceback
        except ValueError as exc:
            return exc

    explicit, implicit, looping = fail("explicit"), fail("implicit"), fail("looping")
    looping.__context__ = implicit
    implicit.__context__ = looping

    def handler(_request: httpx.Request) -> httpx.Response:
        error = httpx.ReadError("reset")
        error.__cause__, error.__context__ = explicit, implicit
        raise error

    async with VersiveClient(
        "k", base_url="https://x.test", transport=httpx.MockTransport(handler), max_retries=0
    ) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.create_interview(study_id="s")
    cause = caught.value.__cause__
    assert cause is not None
    assert [cause.__traceback__, explicit.__traceback__, implicit.__traceback__, looping.__traceback__] == [None] * 4


async def test_waits_use_anyio_sleep_unless_told_otherwise() -> None:
    """Without sleep=..., a retry really waits (anyio.sleep), on the client and a derived one alike."""
    fake = FakeVersive(api_key="k")
    waits: list[float | None] = []
    async with VersiveClient(
        "k",
        base_url="https://x.test",
        transport=fake.transport(),
        retry_policy=RetryPolicy(backoff_initial=0.05, jitter=0),
        on_attempt=[lambda attempt: waits.append(attempt.wait)],
    ) as client:
        fake.faults.queue(faults.Status(503), faults.Status(503))
        started = time.monotonic()
        await client.create_interview(study_id="s")
        took = time.monotonic() - started
        fake.faults.queue(faults.Status(503))
        started = time.monotonic()
        await client.with_options(max_retries=1).create_interview(study_id="s")
        derived_took = time.monotonic() - started
    assert waits == [0.05, 0.1, None, 0.05, None]
    assert took >= 0.05 + 0.1
    assert derived_took >= 0.05
    assert len(fake.requests) == 5


async def test_a_derived_client_waits_with_the_same_sleep(harness: Harness) -> None:
    """with_options keeps the client's sleep: a test's recorder sees the derived client's waits too."""
    harness.fake.faults.queue(faults.Status(503, retry_after=2))
    await harness.client().with_options(max_retries=1).create_interview(study_id="s")
    assert harness.sleeps == [2.0]


async def test_closed_says_what_closed_it(harness: Harness) -> None:
    """The closed error says why a derived client is closed too."""
    client = harness.client()
    await client.aclose()
    with pytest.raises(RuntimeError) as caught:
        await client.create_interview(study_id="s")
    assert str(caught.value) == ("this VersiveClient is closed (closing a client closes the clients derived from it)")


async def test_a_request_is_shown_by_method_and_url() -> None:
    """A request's repr is its method and URL; its headers never hold the key (the backend adds it as it sends)."""
    assert repr(Request("POST", "https://x.test/p", {"user-agent": "ua"}, b"{}")) == "<Request POST https://x.test/p>"


async def test_a_derived_clients_raw_responses_have_its_options(harness: Harness) -> None:
    """with_options(...).with_raw_response sends with the derived options: here, no retry."""
    harness.fake.faults.queue(faults.Status(503))
    derived = harness.client(max_retries=3).with_options(max_retries=0)
    with pytest.raises(InternalServerError) as caught:
        await call(derived, "raw response")
    assert caught.value.attempts == 1
    assert len(harness.fake.requests) == 1
