"""versive_client.testing.FakeVersive: the API's behaviour, in-process and on loopback alike."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

import anyio
import httpx
import pytest
from conftest import AUTH, KEY, PATH

from versive_client.models import Interview
from versive_client.testing import FakeVersive, RateLimit

pytestmark = pytest.mark.asyncio


async def test_a_valid_request_creates_an_interview(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """200 with the Interview shape: fresh UUID, the given fields, the documented link, open, now in UTC."""
    fake, client = fake_http
    before = dt.datetime.now(dt.UTC)
    response = await client.post(
        PATH, headers=AUTH, json={"study_id": "study_123", "title": "Onboarding", "metadata": {"p": "p-42"}}
    )
    after = dt.datetime.now(dt.UTC)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"id", "title", "study_id", "metadata", "link", "status", "created_at"}
    assert uuid.UUID(body["id"]).version == 4
    assert (body["study_id"], body["title"], body["metadata"], body["status"]) == (
        "study_123",
        "Onboarding",
        {"p": "p-42"},
        "open",
    )
    assert re.fullmatch(r"https://getversive\.com/s/study_123\?vid=vid_[0-9a-f]{16}", body["link"])
    assert body["created_at"].endswith("Z")
    interview = Interview.from_dict(body)
    assert before <= interview.created_at <= after
    assert [i.to_dict() for i in fake.interviews] == [interview.to_dict()]


async def test_defaults_title_null_and_metadata_empty(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """Without title and metadata the interview has `title: null` and `metadata: {}`."""
    _, client = fake_http
    body = (await client.post(PATH, headers=AUTH, json={"study_id": "s"})).json()
    assert body["title"] is None
    assert body["metadata"] == {}
    body = (await client.post(PATH, headers=AUTH, json={"study_id": "s", "metadata": None})).json()
    assert body["metadata"] == {}


async def test_every_interview_is_new(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """Two creates give two ids and two links; the store keeps both in order."""
    fake, client = fake_http
    first = (await client.post(PATH, headers=AUTH, json={"study_id": "s"})).json()
    second = (await client.post(PATH, headers=AUTH, json={"study_id": "s"})).json()
    assert first["id"] != second["id"]
    assert first["link"] != second["link"]
    assert [i.id for i in fake.interviews] == [first["id"], second["id"]]


async def test_a_study_id_is_escaped_in_the_link(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """A study id with spaces or slashes still gives a valid link."""
    _, client = fake_http
    body = (await client.post(PATH, headers=AUTH, json={"study_id": "a b/c"})).json()
    assert body["link"].startswith("https://getversive.com/s/a%20b%2Fc?vid=")


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Not authenticated"),
        ({"Authorization": "Bearer"}, "Not authenticated"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Not authenticated"),
        ({"Authorization": "Bearer wrong-key"}, "Invalid authentication credentials"),
    ],
)
async def test_missing_or_wrong_bearer_is_401(
    fake_http: tuple[FakeVersive, httpx.AsyncClient], headers: dict[str, str], detail: str
) -> None:
    """No or wrong credentials: 401 with a JSON detail and a Bearer challenge; nothing created."""
    fake, client = fake_http
    response = await client.post(PATH, headers=headers, json={"study_id": "s"})
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["www-authenticate"] == "Bearer"
    assert fake.interviews == []


async def test_any_non_empty_bearer_is_accepted_without_an_api_key() -> None:
    """FakeVersive() with no api_key takes any bearer token."""
    fake = FakeVersive()
    async with httpx.AsyncClient(base_url="https://fake.versive.test", transport=fake.transport()) as client:
        response = await client.post(PATH, headers={"Authorization": "Bearer anything"}, json={"study_id": "s"})
    assert response.status_code == 200


def problem(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    """One HTTPValidationError entry."""
    return {"loc": loc, "msg": msg, "type": kind}


MISSING = ("field required", "value_error.missing")
NOT_STR = ("str type expected", "type_error.str")
NOT_DICT = ("value is not a valid dict", "type_error.dict")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({}, [problem(["body", "study_id"], *MISSING)], id="missing-study-id"),
        pytest.param({"study_id": 123}, [problem(["body", "study_id"], *NOT_STR)], id="study-id-int"),
        pytest.param(
            {"study_id": None},
            [problem(["body", "study_id"], "none is not an allowed value", "type_error.none.not_allowed")],
            id="study-id-null",
        ),
        pytest.param({"study_id": "s", "metadata": []}, [problem(["body", "metadata"], *NOT_DICT)], id="metadata-list"),
        pytest.param({"study_id": "s", "metadata": "x"}, [problem(["body", "metadata"], *NOT_DICT)], id="metadata-str"),
        pytest.param({"study_id": "s", "language": 1}, [problem(["body", "language"], *NOT_STR)], id="language-int"),
        pytest.param({"study_id": "s", "title": True}, [problem(["body", "title"], *NOT_STR)], id="title-bool"),
        pytest.param(
            {"title": 1, "metadata": 2, "language": [], "extra": "ignored"},
            [
                problem(["body", "study_id"], *MISSING),
                problem(["body", "metadata"], *NOT_DICT),
                problem(["body", "language"], *NOT_STR),
                problem(["body", "title"], *NOT_STR),
            ],
            id="one-entry-per-problem",
        ),
        pytest.param([], [problem(["body"], *NOT_DICT)], id="not-an-object"),
    ],
)
async def test_invalid_bodies_are_422_with_field_locations(
    fake_http: tuple[FakeVersive, httpx.AsyncClient], body: Any, expected: list[dict[str, Any]]
) -> None:
    """Each problem is one HTTPValidationError entry whose `loc` points at the field."""
    fake, client = fake_http
    response = await client.post(PATH, headers=AUTH, json=body)
    assert response.status_code == 422
    assert response.json() == {"detail": expected}
    assert fake.interviews == []


async def test_a_body_that_is_not_json_is_422(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """Malformed JSON gives a jsondecode entry at the body position where parsing failed."""
    _, client = fake_http
    response = await client.post(PATH, headers={**AUTH, "Content-Type": "application/json"}, content=b'{"study_id": ')
    assert response.status_code == 422
    (entry,) = response.json()["detail"]
    assert entry["loc"] == ["body", 13]
    assert entry["type"] == "value_error.jsondecode"
    assert entry["msg"].startswith("Expecting value")


@pytest.mark.parametrize(
    ("content_type", "content", "expected"),
    [
        ("text/plain", b'{"study_id": "s"}', problem(["body"], *NOT_DICT)),
        ("application/x-www-form-urlencoded", b"study_id=s", problem(["body"], *NOT_DICT)),
        ("application/json", b"", problem(["body"], *MISSING)),
    ],
)
async def test_a_wrong_content_type_or_empty_body_is_422(
    fake_http: tuple[FakeVersive, httpx.AsyncClient], content_type: str, content: bytes, expected: dict[str, Any]
) -> None:
    """A non-JSON content type or an empty body is refused at `body`."""
    _, client = fake_http
    response = await client.post(PATH, headers={**AUTH, "Content-Type": content_type}, content=content)
    assert response.status_code == 422
    assert response.json() == {"detail": [expected]}


async def test_json_media_type_variants_are_accepted(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """`application/json; charset=utf-8` is JSON too."""
    _, client = fake_http
    response = await client.post(
        PATH, headers={**AUTH, "Content-Type": "application/json; charset=utf-8"}, content=b'{"study_id": "s"}'
    )
    assert response.status_code == 200


async def test_auth_is_checked_before_the_body(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """An invalid body without credentials is a 401, as FastAPI's security dependency decides first."""
    _, client = fake_http
    assert (await client.post(PATH, json={})).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "status", "detail"),
    [
        ("GET", PATH, 405, "Method Not Allowed"),
        ("DELETE", PATH, 405, "Method Not Allowed"),
        ("GET", "/", 404, "Not Found"),
        ("POST", "/api/v1/interview", 404, "Not Found"),
        ("POST", "/api/v2/interviews", 404, "Not Found"),
    ],
)
async def test_other_paths_and_methods(
    fake_http: tuple[FakeVersive, httpx.AsyncClient], method: str, path: str, status: int, detail: str
) -> None:
    """Anything else is 404 or 405 with a JSON detail, as FastAPI answers."""
    _, client = fake_http
    response = await client.request(method, path, headers=AUTH)
    assert response.status_code == status
    assert response.json() == {"detail": detail}
    if status == 405:
        assert response.headers["allow"] == "POST"


async def test_a_query_string_does_not_change_the_route(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """The route is matched on the path alone."""
    _, client = fake_http
    response = await client.post(PATH, params={"x": "1"}, headers=AUTH, json={"study_id": "s"})
    assert response.status_code == 200


async def test_requests_are_recorded_with_authorization_redacted(
    fake_http: tuple[FakeVersive, httpx.AsyncClient],
) -> None:
    """Method, path, headers (Authorization value redacted) and parsed body of every request."""
    fake, client = fake_http
    await client.post(PATH, headers={**AUTH, "Idempotency-Key": "k-1"}, json={"study_id": "s"})
    await client.get("/nope")

    first, second = fake.requests
    assert (first.method, first.path, first.body, first.status, first.fault) == (
        "POST",
        PATH,
        {"study_id": "s"},
        200,
        None,
    )
    assert first.headers["authorization"] == "[redacted]"
    assert first.idempotency_key == "k-1"
    assert KEY not in repr(fake.requests)
    assert KEY not in repr(fake)
    assert (second.method, second.path, second.body, second.status) == ("GET", "/nope", None, 404)


async def test_a_text_body_is_recorded_as_text(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """A body that is not JSON is kept as text."""
    fake, client = fake_http
    await client.post(PATH, headers={**AUTH, "Content-Type": "text/plain"}, content=b"hello")
    assert fake.requests[0].body == "hello"


async def test_the_same_idempotency_key_and_body_replays_the_interview(
    fake_http: tuple[FakeVersive, httpx.AsyncClient],
) -> None:
    """A repeated key with the same body returns the first interview, not a new one."""
    fake, client = fake_http
    headers = {**AUTH, "Idempotency-Key": "same"}
    first = await client.post(PATH, headers=headers, json={"study_id": "s", "title": "t"})
    again = await client.post(PATH, headers=headers, content=json.dumps({"title": "t", "study_id": "s"}).encode())
    assert again.status_code == 200
    assert again.json() == first.json()
    assert len(fake.interviews) == 1
    assert fake.attempts("same") == 2


async def test_the_same_idempotency_key_with_another_body_is_refused(
    fake_http: tuple[FakeVersive, httpx.AsyncClient],
) -> None:
    """Reusing a key for a different body is a 422 that names the header."""
    fake, client = fake_http
    headers = {**AUTH, "Idempotency-Key": "same"}
    await client.post(PATH, headers=headers, json={"study_id": "s"})
    response = await client.post(PATH, headers=headers, json={"study_id": "other"})
    assert response.status_code == 422
    (entry,) = response.json()["detail"]
    assert entry["loc"] == ["header", "Idempotency-Key"]
    assert "different request body" in entry["msg"]
    assert len(fake.interviews) == 1


async def test_idempotency_keys_are_separate_per_api_key() -> None:
    """The same key under two bearer tokens creates two interviews."""
    fake = FakeVersive()
    async with httpx.AsyncClient(base_url="https://fake.versive.test", transport=fake.transport()) as client:
        for token in ("a", "b"):
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
            await client.post(PATH, headers=headers, json={"study_id": "s"})
    assert len(fake.interviews) == 2


async def test_different_keys_create_different_interviews(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """Without a shared key, the same body creates a new interview each time."""
    fake, client = fake_http
    for key in ("a", "b"):
        await client.post(PATH, headers={**AUTH, "Idempotency-Key": key}, json={"study_id": "s"})
    assert len(fake.interviews) == 2


async def test_reset_forgets_everything(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """reset() empties the store, the request log and the idempotency keys."""
    fake, client = fake_http
    headers = {**AUTH, "Idempotency-Key": "k"}
    await client.post(PATH, headers=headers, json={"study_id": "s"})
    fake.reset()
    assert (fake.interviews, fake.requests) == ([], [])
    await client.post(PATH, headers=headers, json={"study_id": "other"})
    assert len(fake.interviews) == 1


async def test_an_empty_api_key_is_refused() -> None:
    """FakeVersive(api_key='') is an error: it would accept nothing and explain nothing."""
    with pytest.raises(ValueError, match="api_key must be a non-empty string"):
        FakeVersive(api_key=" ")


async def test_the_loopback_server_keeps_connections_alive() -> None:
    """Several requests reuse one connection, and the server stops cleanly with it open."""
    fake = FakeVersive()
    async with fake.serve() as base_url, httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(3):
            response = await client.post(PATH, headers={"Authorization": "Bearer x"}, json={"study_id": "s"})
            assert response.status_code == 200
    assert len(fake.interviews) == 3


async def test_two_servers_get_two_ports() -> None:
    """Port 0 picks a free ephemeral port each time."""
    first, second = FakeVersive(), FakeVersive()
    async with first.serve() as url_1, second.serve() as url_2:
        assert url_1 != url_2


async def test_a_rate_limit_refuses_above_it_before_the_api(fake_http: tuple[FakeVersive, httpx.AsyncClient]) -> None:
    """RateLimit(burst=3): a fourth request at once is refused 429 with Retry-After, not created, and recorded."""
    fake, client = fake_http
    fake.rate_limit = RateLimit(0.5, burst=3)
    fake.reset()
    answers = [await client.post(PATH, headers=AUTH, json={"study_id": "s"}) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    refused = answers[3]
    assert refused.json() == {"detail": "Too Many Requests"}
    assert refused.headers["retry-after"] == "2", "a token frees in 2 s at half a request a second"
    assert len(fake.interviews) == 3
    assert fake.requests[3].status == 429
    assert fake.requests[3].fault is None


async def test_a_rate_limit_states_itself_in_headers_unless_told_not_to(
    fake_http: tuple[FakeVersive, httpx.AsyncClient],
) -> None:
    """Every answer states the limit as the IETF draft and as X-RateLimit-*; with headers=False, none does."""
    fake, client = fake_http
    fake.rate_limit = RateLimit(200, burst=20)
    fake.reset()
    answer = await client.post(PATH, headers=AUTH, json={"study_id": "s"})
    assert answer.headers["ratelimit-policy"] == '"default";q=200;w=1'
    assert answer.headers["ratelimit"] == '"default";r=19;t=1'
    assert (answer.headers["x-ratelimit-limit"], answer.headers["x-ratelimit-remaining"]) == ("200", "19")
    assert answer.headers["x-ratelimit-reset"] == "1"
    fake.rate_limit = RateLimit(200, burst=20, headers=False)
    quiet = await client.post(PATH, headers=AUTH, json={"study_id": "s"})
    assert not [name for name in quiet.headers if "ratelimit" in name]


async def test_the_limit_refills_as_time_passes() -> None:
    """Tokens come back at the limit's rate: a refused client that waits is served."""
    fake = FakeVersive(api_key=KEY, rate_limit=RateLimit(50, burst=1))
    async with httpx.AsyncClient(base_url="https://fake.versive.test", transport=fake.transport()) as client:
        first = await client.post(PATH, headers=AUTH, json={"study_id": "s"})
        second = await client.post(PATH, headers=AUTH, json={"study_id": "s"})
        await anyio.sleep(0.05)
        third = await client.post(PATH, headers=AUTH, json={"study_id": "s"})
    assert [first.status_code, second.status_code, third.status_code] == [200, 429, 200]


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: RateLimit(0), ValueError, "per_second must be > 0, got 0"),
        (lambda: RateLimit(10, burst=0), ValueError, "burst must be >= 1, got 0"),
        (lambda: FakeVersive(rate_limit=10), TypeError, "rate_limit must be a RateLimit or None, got int"),  # type: ignore[arg-type]
    ],
)
async def test_bad_rate_limits_are_refused(make: Any, error: type[Exception], message: str) -> None:
    """A limit that cannot be is refused when it is made, naming the field."""
    with pytest.raises(error, match=message):
        make()
