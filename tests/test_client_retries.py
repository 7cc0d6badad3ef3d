"""VersiveClient under faults: the retry matrix, Retry-After, deadlines, the budget, idempotency, errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import gzip
import json
import logging
import time
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from versive_client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    Attempt,
    AuthenticationError,
    ConflictError,
    InternalServerError,
    RateLimitError,
    RetryBudget,
    RetryPolicy,
    UnprocessableEntityError,
    VersiveClient,
)
from versive_client.testing import FakeVersive, faults

if TYPE_CHECKING:
    from conftest import Harness

    from versive_client import VersiveError
    from versive_client.testing.faults import Fault

pytestmark = pytest.mark.asyncio

RETRYABLE: dict[str, tuple[Fault, type[VersiveError]]] = {
    "reset": (faults.Reset(), APIConnectionError),
    "mid-body": (faults.CloseMidBody(), APIConnectionError),
    "html-502": (faults.HtmlBadGateway(), InternalServerError),
    "408": (faults.Status(408), APIStatusError),
    "429": (faults.Status(429), RateLimitError),
    "500": (faults.Status(500), InternalServerError),
    "502": (faults.Status(502), InternalServerError),
    "503": (faults.Status(503), InternalServerError),
    "504": (faults.Status(504), InternalServerError),
}


@pytest.mark.parametrize("failures", [0, 1, 2])
@pytest.mark.parametrize("kind", list(RETRYABLE))
async def test_retryable_failures_then_success(harness: Harness, kind: str, failures: int) -> None:
    """K ≤ max_retries failures of any retryable kind, then success: one interview, k+1 attempts, one key."""
    fault, _ = RETRYABLE[kind]
    harness.fake.faults.queue(*[fault] * failures)
    client = harness.client(max_retries=2)

    interview = await client.create_interview(study_id="study_1")

    assert [i.id for i in harness.fake.interviews] == [interview.id]
    keys = {request.idempotency_key for request in harness.fake.requests}
    assert len(keys) == 1
    (key,) = keys
    assert key is not None
    assert harness.fake.attempts(key) == failures + 1
    assert [r.headers["x-versive-retry-count"] for r in harness.fake.requests] == [str(n) for n in range(failures + 1)]
    assert len(harness.sleeps) == failures


@pytest.mark.parametrize("kind", list(RETRYABLE))
async def test_more_failures_than_retries_raise_the_typed_error(harness: Harness, kind: str) -> None:
    """max_retries+1 failures: the kind's typed error, counting every attempt."""
    fault, error_class = RETRYABLE[kind]
    harness.fake.faults.queue(*[fault] * 3)
    client = harness.client(max_retries=2)

    with pytest.raises(error_class) as caught:
        await client.create_interview(study_id="study_1")

    assert caught.value.attempts == 3
    assert "after 3 attempts" in str(caught.value)
    assert len(harness.fake.requests) == 3


async def test_a_timeout_is_retried_and_then_raised(harness: Harness) -> None:
    """A delay beyond the read timeout is an APITimeoutError after the retries, with attempts counted."""
    harness.fake.faults.queue(faults.Delay(2.0), faults.Delay(2.0))
    client = harness.client(max_retries=1, timeout=httpx.Timeout(5.0, read=0.05))
    with pytest.raises(APITimeoutError) as caught:
        await client.create_interview(study_id="study_1")
    assert caught.value.attempts == 2
    assert len(harness.fake.interviews) == 1, "both attempts reached the API; the key made them one interview"


async def test_a_timeout_then_success_returns_the_first_interview(harness: Harness) -> None:
    """The timed-out attempt created the interview; the retry, with the same key, gets that one back."""
    harness.fake.faults.queue(faults.Delay(2.0))
    client = harness.client(timeout=httpx.Timeout(5.0, read=0.05))
    interview = await client.create_interview(study_id="study_1")
    assert [i.id for i in harness.fake.interviews] == [interview.id]


@pytest.mark.parametrize("status", [400, 403, 404, 405, 409, 410, 413, 418, 501, 505])
async def test_other_statuses_fail_on_the_first_attempt(harness: Harness, status: int) -> None:
    """Any status outside the retryable set is raised at once (a 409 is a conflict to report)."""
    harness.fake.faults.queue(faults.Status(status))
    client = harness.client(max_retries=5)
    with pytest.raises(APIStatusError) as caught:
        await client.create_interview(study_id="study_1")
    assert caught.value.status_code == status
    assert caught.value.attempts == 1
    assert len(harness.fake.requests) == 1
    if status == 409:
        assert isinstance(caught.value, ConflictError)


async def test_max_retries_zero_disables_retries(harness: Harness) -> None:
    """max_retries=0: the first failure is final."""
    harness.fake.faults.queue(faults.Status(503))
    with pytest.raises(InternalServerError):
        await harness.client(max_retries=0).create_interview(study_id="study_1")
    assert len(harness.fake.requests) == 1


async def test_a_per_call_max_retries_overrides_the_client(harness: Harness) -> None:
    """create_interview(max_retries=...) applies to that call only."""
    harness.fake.faults.queue(*[faults.Status(503)] * 4)
    client = harness.client(max_retries=0)
    interview = await client.create_interview(study_id="study_1", max_retries=4)
    assert interview.study_id == "study_1"
    assert len(harness.fake.requests) == 5


async def test_retry_after_seconds_is_waited(harness: Harness) -> None:
    """Retry-After: 3 replaces the backoff: the client waits exactly 3 s."""
    harness.fake.faults.queue(faults.Status(429, retry_after=3))
    await harness.client().create_interview(study_id="study_1")
    assert harness.sleeps == [3.0]


async def test_retry_after_http_date_is_waited(harness: Harness) -> None:
    """Retry-After as an HTTP-date: the client waits until then (to the second)."""
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
    harness.fake.faults.queue(faults.Status(503, retry_after=when))
    await harness.client().create_interview(study_id="study_1")
    (waited,) = harness.sleeps
    assert 18.0 <= waited <= 20.0


async def test_a_retry_after_beyond_the_cap_fails_fast(harness: Harness) -> None:
    """A server asking for longer than retry_after_max gets the typed error at once, carrying retry_after."""
    harness.fake.faults.queue(faults.Status(429, retry_after=3600))
    with pytest.raises(RateLimitError) as caught:
        await harness.client().create_interview(study_id="study_1")
    assert caught.value.retry_after == 3600.0
    assert caught.value.attempts == 1
    assert harness.sleeps == []


async def test_a_retry_after_beyond_the_deadline_fails_fast(harness: Harness) -> None:
    """A Retry-After longer than the time the deadline leaves fails at once."""
    harness.fake.faults.queue(faults.Status(503, retry_after=30))
    with pytest.raises(InternalServerError) as caught:
        await harness.client(deadline=10).create_interview(study_id="study_1")
    assert caught.value.retry_after == 30.0
    assert harness.sleeps == []


async def test_backoff_grows_and_is_capped(harness: Harness) -> None:
    """Without Retry-After the waits double from 0.5 s, minus up to 25% jitter, capped at backoff_max."""
    harness.fake.faults.queue(*[faults.Status(503)] * 5)
    policy = RetryPolicy(backoff_initial=0.5, backoff_max=2.0)
    await harness.client(max_retries=5, retry_policy=policy).create_interview(study_id="study_1")
    caps = [0.5, 1.0, 2.0, 2.0, 2.0]
    assert len(harness.sleeps) == 5
    for waited, cap in zip(harness.sleeps, caps, strict=True):
        assert cap * 0.75 <= waited <= cap


async def test_no_wait_policy_skips_every_wait(harness: Harness) -> None:
    """RetryPolicy.no_wait(): retries happen, waits are zero, even for Retry-After."""
    harness.fake.faults.queue(faults.Status(503, retry_after=5), faults.Status(503))
    await harness.client(retry_policy=RetryPolicy.no_wait()).create_interview(study_id="study_1")
    assert harness.sleeps == []
    assert len(harness.fake.requests) == 3


async def test_a_per_call_deadline(harness: Harness) -> None:
    """create_interview(deadline=...) bounds that call."""
    harness.fake.faults.queue(faults.Delay(5.0))
    with pytest.raises(APITimeoutError):
        await harness.client().create_interview(study_id="study_1", deadline=0.2)


async def test_the_budget_stops_retries_when_most_calls_fail(harness: Harness) -> None:
    """With every attempt failing, retries stop once the shared budget is spent."""
    harness.fake.faults.add_rule(faults.Status(503), probability=1.0)
    client = harness.client(max_retries=3)
    client.retry_budget.__init__(capacity=20, retry_cost=5)  # type: ignore[misc]
    for _ in range(6):
        with pytest.raises(InternalServerError):
            await client.create_interview(study_id="study_1")
    assert len(harness.fake.requests) == 6 + 4, "four retries paid for, then first attempts only"
    assert client.retry_budget.tokens == 0


async def test_successes_refill_the_budget() -> None:
    """Each success puts a token back, up to capacity."""
    budget = RetryBudget(capacity=10, retry_cost=5)
    assert budget.try_spend(after_timeout=False)
    assert budget.tokens == 5
    budget.refund()
    assert budget.tokens == 6
    assert not budget.try_spend(after_timeout=True), "a timeout retry costs 10"
    for _ in range(20):
        budget.refund()
    assert budget.tokens == 10


async def test_derived_clients_share_the_budget(harness: Harness) -> None:
    """What a derived client's retry spends, its parent and its siblings cannot spend again."""
    client = harness.client(max_retries=1)
    client.retry_budget.__init__(capacity=5, retry_cost=5)  # type: ignore[misc]
    derived = client.with_options(max_retries=1)
    sibling = client.with_options(max_retries=1)
    harness.fake.faults.queue(faults.Status(503))
    await derived.create_interview(study_id="derived")  # its retry spends all 5 tokens; the success gives 1 back
    assert client.retry_budget.tokens == 1

    harness.fake.faults.queue(faults.Status(503), faults.Status(503))
    for each in (client, sibling):
        with pytest.raises(InternalServerError) as caught:
            await each.create_interview(study_id="study_1")
        assert caught.value.attempts == 1, "the budget could not pay for a retry"
    assert len(harness.fake.requests) == 2 + 1 + 1
    await derived.aclose()
    assert (await client.create_interview(study_id="study_1")).status == "open", (
        "closing the derived client keeps the pool"
    )


async def test_the_callers_idempotency_key_is_sent_on_every_attempt(harness: Harness) -> None:
    """idempotency_key=... is the key of every attempt; the fake returns one interview."""
    harness.fake.faults.queue(faults.Status(502), faults.Reset())
    interview = await harness.client().create_interview(study_id="study_1", idempotency_key="batch-7:p-42")
    assert harness.fake.attempts("batch-7:p-42") == 3
    assert [i.id for i in harness.fake.interviews] == [interview.id]


async def test_two_calls_get_two_keys(harness: Harness) -> None:
    """Without a key of the caller's, each call gets its own random key."""
    client = harness.client()
    await client.create_interview(study_id="study_1")
    await client.create_interview(study_id="study_1")
    assert len({r.idempotency_key for r in harness.fake.requests}) == 2
    assert len(harness.fake.interviews) == 2


async def test_a_422_carries_the_parsed_details(harness: Harness) -> None:
    """The API's 422 becomes UnprocessableEntityError with loc, msg and type for each problem."""
    client = harness.client()
    key = "reused"
    await client.create_interview(study_id="study_1", idempotency_key=key)
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.create_interview(study_id="study_2", idempotency_key=key)
    assert caught.value.status_code == 422
    assert caught.value.errors == [
        {
            "loc": ["header", "Idempotency-Key"],
            "msg": "this Idempotency-Key was already used with a different request body",
            "type": "value_error.idempotency_key_reused",
        }
    ]
    assert "header.Idempotency-Key: this Idempotency-Key was already used" in str(caught.value)


async def test_a_wrong_key_is_an_authentication_error(harness: Harness) -> None:
    """401 → AuthenticationError at once, with the API's detail."""
    client = harness.client("wrong-key")
    with pytest.raises(AuthenticationError) as caught:
        await client.create_interview(study_id="study_1")
    assert caught.value.attempts == 1
    assert "Invalid authentication credentials" in str(caught.value)


async def test_a_200_that_is_not_json(harness: Harness) -> None:
    """A 2xx with an HTML body is APIResponseValidationError showing a snippet; not retried."""
    harness.fake.faults.queue(faults.NotJson())
    with pytest.raises(APIResponseValidationError) as caught:
        await harness.client().create_interview(study_id="study_1")
    assert "not JSON" in str(caught.value)
    assert "text/html" in str(caught.value)
    assert "Scheduled maintenance" in str(caught.value)
    assert caught.value.status_code == 200
    assert len(harness.fake.requests) == 1


@pytest.mark.parametrize("field", ["created_at", "id", "link", "status", "study_id"])
async def test_a_200_missing_a_required_field_names_it(harness: Harness, field: str) -> None:
    """A 2xx without a required field is APIResponseValidationError naming the field."""
    harness.fake.faults.queue(faults.MissingField(field))
    with pytest.raises(APIResponseValidationError) as caught:
        await harness.client().create_interview(study_id="study_1")
    assert f"without the required field {field!r}" in str(caught.value)
    assert '{"id"' in str(caught.value) or '"title"' in str(caught.value), "a snippet of the body"


async def test_cancelling_calls_leaves_no_connection_checked_out(backend: str) -> None:
    """Tasks cancelled mid-request return their connections; the next call gets one at once.

    A hundred cancelled calls held every connection of the pool.
    """
    fake = FakeVersive(api_key="k")
    fake.faults.add_rule(faults.Delay(5.0), probability=1.0)
    async with (
        fake.serve() as base_url,
        VersiveClient("k", base_url=base_url, http_backend=backend, timeout=httpx.Timeout(5.0, pool=2.0)) as client,
    ):
        with anyio.move_on_after(0.5) as scope:
            async with anyio.create_task_group() as tasks:
                for n in range(100):
                    tasks.start_soon(functools.partial(client.create_interview, study_id=f"study_{n}"))
        assert scope.cancelled_caught
        fake.faults.clear()
        interview = await client.create_interview(study_id="study_after")
    assert interview.study_id == "study_after"


async def test_a_thousand_concurrent_calls_on_one_client(backend: str) -> None:
    """1,000 concurrent create_interview calls share one client and all succeed with distinct links."""
    fake = FakeVersive(api_key="k")
    async with fake.serve() as base_url, VersiveClient("k", base_url=base_url, http_backend=backend) as client:
        results = []

        async def create(n: int) -> None:
            results.append(await client.create_interview(study_id=f"study_{n % 7}", metadata={"n": n}))

        async with anyio.create_task_group() as tasks:
            for n in range(1000):
                tasks.start_soon(create, n)
    assert len(results) == 1000
    assert len({interview.link for interview in results}) == 1000
    assert len(fake.interviews) == 1000


async def test_an_unreachable_api_is_a_connection_error(backend: str) -> None:
    """Nothing listening: APIConnectionError after the retries."""
    async with FakeVersive().serve() as base_url:
        pass  # the port is free again once the server stops
    async with VersiveClient(
        "k", base_url=base_url, retry_policy=RetryPolicy.no_wait(), http_backend=backend
    ) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.create_interview(study_id="study_1")
    assert caught.value.attempts == 3
    assert not isinstance(caught.value, APITimeoutError)


async def test_https_to_a_server_without_tls_is_a_connection_error(backend: str) -> None:
    """An https base URL whose server does not speak TLS: the handshake fails, nothing is sent in clear."""
    fake = FakeVersive(api_key="k")
    async with fake.serve() as base_url:
        secure_url = base_url.replace("http://", "https://")
        async with VersiveClient("k", base_url=secure_url, max_retries=0, http_backend=backend) as client:
            with pytest.raises(APIConnectionError) as caught:
                await client.create_interview(study_id="study_1")
    assert caught.value.url == f"{secure_url}/api/v1/interviews"
    assert fake.requests == [], "no request got through as plain HTTP"


async def test_every_attempt_reaches_the_on_attempt_hooks(harness: Harness) -> None:
    """Each attempt, retried ones included, reaches every hook: status or error, number, wait, key."""
    answer_delay = 0.05  # the last attempt is answered after it: its elapsed time is at least that
    harness.fake.faults.queue(
        faults.Status(429, retry_after=0), faults.Reset(), faults.Status(503), faults.Delay(answer_delay)
    )
    seen: list[Attempt] = []
    also: list[int] = []
    client = harness.client(max_retries=3, on_attempt=[seen.append, lambda attempt: also.append(attempt.number)])
    started = time.monotonic()
    await client.create_interview(study_id="study_1", idempotency_key="key-1")
    took = time.monotonic() - started
    await client.with_options(max_retries=0).create_interview(study_id="study_2", idempotency_key="key-2")

    assert [(a.number, a.status_code, type(a.error).__name__) for a in seen] == [
        (1, 429, "RateLimitError"),
        (2, None, "APIConnectionError"),
        (3, 503, "InternalServerError"),
        (4, 200, "NoneType"),
        (1, 200, "NoneType"),
    ]
    assert [a.wait for a in seen] == [*harness.sleeps, None, None]
    assert seen[0].retry_after == 0.0
    assert seen[0].wait is not None
    assert seen[0].wait > 0, "Retry-After: 0 gets the backoff, not an instant retry"
    assert [a.idempotency_key for a in seen] == ["key-1"] * 4 + ["key-2"]
    assert {(a.method, a.url) for a in seen} == {("POST", f"{harness.base_url}/api/v1/interviews")}
    assert seen[3].elapsed >= answer_delay
    assert sum(a.elapsed for a in seen[:4]) <= took, "the first call's attempts, each timed on its own"
    assert also == [1, 2, 3, 4, 1]


async def test_a_hook_that_raises_is_logged_and_changes_nothing(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A hook's exception is logged; the interview is still created (once), and the hooks after it still run."""

    def broken(_attempt: Attempt) -> None:
        raise LookupError("hook failed")

    seen: list[int] = []
    client = harness.client(on_attempt=[broken, lambda attempt: seen.append(attempt.number)])
    with caplog.at_level(logging.ERROR, logger="versive_client"):
        interview = await client.create_interview(study_id="study_1")
    assert [i.id for i in harness.fake.interviews] == [interview.id]
    assert seen == [1]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "broken" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], LookupError)


async def test_a_compressed_answer_is_decoded(backend: str) -> None:
    """A gzip-encoded 200 (a proxy may compress) reads as the interview on either backend."""
    interview = {
        "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "study_id": "study_1",
        "link": "https://getversive.com/s/study_1?vid=vid_1",
        "status": "open",
        "created_at": "2024-01-01T00:00:00Z",
    }
    body = gzip.compress(json.dumps(interview).encode())

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, VersiveClient("k", base_url=f"http://127.0.0.1:{port}", http_backend=backend) as client:
        created = await client.create_interview(study_id="study_1")
    assert created.link == interview["link"]
