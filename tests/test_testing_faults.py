"""versive_client.testing.faults: every fault kind, scripted or drawn, in-process and on loopback."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from typing import TYPE_CHECKING

import httpx
import pytest
from conftest import AUTH, PATH

from versive_client.models import Interview
from versive_client.testing import FakeVersive, faults

if TYPE_CHECKING:
    from versive_client.testing.faults import Fault

pytestmark = pytest.mark.asyncio

FakeHttp = tuple[FakeVersive, httpx.AsyncClient]
BODY = {"study_id": "s"}


async def create(client: httpx.AsyncClient, key: str = "k") -> httpx.Response:
    """POST a valid create-interview request with an idempotency key."""
    return await client.post(PATH, headers={**AUTH, "Idempotency-Key": key}, json=BODY)


async def test_a_status_fault_answers_without_reaching_the_api(fake_http: FakeHttp) -> None:
    """Status(503, retry_after=2): a 503 with a JSON detail and Retry-After: 2; nothing created."""
    fake, client = fake_http
    fake.faults.queue(faults.Status(503, retry_after=2))
    response = await create(client)
    assert response.status_code == 503
    assert response.json() == {"detail": "Service Unavailable"}
    assert response.headers["retry-after"] == "2"
    assert fake.interviews == []
    assert fake.fired == [faults.Status(503, retry_after=2)]


async def test_retry_after_can_be_an_http_date(fake_http: FakeHttp) -> None:
    """A datetime retry_after is sent as an IMF-fixdate in GMT."""
    fake, client = fake_http
    when = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    fake.faults.queue(faults.Status(429, retry_after=when))
    response = await create(client)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "Wed, 02 Jan 2030 01:04:05 GMT"
    assert email.utils.parsedate_to_datetime(response.headers["retry-after"]) == when


async def test_a_status_fault_without_retry_after_sends_none(fake_http: FakeHttp) -> None:
    """Without retry_after there is no Retry-After header."""
    fake, client = fake_http
    fake.faults.queue(faults.Status(500))
    response = await create(client)
    assert response.status_code == 500
    assert "retry-after" not in response.headers


async def test_a_reset_fails_the_read_and_creates_nothing(fake_http: FakeHttp) -> None:
    """Reset(): the client sees the connection reset (httpx.ReadError); the API never saw the request."""
    fake, client = fake_http
    fake.faults.queue(faults.Reset())
    with pytest.raises(httpx.ReadError):
        await create(client)
    assert fake.interviews == []
    assert fake.requests[0].status is None
    assert (await create(client, key="after")).status_code == 200, "the next request is answered"


async def test_an_html_bad_gateway(fake_http: FakeHttp) -> None:
    """HtmlBadGateway(): a 502 whose body is a proxy's HTML page; nothing created."""
    fake, client = fake_http
    fake.faults.queue(faults.HtmlBadGateway())
    response = await create(client)
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert response.text.startswith("<html>")
    assert fake.interviews == []


async def test_a_delay_beyond_the_read_timeout_times_out_after_creating(fake_http: FakeHttp) -> None:
    """Delay(): the interview is created at once; a client with a shorter read timeout times out."""
    fake, client = fake_http
    fake.faults.queue(faults.Delay(5.0))
    with pytest.raises(httpx.ReadTimeout):
        await client.post(PATH, headers=AUTH, json=BODY, timeout=httpx.Timeout(5.0, read=0.05))
    assert len(fake.interviews) == 1, "the request reached the API before the response was held back"


async def test_a_short_delay_still_answers(fake_http: FakeHttp) -> None:
    """A delay shorter than the timeout only holds the response back."""
    fake, client = fake_http
    fake.faults.queue(faults.Delay(0.01))
    response = await create(client)
    assert response.status_code == 200
    assert fake.fired == [faults.Delay(0.01)]


async def test_a_body_closed_half_way(fake_http: FakeHttp) -> None:
    """CloseMidBody(): 200 headers arrive, then reading the body fails; the interview exists."""
    fake, client = fake_http
    fake.faults.queue(faults.CloseMidBody())
    async with client.stream("POST", PATH, headers=AUTH, json=BODY) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await response.aread()
    assert len(fake.interviews) == 1


@pytest.mark.parametrize(
    ("fault", "framing"),
    [(faults.TruncatedChunked(), "transfer-encoding"), (faults.WrongContentLength(extra=5), "content-length")],
    ids=["truncated-chunked", "wrong-content-length"],
)
async def test_a_body_that_ends_before_its_framing_says(fake_http: FakeHttp, fault: Fault, framing: str) -> None:
    """TruncatedChunked() (chunked, no last chunk) and WrongContentLength() (a length beyond the body), then a close."""
    fake, client = fake_http
    fake.faults.queue(fault)
    async with client.stream("POST", PATH, headers=AUTH, json=BODY) as response:
        assert response.status_code == 200
        assert framing in response.headers
        with pytest.raises(httpx.RemoteProtocolError, match="peer closed connection without sending complete"):
            await response.aread()
    assert len(fake.interviews) == 1


async def test_a_body_that_lies_about_its_encoding(fake_http: FakeHttp) -> None:
    """BadContentEncoding(): Content-Encoding: gzip on a plain body; httpx cannot decode it; the interview exists."""
    fake, client = fake_http
    fake.faults.queue(faults.BadContentEncoding())
    async with client.stream("POST", PATH, headers=AUTH, json=BODY) as response:
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        raw = b"".join([part async for part in response.aiter_raw()])
    assert json.loads(raw)["study_id"] == "s", "the body itself is the plain interview"
    fake.faults.queue(faults.BadContentEncoding())
    with pytest.raises(httpx.DecodingError):
        await create(client)
    assert len(fake.interviews) == 2


async def test_a_status_that_lies_about_its_encoding_reaches_no_api(fake_http: FakeHttp) -> None:
    """BadContentEncoding(status=503): a 503 whose body is not the gzip it claims; nothing created."""
    fake, client = fake_http
    fake.faults.queue(faults.BadContentEncoding(status=503))
    async with client.stream("POST", PATH, headers=AUTH, json=BODY) as response:
        assert response.status_code == 503
        raw = b"".join([part async for part in response.aiter_raw()])
    assert json.loads(raw) == {"detail": "Service Unavailable"}
    assert fake.interviews == []


async def test_a_200_that_is_not_json(fake_http: FakeHttp) -> None:
    """NotJson(): a 200 with an HTML body; the interview exists."""
    fake, client = fake_http
    fake.faults.queue(faults.NotJson())
    response = await create(client)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert len(fake.interviews) == 1


async def test_a_200_missing_a_required_field(fake_http: FakeHttp) -> None:
    """MissingField('created_at'): the 200 body lacks the field and does not parse; the interview exists."""
    fake, client = fake_http
    fake.faults.queue(faults.MissingField("created_at"))
    response = await create(client)
    assert response.status_code == 200
    body = response.json()
    assert "created_at" not in body
    assert {"id", "link", "status", "study_id"} <= set(body)
    with pytest.raises(KeyError):
        Interview.from_dict(body)
    assert len(fake.interviews) == 1


async def test_body_faults_leave_a_refused_request_refused(fake_http: FakeHttp) -> None:
    """NotJson and MissingField only alter a successful answer: a 401 stays a 401."""
    fake, client = fake_http
    fake.faults.queue(faults.NotJson(), faults.MissingField("id"))
    assert (await client.post(PATH, json=BODY)).json() == {"detail": "Not authenticated"}
    assert (await client.post(PATH, json=BODY)).status_code == 401


async def test_the_queue_is_used_in_order_then_requests_are_answered(fake_http: FakeHttp) -> None:
    """queue(a, None, b): the first request gets a, the second nothing, the third b, then none."""
    fake, client = fake_http
    fake.faults.queue(faults.Status(503), None, faults.Status(429))
    statuses = [(await create(client, key=str(i))).status_code for i in range(4)]
    assert statuses == [503, 200, 429, 200]
    assert fake.faults.pending == ()


async def test_attempts_and_fired_tell_what_happened(fake_http: FakeHttp) -> None:
    """A test can ask how many attempts a key took and which faults fired."""
    fake, client = fake_http
    fake.faults.queue(faults.Status(502), faults.HtmlBadGateway())
    for _ in range(3):
        response = await create(client, key="retried")
    assert response.status_code == 200
    assert fake.attempts("retried") == 3
    assert fake.attempts("never-sent") == 0
    assert fake.fired == [faults.Status(502), faults.HtmlBadGateway()]
    assert [r.fault for r in fake.requests] == [faults.Status(502), faults.HtmlBadGateway(), None]


def fault_sequence(seed: int, n: int = 200) -> list[Fault | None]:
    """The faults a fake with this seed draws for n requests under two rules."""
    plan = FakeVersive(seed=seed).faults
    plan.add_rule(faults.Status(503), probability=0.2)
    plan.add_rule(faults.Reset(), probability=0.1)
    return [plan.next_fault() for _ in range(n)]


async def test_rules_are_seeded_and_reproducible() -> None:
    """The same seed draws the same faults; another seed draws others."""
    assert fault_sequence(7) == fault_sequence(7)
    assert fault_sequence(7) != fault_sequence(8)
    drawn = fault_sequence(7)
    assert faults.Status(503) in drawn
    assert faults.Reset() in drawn
    assert None in drawn


async def test_probability_zero_never_and_one_always() -> None:
    """Probability 0 never fires, 1 always does; the queue goes first."""
    plan = FakeVersive().faults
    plan.add_rule(faults.Status(500), probability=0.0)
    assert {plan.next_fault() for _ in range(100)} == {None}
    plan.add_rule(faults.NotJson(), probability=1.0)
    plan.queue(faults.Reset())
    assert plan.next_fault() == faults.Reset()
    assert {plan.next_fault() for _ in range(100)} == {faults.NotJson()}
    plan.clear()
    assert plan.next_fault() is None


async def test_rules_fire_on_the_server(fake_http: FakeHttp) -> None:
    """A probability-1 rule applies to every request that reaches the fake."""
    fake, client = fake_http
    fake.faults.add_rule(faults.Status(503), probability=1.0)
    assert [(await create(client, key=str(i))).status_code for i in range(3)] == [503, 503, 503]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: faults.Status(99), "status must be an HTTP status code"),
        (lambda: faults.Status(503, retry_after=-1), "retry_after must be >= 0"),
        (lambda: faults.Status(503, retry_after=dt.datetime(2030, 1, 1)), "must be timezone-aware"),  # noqa: DTZ001
        (lambda: faults.Delay(-0.5), "seconds must be >= 0"),
        (lambda: faults.WrongContentLength(extra=0), "extra must be >= 1 byte"),
        (lambda: faults.BadContentEncoding(status=600), "status must be an HTTP status code"),
        (lambda: FakeVersive().faults.add_rule(faults.Reset(), probability=1.5), "probability must be between"),
    ],
)
async def test_bad_fault_arguments_are_refused(make: object, message: str) -> None:
    """Fault arguments are checked when the fault is made, with a message naming the problem."""
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


async def test_queueing_something_that_is_not_a_fault_is_refused() -> None:
    """A typo such as queue(503) fails at once instead of being ignored."""
    with pytest.raises(TypeError, match="not a fault: 503"):
        FakeVersive().faults.queue(503)  # type: ignore[arg-type]
